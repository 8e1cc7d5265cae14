import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, sleep } from './backoff.ts';

describe('Backoff', () => {
  afterEach(() => vi.useRealTimers());

  it('grows exponentially up to the cap, with jitter taking at most the configured share', () => {
    const max = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.5, random: () => 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => max.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const min = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.5, random: () => 1 });
    expect([1, 2, 3].map(() => min.next())).toEqual([50, 100, 200]);
  });

  it('starts over after reset()', () => {
    const b = new Backoff({ initialDelayMs: 10, maxDelayMs: 1000, random: () => 0 });
    b.next();
    b.next();
    expect(b.attempt).toBe(2);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('rejects nonsensical settings', () => {
    expect(() => new Backoff({ initialDelayMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ jitter: 2 })).toThrow(RangeError);
  });

  it('sleep resolves false as soon as its signal aborts, and true after the delay otherwise', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    const aborted = sleep(10_000, ac.signal);
    ac.abort();
    await expect(aborted).resolves.toBe(false);
    const waited = sleep(1000);
    vi.advanceTimersByTime(1000);
    await expect(waited).resolves.toBe(true);
  });
});
