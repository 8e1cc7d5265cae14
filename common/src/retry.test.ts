import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from './backoff.ts';
import { ErrorCode, PlaneError } from './errors.ts';
import { retry } from './retry.ts';

const backoff = (): Backoff => new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 });

describe('retry', () => {
  afterEach(() => vi.useRealTimers());

  it('retries what the classifier calls retryable, waiting out the backoff, until it succeeds', async () => {
    vi.useFakeTimers();
    const seen: Array<[number, number]> = [];
    let calls = 0;
    const p = retry(async () => {
      calls++;
      if (calls < 3) throw new Error('flaky');
      return 'ok';
    }, { classify: () => 'retry', backoff: backoff(), onRetry: (_e, attempt, delay) => seen.push([attempt, delay]) });
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1 + 200);
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(3);
    expect(seen).toEqual([[1, 100], [2, 200]]);
  });

  it('throws a fatal error at once, as it came', async () => {
    const fatal = new Error('bad request');
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw fatal;
    }, { classify: () => 'fatal', backoff: backoff() })).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });

  it('stops after maxAttempts with the last error', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const p = retry(async (attempt) => {
      calls++;
      throw new Error(`attempt ${attempt}`);
    }, { classify: () => 'retry', backoff: backoff(), maxAttempts: 3 });
    const done = expect(p).rejects.toThrow('attempt 3');
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    expect(calls).toBe(3);
  });

  it('ends a wait as soon as the signal aborts, with an aborted error', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    let calls = 0;
    const p = retry(async () => {
      calls++;
      throw new Error('down');
    }, { classify: () => 'retry', backoff: new Backoff({ initialDelayMs: 60_000, maxDelayMs: 60_000 }), signal: ac.signal });
    const done = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    ac.abort(new Error('shutting down'));
    const err = await done;
    expect(err).toBeInstanceOf(PlaneError);
    expect((err as PlaneError).code).toBe(ErrorCode.Aborted);
    expect(calls).toBe(1);
  });
});
