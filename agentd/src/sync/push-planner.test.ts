import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { classifyPushFailure, PushPlanner, type PushWork } from './push-planner.ts';

// The planner's windows on fake timers: what is asserted is when pushes run, not how long a test waits.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A planner whose push takes the waiting work (as BrainSync's does) and fails while `fail` says so. */
function planner(fail: () => PlaneError | null = () => null): { p: PushPlanner; pushes: { at: number; work: PushWork }[] } {
  const pushes: { at: number; work: PushWork }[] = [];
  const p: PushPlanner = new PushPlanner({
    debounceMs: 500,
    maxWaitMs: 1500,
    push: async () => {
      const work = p.take({ full: false, databases: false });
      pushes.push({ at: Date.now(), work });
      const err = fail();
      if (err) {
        p.giveBack(work);
        throw err;
      }
      p.succeeded();
    },
  });
  return { p, pushes };
}

describe('push planner', () => {
  it('pushes a burst of changes once, a debounce after the last of them', async () => {
    const { p, pushes } = planner();
    const t0 = Date.now();
    p.changed('a.md');
    p.schedule();
    await vi.advanceTimersByTimeAsync(200);
    p.changed('b.md');
    p.schedule();
    await vi.advanceTimersByTimeAsync(499);
    expect(pushes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]?.at).toBe(t0 + 700);
    expect([...(pushes[0]?.work.dirty ?? [])]).toEqual(['a.md', 'b.md']);
    expect(p.pending).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pushes).toHaveLength(1);
  });

  it('pushes within maxWaitMs of the first change while changes keep coming', async () => {
    const { p, pushes } = planner();
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) {
      p.changed(`f${i}.md`);
      p.schedule();
      await vi.advanceTimersByTimeAsync(300);
    }
    expect(pushes[0]?.at).toBe(t0 + 1500);
    expect(pushes[0]?.work.dirty.size).toBe(5);
  });

  it('a failed push gives its work back and keeps the age of its oldest change', async () => {
    const { p } = planner();
    p.changed('old.md');
    await vi.advanceTimersByTimeAsync(100);
    const work = p.take({ full: false, databases: true });
    expect(p.lagMs).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    p.changed('new.md');
    p.giveBack(work);
    expect(p.lagMs).toBe(200);
    expect(p.pending).toBe(2);
    expect(p.take({ full: false, databases: false })).toMatchObject({ full: false, databases: true });
  });

  it('after a failure that may pass, pushes again with growing waits until one succeeds, then stops', async () => {
    let failures = 2;
    const { p, pushes } = planner(() => (failures-- > 0 ? new PlaneError(ErrorCode.Unavailable, 'bucket away') : null));
    p.changed('a.md');
    const t0 = Date.now();
    p.retryLater();
    p.retryLater(); // one loop at a time
    await vi.advanceTimersByTimeAsync(60_000);
    expect(pushes).toHaveLength(3);
    const waits = pushes.map((x, i) => x.at - (i === 0 ? t0 : (pushes[i - 1]?.at ?? 0)));
    // Backoff from 1 s doubling, with up to half of each wait taken off at random.
    expect(waits[0]).toBeGreaterThanOrEqual(500);
    expect(waits[0]).toBeLessThanOrEqual(1000);
    expect(waits[1]).toBeGreaterThanOrEqual(1000);
    expect(waits[2]).toBeGreaterThanOrEqual(2000);
    expect([...(pushes[2]?.work.dirty ?? [])]).toEqual(['a.md']);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(pushes).toHaveLength(3);
  });

  it('a push refused for good is not retried', async () => {
    const { p, pushes } = planner(() => new PlaneError(ErrorCode.FailedPrecondition, 'refusing to delete 30 of 40 workspace files'));
    p.retryLater();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(pushes).toHaveLength(1);
  });

  it('halting ends the scheduled push and the retries at once', async () => {
    const { p, pushes } = planner(() => new PlaneError(ErrorCode.Unavailable, 'bucket away'));
    p.changed('a.md');
    p.schedule();
    p.retryLater();
    p.halt();
    p.schedule();
    p.retryLater();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(pushes).toHaveLength(0);
    expect(p.pending).toBe(1);
  });

  it('retries what may pass at the bucket boundary, a lost race for HEAD and the unexpected; not what was refused', () => {
    expect(classifyPushFailure(new PlaneError(ErrorCode.Unavailable, 'bucket file:///x is missing'))).toBe('retry');
    expect(classifyPushFailure(new PlaneError(ErrorCode.Aborted, 'HEAD changed behind this writer'))).toBe('retry');
    expect(classifyPushFailure(new PlaneError(ErrorCode.Internal, 'EIO'))).toBe('retry');
    expect(classifyPushFailure(new PlaneError(ErrorCode.FailedPrecondition, 'stale writer'))).toBe('fatal');
    expect(classifyPushFailure(new PlaneError(ErrorCode.PermissionDenied, 'no'))).toBe('fatal');
  });
});
