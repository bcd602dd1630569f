/**
 * Attack 1b: a plain call whose first attempt hangs past timeoutMs and whose retry succeeds.
 * Both answer 200; when does each runtime's /metrics show the timed-out attempt? Polled every
 * 50 ms from the moment the caller has its answer.
 *
 *   node attacks/lean-route/timeoutRecord.ts [runs]
 */
import { basePolicy, call, plain, sleep, startPair } from './harness.ts';
const runs = Number(process.argv[2] ?? 3);
const pair = await startPair((url) => basePolicy(url, { timeoutMs: 1000 }));
const shown = async (rt: typeof pair.lean) =>
  /agent_llm_attempts_total\{[^}]*outcome="Timeout"\} (\d+)/.exec(await rt.metrics())?.[1] ?? '0';
try {
  for (let i = 0; i < runs; i++)
    for (const [name, rt] of [
      ['lean', pair.lean],
      ['long', pair.long],
    ] as const) {
      await pair.sim.setFault({ hang: true, count: 1 });
      const before = await shown(rt);
      const t0 = Date.now();
      const s = await call(rt, { body: plain('Hi') });
      const answeredMs = Date.now() - t0;
      const atAnswer = await shown(rt);
      let lagMs = 0;
      while ((await shown(rt)) === before && lagMs < 10_000) {
        await sleep(50);
        lagMs += 50;
      }
      console.log(
        JSON.stringify({
          run: i,
          way: name,
          status: s.status,
          answeredMs,
          timeoutAttemptsBefore: before,
          atAnswer,
          shownAfterMs: lagMs,
        }),
      );
    }
} finally {
  await pair.sim.clearFaults();
  await pair.stop();
}
