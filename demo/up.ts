/**
 * `make up`: the demo environment, left running, and what to type next. `make down` stops it.
 *
 *   node demo/up.ts                        the LLM simulator stands in for the provider
 *   PROMETHEUS=1 node demo/up.ts           Prometheus too, scraping the agent and the operator
 *   ANTHROPIC_API_KEY=… node demo/up.ts    the real API instead of the simulator
 */
import { nextSteps } from './nextSteps.ts';
import { startEnvironment } from './environment.ts';
import { Interrupted } from './interrupts.ts';
import { errorText } from './errorText.ts';
import { onInterrupt } from './interrupts.ts';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<number> {
  const interrupts = onInterrupt(say);
  const apiKey = process.env['ANTHROPIC_API_KEY'];
  try {
    // On failure or Ctrl-C, startEnvironment stops what it had started before it throws.
    const environment = await startEnvironment({
      purpose: 'up',
      anthropicApiKey: apiKey === undefined || apiKey === '' ? undefined : apiKey,
      prometheus: process.env['PROMETHEUS'] === '1',
      progress: say,
      signal: interrupts.signal,
    });
    say('');
    say(await nextSteps(environment));
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) return 130;
    say(`error: ${errorText(err)}`);
    return 1;
  } finally {
    interrupts.dispose();
  }
}

process.exitCode = await main();
