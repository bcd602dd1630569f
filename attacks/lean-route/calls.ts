/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 1: single calls, one after another, on both runtimes (the same fault before each):
 * headers, bodies, models, count_tokens, /v1/models, streams cut, stalled, erroring, callers
 * leaving. After each call: the answers, every metric series (counters, gauges, histograms'
 * counts) and /debug/{breakers,ratelimiter,stats}. The breaker's threshold is high so that
 * every call finds it closed.
 *
 *   node attacks/lean-route/calls.ts [--only NAME-SUBSTRING]
 */
import {
  answerDiff,
  basePolicy,
  both,
  debugDiffs,
  metricDiffs,
  plan,
  sleep,
  startPair,
  startSink,
  otelEnv,
  spanSeen,
  type SpanSink,
} from './harness.ts';

import { STEPS } from './steps.ts';

const only = process.argv.includes('--only')
  ? process.argv[process.argv.indexOf('--only') + 1]
  : undefined;

const traced = process.argv.includes('--traced');
const sinks = traced ? { lean: await startSink(), long: await startSink() } : undefined;
const traceOf = (i: number) => (i + 1).toString(16).padStart(32, 'b');
const pair = await startPair(
  (url) =>
    basePolicy(url, {
      timeoutMs: 1500,
      streamIdleTimeoutMs: 1200,
      circuitBreaker: { ...basePolicy(url).circuitBreaker, failureThreshold: 1000 },
    }),
  { firstTokenMs: 10, eventGapMs: 5 },
  {},
  (lean) => (sinks === undefined ? {} : otelEnv(lean ? sinks.lean : sinks.long)),
);
const found: string[] = [];
const seenMetric = new Set<string>();
try {
  for (const [index, step] of STEPS.entries()) {
    if (only !== undefined && !step.name.includes(only)) continue;
    const o = traced
      ? {
          ...step.o,
          headers: { ...step.o.headers, traceparent: `00-${traceOf(index)}-00f067aa0ba902b7-01` },
        }
      : step.o;
    const answers = await both(pair, o, step.fault);
    if (step.settleMs !== undefined) await sleep(step.settleMs);
    const d = answerDiff(step.name, answers);
    found.push(...d);
    for (const m of [...(await metricDiffs(pair)), ...(await debugDiffs(pair))]) {
      const key = m.split(':')[0]!;
      if (seenMetric.has(key)) continue;
      seenMetric.add(key);
      found.push(`after ${step.name}: ${m}`);
    }
    console.log(
      `${d.length === 0 ? 'same' : 'DIFF'} ${step.name}: ${JSON.stringify(answers[0].status)} ${answers[0].body.slice(0, 100)}`,
    );
  }
  console.log('plan', JSON.stringify(await plan(pair)));
  if (sinks !== undefined) {
    await sleep(2000);
    let spansCompared = 0;
    for (const [index, step] of STEPS.entries()) {
      const of = (sink: SpanSink) =>
        sink.spans
          .filter((s) => s.traceId === traceOf(index))
          .map(spanSeen)
          .map((x) => JSON.stringify(x))
          .sort();
      const [a, b] = [of(sinks.lean), of(sinks.long)];
      spansCompared += a.length;
      if (JSON.stringify(a) !== JSON.stringify(b))
        found.push(
          `spans of ${step.name}:\n    lean ${a.join('\n         ')}\n    long ${b.join('\n         ')}`,
        );
    }
    console.log(
      `spans compared: ${spansCompared} (lean sink ${sinks.lean.spans.length}, long sink ${sinks.long.spans.length})`,
    );
  }
  console.log(`\n${found.length} differences`);
  for (const f of found) console.log(`- ${f}`);
} finally {
  await pair.stop();
  if (sinks !== undefined) await Promise.all([sinks.lean.close(), sinks.long.close()]);
}
