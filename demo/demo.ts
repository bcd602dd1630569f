/**
 * `make demo`: Breakwater on a one-node kind cluster. Brings kind up (tools/clusterAccess.ts; only
 * if it is not running), the operator, the LLM simulator and a three-replica agent, then plays:
 *
 *   1. steady traffic            every request answered
 *   2. the primary model down    529s for it alone: its breakers open (the real
 *                                `kubectl get cbp`) and the fallback model answers instead
 *   3. the provider down         529s for every model: callers get fast 503s instead of
 *                                waiting on a failing provider
 *   4. recovery                  the fault is cleared; the breakers probe and close
 *   5. a live policy edit        `kubectl patch rlp`: every replica applies it, timed; 429s
 *
 * and ends with a summary table and one line for scripts and tests:
 *
 *   demo: requests=N ok=N failed_fast=N rejected=N lost=0 trips=N reload_ms=N
 *
 * Everything it started is stopped at the end, on error and on Ctrl-C.
 *
 *   node demo/demo.ts [--quick]     --quick (or DEMO_QUICK=1) shortens the phases
 *   ANTHROPIC_API_KEY=…             the real API instead of the simulator (no fault phases)
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import { AGENT_LABEL } from '../contract/src/pod/podLabels.ts';
import { ClusterView } from './clusterView.ts';
import { reachNote } from './reach.ts';
import { AGENT_NAME, DEMO_NAMESPACE, RATE_LIMIT_POLICY_NAME, REPLICAS } from './demoLayout.ts';
import { report, type ScenarioResult } from './demoReport.ts';
import { Display } from './display.ts';
import { startEnvironment, type Environment } from './environment.ts';
import { stopEnvironment } from './environmentStop.ts';
import { errorText } from './errorText.ts';
import { Interrupted, checkAborted, onInterrupt } from './interrupts.ts';
import { LIMITS_AFTER, LIMITS_BEFORE, rateLimitEdit } from './manifests.ts';
import { timeReload } from './reloadTiming.ts';
import { median, milliseconds, type PhaseRow } from './summary.ts';
import { DIRECT_EVERY, Traffic, type Tally } from './traffic.ts';

interface Timings {
  readonly steadyMs: number;
  /** How long each outage goes on once its breakers are open. */
  readonly stormHoldMs: number;
  readonly stormMaxMs: number;
  readonly recoveryMaxMs: number;
  /** How long traffic runs on the edited policy. */
  readonly editHoldMs: number;
}

// Long enough to read each phase's counters move (36 steady requests, 30 fast 503s, 36 on the
// edited limit), no longer: every second here is a second of everyone's first `make demo`.
const FULL: Timings = {
  steadyMs: 6_000,
  stormHoldMs: 5_000,
  stormMaxMs: 45_000,
  recoveryMaxMs: 60_000,
  editHoldMs: 6_000,
};
const QUICK: Timings = {
  steadyMs: 5_000,
  stormHoldMs: 3_000,
  stormMaxMs: 45_000,
  recoveryMaxMs: 60_000,
  editHoldMs: 4_000,
};

/** Requests per second against the simulator; the real API gets one a second. */
const SIMULATOR_RPS = 6;
const REAL_API_RPS = 1;
const CLIENT_TIMEOUT_MS = 15_000;
/** A 503/504 answered within this long is a fast failure. */
const FAST_MS = 500;

async function main(): Promise<number> {
  // A closed terminal (SIGHUP) must not end the cleanup with a write error.
  process.stdout.on('error', () => undefined);
  const quick = process.argv.includes('--quick') || process.env['DEMO_QUICK'] === '1';
  const live = process.stdout.isTTY && (process.env['CI'] ?? '') === '';
  const display = new Display(process.stdout, { live });
  const interrupts = onInterrupt((line) => {
    display.line(line);
  });
  const apiKey = process.env['ANTHROPIC_API_KEY'];
  const realApi = apiKey !== undefined && apiKey !== '';

  display.line(
    `Breakwater demo: ${REPLICAS} replicas of an agent behind a circuit breaker and a rate limiter, ` +
      `calling ${realApi ? 'the real Anthropic API (ANTHROPIC_API_KEY is set)' : 'the LLM simulator'}.`,
  );
  display.line('Ctrl-C at any point stops everything the demo started.');
  display.line('');

  let environment: Environment;
  try {
    environment = await startEnvironment({
      purpose: 'demo',
      anthropicApiKey: realApi ? apiKey : undefined,
      progress: (line) => {
        display.line(line);
      },
      signal: interrupts.signal,
    });
  } catch (err) {
    interrupts.dispose();
    if (err instanceof Interrupted) return 130;
    display.line(`error: ${errorText(err)}`);
    return 1;
  }

  let result: ScenarioResult | undefined;
  let failure: unknown;
  try {
    result = await runScenario(environment, display, quick ? QUICK : FULL, interrupts.signal);
  } catch (err) {
    failure = err;
  } finally {
    display.settle();
    display.line('');
    display.line('▸ stopping everything the demo started');
    try {
      await stopEnvironment((line) => {
        display.line(`   ${line.replace(/^▸ /, '')}`);
      });
    } catch (err) {
      display.line(`   could not stop everything: ${errorText(err)}; \`make down\` tries again`);
    }
    interrupts.dispose();
  }

  if (result === undefined) {
    if (failure instanceof Interrupted || interrupts.signal.aborted) return 130;
    display.line(`error: ${errorText(failure)}`);
    return 1;
  }
  return report(result, display, { realApi, clientTimeoutMs: CLIENT_TIMEOUT_MS });
}

async function runScenario(
  environment: Environment,
  display: Display,
  timings: Timings,
  signal: AbortSignal,
): Promise<ScenarioResult> {
  const { kubectl, simulator } = environment;
  const view = new ClusterView(environment.client, environment.forwardsFile);
  await view.start();
  const traffic = new Traffic({
    pods: () => view.pods,
    requestsPerSecond: simulator === undefined ? REAL_API_RPS : SIMULATOR_RPS,
    timeoutMs: CLIENT_TIMEOUT_MS,
    fastMs: FAST_MS,
  });
  const phases: PhaseRow[] = [];
  const notes: string[] = [reachNote(environment.state.reach, view.pods)];
  let phaseNumber = 0;
  const phaseCount = simulator === undefined ? 2 : 5;

  const show = async (args: readonly string[]): Promise<void> => {
    const result = await kubectl(args, { allowFailure: true });
    display.line(`  $ ${kubectl.display(args)}`);
    display.block(result.stdout.trim() === '' ? result.stderr : result.stdout);
  };
  const begin = (name: string, what: string): void => {
    display.settle();
    display.line('');
    display.line(`[${++phaseNumber}/${phaseCount}] ${name}: ${what}`);
    traffic.nextPhase();
  };
  const end = (name: string): Tally => {
    display.settle();
    const tally = traffic.nextPhase();
    phases.push({ name, tally });
    return tally;
  };
  /** Runs traffic until `done` holds (after `minMs`) or `maxMs` passes; returns when it held. */
  const hold = async (
    name: string,
    options: { minMs: number; maxMs?: number; done?: () => boolean },
  ): Promise<number | undefined> => {
    const started = performance.now();
    const maxMs = options.maxMs ?? options.minMs;
    for (;;) {
      checkAborted(signal);
      const elapsed = performance.now() - started;
      const done = options.done?.() ?? true;
      const over = (done && elapsed >= options.minMs) || elapsed >= maxMs;
      display.status(statusLine(name, elapsed, traffic, view), { force: over });
      if (over) return done ? elapsed : undefined;
      await sleep(display.live ? 200 : 250);
    }
  };

  try {
    display.line('');
    display.line(`The agent runs ${PRIMARY_MODEL} with ${FALLBACK_MODEL} as its fallback:`);
    await show(['get', 'agd,cbp,rlp', '-n', DEMO_NAMESPACE]);
    traffic.start();

    begin(
      'steady traffic',
      `${plural(simulator === undefined ? REAL_API_RPS : SIMULATOR_RPS, 'request')} a second, ` +
        `round-robin over the ${REPLICAS} pods (1 in ${DIRECT_EVERY} asks ${FALLBACK_MODEL} directly, the rest run the agent)`,
    );
    await hold('steady', { minMs: timings.steadyMs });
    const steady = end('steady');
    if (steady.ok === 0) {
      display.line(
        '  No request succeeded while the provider should be healthy. ' +
          (simulator === undefined
            ? 'Check ANTHROPIC_API_KEY and that https://api.anthropic.com is reachable; '
            : '') +
          `\`kubectl logs -n ${DEMO_NAMESPACE} -l ${AGENT_LABEL}=${AGENT_NAME}\` shows the pods' logs.`,
      );
    }

    if (simulator !== undefined) {
      begin(
        'primary down',
        `the simulator now answers every call to ${PRIMARY_MODEL} with 529 overloaded`,
      );
      const primaryFault = { status: 529, rate: 1, model: PRIMARY_MODEL };
      display.line(`  POST ${simulator.url}/_sim/faults ${JSON.stringify(primaryFault)}`);
      const before = await simulator.stats();
      await simulator.injectFault(primaryFault);
      const openedAfter = await hold('primary down', {
        minMs: 0,
        maxMs: timings.stormMaxMs,
        done: () => view.breaker.state === 'Open',
      });
      display.settle();
      if (openedAfter === undefined) {
        display.line(
          `  the breaker did not open on every replica within ${timings.stormMaxMs / 1000}s:`,
        );
      } else {
        display.line(
          `  ${REPLICAS}/${REPLICAS} replicas' ${PRIMARY_MODEL} breakers open ${seconds(openedAfter)} after the fault, as the operator reports them:`,
        );
      }
      await show(['get', 'cbp', '-n', DEMO_NAMESPACE]);
      await hold('primary down', { minMs: timings.stormHoldMs });
      const primaryDown = end('primary down');
      display.line(
        primaryDown.fallback > 0
          ? `  The agent kept answering: the fallback model ${FALLBACK_MODEL} served ` +
              `${plural(primaryDown.fallback, 'agent request')} while ${PRIMARY_MODEL} was down.`
          : `  No fallback served: every agent request in this phase went to ${PRIMARY_MODEL} first.`,
      );

      begin('provider down', 'the simulator now answers every model call with 529 overloaded');
      const everyFault = { status: 529, rate: 1 };
      display.line(`  POST ${simulator.url}/_sim/faults ${JSON.stringify(everyFault)}`);
      await simulator.injectFault(everyFault);
      await hold('provider down', {
        minMs: timings.stormHoldMs,
        maxMs: timings.stormMaxMs,
        done: () => traffic.phase.failedFast > 0,
      });
      const after = await simulator.stats();
      const storm = end('provider down');
      display.line(
        `  With ${FALLBACK_MODEL} failing too, its breakers opened as well. Callers got ` +
          `${storm.failedFast} fast 503s (median ${milliseconds(median(storm.latencies.failedFast))}) ` +
          `instead of waiting on a failing provider; the provider saw ${after.requests - before.requests} calls ` +
          `for ${primaryDown.requests + storm.requests} requests in both outages.`,
      );

      begin(
        'recovery',
        'fault cleared; after its open time (6s) each breaker lets a probe through, and closes after two good calls',
      );
      await simulator.clearFaults();
      display.line(`  DELETE ${simulator.url}/_sim/faults`);
      const closedAfter = await hold('recovery', {
        minMs: 0,
        maxMs: timings.recoveryMaxMs,
        done: () => view.breaker.state === 'Closed' && (view.breaker.replicas?.open ?? 0) === 0,
      });
      display.settle();
      display.line(
        closedAfter === undefined
          ? `  the breakers did not all close within ${timings.recoveryMaxMs / 1000}s:`
          : `  Closed on every replica ${seconds(closedAfter)} after the fault was cleared:`,
      );
      await show(['get', 'cbp,agd', '-n', DEMO_NAMESPACE]);
      const recovery = end('recovery');
      if (recovery.fallback > 0) {
        display.line(
          `  While ${PRIMARY_MODEL}'s breaker was still open, ${FALLBACK_MODEL} answered ` +
            `${plural(recovery.fallback, 'agent request')} (the fallback's breaker had closed first).`,
        );
      }
    } else {
      notes.push(
        'The outages and recovery were skipped: the real API takes no fault injection. ' +
          'Unset ANTHROPIC_API_KEY to see them against the simulator.',
      );
      display.line('');
      display.line(`  (${notes.at(-1) ?? ''})`);
    }

    begin(
      'live policy edit',
      `RateLimitPolicy ${RATE_LIMIT_POLICY_NAME} from ${LIMITS_BEFORE.perSecond} to ` +
        `${LIMITS_AFTER.perSecond} request a second per replica, while traffic runs`,
    );
    const patch = [
      'patch',
      'rlp',
      RATE_LIMIT_POLICY_NAME,
      '-n',
      DEMO_NAMESPACE,
      '--type',
      'merge',
      '-p',
      JSON.stringify(rateLimitEdit()),
    ];
    let patchOutput = '';
    const reload = await timeReload({
      client: environment.client,
      pods: view.pods,
      edit: async () => {
        patchOutput = (await kubectl(patch)).stdout;
      },
      timeoutMs: 20_000,
    });
    display.line(`  $ ${kubectl.display(patch)}`);
    display.block(patchOutput);
    display.line(
      `  Applied on ${reload.replicas}/${reload.replicas} replicas ${reload.ms} ms after the edit began ` +
        `(kubectl itself took ${reload.editMs} ms; AgentDeployment status confirmed it at ${reload.statusMs} ms; ` +
        `policy hash ${reload.previousHash ?? '?'} → ${reload.hash}${reload.annotationsAgree ? ', on every pod annotation too' : ''}). No restart.`,
    );
    await hold('policy edit', { minMs: timings.editHoldMs });
    const edited = end('policy edit');
    display.line(
      `  On the new limit ${edited.rejected} of ${edited.requests} requests got 429 + Retry-After at once.`,
    );
    await show(['get', 'rlp', '-n', DEMO_NAMESPACE]);

    await traffic.stop();
    await view.refresh();
    return {
      phases,
      total: traffic.total,
      trips: view.mostTrips,
      reload,
      notes,
    };
  } finally {
    display.settle();
    await traffic.stop();
    await view.stop();
  }
}

function statusLine(name: string, elapsedMs: number, traffic: Traffic, view: ClusterView): string {
  const t = traffic.phase;
  return (
    `  ${name} ${seconds(elapsedMs).padStart(5)} │ ok ${t.ok}` +
    (t.fallback > 0 ? ` (fallback ${t.fallback})` : '') +
    ` │ fast 503 ${t.failedFast} │ 429 ${t.rejected} │ failed ${t.failed} │ lost ${t.lost}` +
    ` │ in flight ${traffic.inFlight} │ ${view.breakerSummary()}`
  );
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

process.exitCode = await main();
