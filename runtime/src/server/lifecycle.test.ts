import { describe, expect, it } from '@jest/globals';
import { Lifecycle } from './lifecycle.ts';

/** Whether `idle()` has resolved after the microtasks queued so far have run. */
async function isIdle(idle: Promise<void>): Promise<boolean> {
  let done = false;
  void idle.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('Lifecycle', () => {
  it('is idle at once with nothing open', async () => {
    expect(await isIdle(new Lifecycle().idle())).toBe(true);
  });

  it('waits for a counted request whose response has not closed, though no call has begun', async () => {
    const life = new Lifecycle();
    life.opened();
    const idle = life.idle();
    expect(await isIdle(idle)).toBe(false);
    life.closed();
    expect(await isIdle(idle)).toBe(true);
  });

  it('waits for both counts: a call still ending after its response closed holds it', async () => {
    const life = new Lifecycle();
    life.opened();
    life.enter();
    const idle = life.idle();
    life.closed();
    expect(await isIdle(idle)).toBe(false);
    life.leave();
    expect(await isIdle(idle)).toBe(true);
  });

  it('never counts below zero', async () => {
    const life = new Lifecycle();
    life.closed();
    life.leave();
    life.opened();
    const idle = life.idle();
    expect(await isIdle(idle)).toBe(false);
    life.closed();
    expect(await isIdle(idle)).toBe(true);
  });
});
