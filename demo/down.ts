/** `make down`: stops what `make up` (or an interrupted `make demo`) left running. */
import { stopEnvironment } from './environmentStop.ts';
import { errorText } from './errorText.ts';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

try {
  const report = await stopEnvironment(say);
  if (report.stopped.length > 0) say(`down: stopped ${report.stopped.join(', ')}`);
} catch (err) {
  say(`error: ${errorText(err)}`);
  process.exitCode = 1;
}
