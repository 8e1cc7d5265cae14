import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { BUCKET_MARKER, type Bucket, listAll, PreconditionFailedError } from '../../common/src/brain/bucket.ts';

/**
 * The behaviour every bucket backend must share. Each backend's test file calls
 * this with a factory giving a fresh, empty bucket that has been set up.
 */
export function bucketContract(make: () => Promise<Bucket>): void {
  it('set up once: setUp again finds it present, and the marker is never listed', async () => {
    const b = await make();
    expect(await b.setUp({ createRoot: false, adoptEmpty: false })).toBe('present');
    await b.assertPresent();
    expect((await b.listPage('')).objects).toEqual([]);
    await b.put('x', Buffer.from('x'));
    expect((await b.listPage('')).objects.map((o) => o.name)).toEqual(['x']);
    expect(await b.get(BUCKET_MARKER)).not.toBeNull();
  });

  it('reads back what it wrote, with a generation that changes on every write', async () => {
    const b = await make();
    expect(await b.get('planes/p/agents/a/x')).toBeNull();
    expect(await b.head('planes/p/agents/a/x')).toBeNull();
    const w1 = await b.put('planes/p/agents/a/x', Buffer.from('one'));
    const r1 = await b.get('planes/p/agents/a/x');
    expect(r1?.data.toString()).toBe('one');
    expect(r1?.generation).toBe(w1.generation);
    const w2 = await b.put('planes/p/agents/a/x', Buffer.from('two!'));
    expect(w2.generation).not.toBe(w1.generation);
    const h = await b.head('planes/p/agents/a/x');
    expect(h?.size).toBe(4);
    expect(h?.generation).toBe(w2.generation);
  });

  it('compare-and-swap: ifGenerationMatch 0 creates once, a stale generation is refused, nothing changes', async () => {
    const b = await make();
    const first = await b.put('head', Buffer.from('a'), { ifGenerationMatch: '0' });
    await expect(b.put('head', Buffer.from('b'), { ifGenerationMatch: '0' })).rejects.toBeInstanceOf(PreconditionFailedError);
    const second = await b.put('head', Buffer.from('c'), { ifGenerationMatch: first.generation });
    await expect(b.put('head', Buffer.from('d'), { ifGenerationMatch: first.generation })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await b.get('head'))?.data.toString()).toBe('c');
    await expect(b.delete('head', { ifGenerationMatch: first.generation })).rejects.toBeInstanceOf(PreconditionFailedError);
    await b.delete('head', { ifGenerationMatch: second.generation });
    expect(await b.get('head')).toBeNull();
  });

  it('of many concurrent compare-and-swaps on one generation, exactly one wins', async () => {
    const b = await make();
    const base = await b.put('race', Buffer.from('0'));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => b.put('race', Buffer.from(String(i + 1)), { ifGenerationMatch: base.generation })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PreconditionFailedError);
  });

  it('lists by prefix in lexical order across pages', async () => {
    const b = await make();
    const names = Array.from({ length: 25 }, (_, i) => `planes/p/agents/a/objects/${String(i).padStart(3, '0')}`);
    for (const n of names) await b.put(n, Buffer.from(n));
    await b.put('planes/p/agents/ab/objects/000', Buffer.from('other agent'));
    await b.put('planes/p/agents/a/manifests/1', Buffer.from('m'));
    const page = await b.listPage('planes/p/agents/a/objects/', { maxResults: 10 });
    expect(page.objects.map((o) => o.name)).toEqual(names.slice(0, 10));
    expect(page.nextPageToken).toBeTruthy();
    const all: string[] = [];
    for await (const o of listAll(b, 'planes/p/agents/a/objects/', 7)) all.push(o.name);
    expect(all).toEqual(names);
    const agentA: string[] = [];
    for await (const o of listAll(b, 'planes/p/agents/a/')) agentA.push(o.name);
    expect(agentA).toHaveLength(26);
    expect(agentA).not.toContain('planes/p/agents/ab/objects/000');
  });

  it('deletes; deleting a missing name is not an error', async () => {
    const b = await make();
    await b.put('gone', Buffer.from('x'));
    await b.delete('gone');
    await b.delete('gone');
    expect(await b.get('gone')).toBeNull();
  });

  it('keeps binary data exact, including a large object', async () => {
    const b = await make();
    const big = randomBytes(9 * 1024 * 1024 + 17);
    await b.put('big', big);
    const back = await b.get('big');
    expect(back?.data.equals(big)).toBe(true);
  });

  it('refuses names that escape the bucket layout', async () => {
    const b = await make();
    for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', '']) {
      await expect(b.put(bad, Buffer.from('x'))).rejects.toThrow(/invalid object name/);
    }
  });
}

/** Every kind of call, each of which must fail on a bucket that is not there. */
export function everyCall(b: Bucket, generation: string): [string, () => Promise<unknown>][] {
  return [
    ['get', () => b.get('planes/p/agents/a/HEAD')],
    ['get of a missing name', () => b.get('planes/p/agents/a/nothing')],
    ['head', () => b.head('planes/p/agents/a/HEAD')],
    ['list', () => b.listPage('planes/p/agents/a/')],
    ['put', () => b.put('planes/p/agents/a/chunks/ab/abc', Buffer.from('c'))],
    ['create', () => b.put('planes/p/agents/a/chunks/ab/abd', Buffer.from('c'), { ifGenerationMatch: '0' })],
    ['compare-and-swap', () => b.put('planes/p/agents/a/HEAD', Buffer.from('h2'), { ifGenerationMatch: generation })],
    ['delete', () => b.delete('planes/p/agents/a/HEAD')],
  ];
}

/** Awaits a call that must fail with this error code and a message matching `message`. */
export async function failsWith(call: Promise<unknown>, code: string, message: RegExp, what = ''): Promise<void> {
  const err: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${what} should fail`).toBeInstanceOf(Error);
  expect((err as { code?: string }).code, what).toBe(code);
  expect((err as Error).message, what).toMatch(message);
}
