import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bucket, listAll, PreconditionFailedError } from '../common/src/brain/bucket.ts';
import { GcsBucket } from '../common/src/brain/gcs-bucket.ts';
import { openBucket } from '../common/src/brain/open-bucket.ts';
import { PlaneError } from '../common/src/errors.ts';
import { bucketContract, everyCall, failsWith } from './helpers/bucket-contract.ts';
import { type GcsStandin, startGcsStandin } from './helpers/gcs-standin.ts';

let standin: GcsStandin;
beforeAll(async () => {
  standin = await startGcsStandin();
});
afterAll(async () => {
  await standin.close();
});

const freshUrl = (prefix = ''): string => `gs://test-${randomUUID().slice(0, 8)}${prefix}`;
/** Opened and set up, as the hub does at start. */
const open = async (url: string): Promise<Bucket> => {
  const b = await openBucket(url, { gcsApiEndpoint: standin.endpoint });
  await b.setUp({ createRoot: false, adoptEmpty: true });
  return b;
};
/** Quick retries, so outages in these tests take about a second. */
const quick = async (url: string): Promise<GcsBucket> => {
  const b = GcsBucket.fromUrl(url, { gcsApiEndpoint: standin.endpoint, retry: { maxRetries: 2, maxRetryDelayMs: 1000 } });
  await b.setUp({ adoptEmpty: true });
  return b;
};
/** The recorded requests made from here on. */
const since = (): (() => GcsStandin['requests']) => {
  const start = standin.requests.length;
  return () => standin.requests.slice(start);
};

describe('GCS bucket on the JSON API stand-in', () => {
  bucketContract(() => open(freshUrl()));

  it('sends a large put as a chunked resumable upload and a small one as a single multipart request', async () => {
    const b = await open(freshUrl());
    const seen = since();
    const big = randomBytes(9 * 1024 * 1024);
    const { generation } = await b.put('big', big, { ifGenerationMatch: '0' });
    const uploads = seen().filter((r) => r.path.startsWith('/upload/'));
    expect(uploads[0]).toMatchObject({ method: 'POST', query: { uploadType: 'resumable', name: 'big', ifGenerationMatch: '0' } });
    expect(uploads.slice(1).map((r) => r.method)).toEqual(['PUT', 'PUT']);
    expect(uploads[1]?.query.upload_id).toBeTruthy();
    const back = await b.get('big');
    expect(back?.generation).toBe(generation);
    expect(back?.data.equals(big)).toBe(true);

    const small = since();
    await b.put('small', Buffer.from('x'));
    expect(small().map((r) => r.query.uploadType)).toEqual(['multipart']);
  });

  it('lists page by page with the pageToken GCS returns', async () => {
    const b = await open(freshUrl());
    for (let i = 0; i < 5; i++) await b.put(`o/${i}`, Buffer.from(String(i)));
    const seen = since();
    const names: string[] = [];
    for await (const o of listAll(b, 'o/', 2)) names.push(o.name);
    expect(names).toEqual(['o/0', 'o/1', 'o/2', 'o/3', 'o/4']);
    const lists = seen().filter((r) => r.method === 'GET' && /\/o$/.test(r.path));
    expect(lists.map((r) => r.query.maxResults)).toEqual(['2', '2', '2']);
    expect(lists[0]?.query.pageToken).toBeUndefined();
    expect(lists[1]?.query.pageToken).toBeTruthy();
    expect(lists[2]?.query.pageToken).toBeTruthy();
  });

  it('surfaces a 412 as PreconditionFailedError, on puts and deletes', async () => {
    const b = await open(freshUrl());
    const { generation } = await b.put('head', Buffer.from('a'));
    const err: unknown = await b.put('head', Buffer.from('b'), { ifGenerationMatch: String(Number(generation) - 1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PlaneError).code).toBe('aborted');
    await expect(b.put('head', randomBytes(9 * 1024 * 1024), { ifGenerationMatch: '0' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(b.delete('missing', { ifGenerationMatch: generation })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await b.get('head'))?.data.toString()).toBe('a');
  });

  it('retries a short outage transparently, reads and conditional writes alike', async () => {
    const b = await quick(freshUrl());
    const { generation } = await b.put('x', Buffer.from('one'));
    const seen = since();
    standin.failNext(503);
    expect((await b.get('x'))?.generation).toBe(generation);
    standin.failNext(429);
    expect((await b.head('x'))?.size).toBe(3);
    standin.failNext(503);
    const second = await b.put('x', Buffer.from('two'), { ifGenerationMatch: generation });
    standin.failNext(503);
    await b.put('big', randomBytes(9 * 1024 * 1024), { ifGenerationMatch: '0' });
    standin.failNext(503);
    expect((await b.listPage('')).objects.map((o) => o.name)).toEqual(['big', 'x']);
    expect((await b.get('x'))?.generation).toBe(second.generation);
    expect(seen().length).toBeGreaterThan(5);
  });

  it('does not mistake its own conditional write, whose reply was lost and was retried, for a lost race', async () => {
    const b = await quick(freshUrl());
    const { generation } = await b.put('x', Buffer.from('one'));
    standin.failNext(503, 1, 'after');
    const second = await b.put('x', Buffer.from('two'), { ifGenerationMatch: generation });
    expect(await b.get('x')).toEqual({ data: Buffer.from('two'), generation: second.generation });
  });

  it('does not retry unconditional writes, and the library still retries what is safe afterwards', async () => {
    const b = await quick(freshUrl());
    for (const size of [3, 9 * 1024 * 1024]) {
      standin.failNext(503);
      const err: unknown = await b.put('x', randomBytes(size)).catch((e: unknown) => e);
      expect((err as PlaneError).code).toBe('unavailable');
    }
    await b.put('x', Buffer.from('one'));
    standin.failNext(503);
    await expect(b.delete('x')).rejects.toMatchObject({ code: 'unavailable' });
    standin.failNext(503);
    expect((await b.head('x'))?.size).toBe(3);
    standin.failNext(503);
    await b.delete('x', { ifGenerationMatch: (await b.head('x'))?.generation ?? '' });
    expect(await b.head('x')).toBeNull();
  });

  it('reports an outage longer than the retry budget as unavailable', async () => {
    const b = await quick(freshUrl());
    await b.put('x', Buffer.from('one'));
    for (const call of [() => b.get('x'), () => b.head('x'), () => b.listPage(''), () => b.put('x', Buffer.from('two'), { ifGenerationMatch: '0' })]) {
      const seen = since();
      standin.failNext(503, 3); // the first attempt and both retries
      const err: unknown = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlaneError);
      expect((err as PlaneError).code).toBe('unavailable');
      expect((err as PlaneError).message).toContain(b.url);
      expect(seen()).toHaveLength(3);
    }
  });

  it('reports 403 as permission_denied naming the role to grant', async () => {
    const b = await quick(freshUrl());
    standin.failNext(403);
    const err: unknown = await b.get('x').catch((e: unknown) => e);
    expect((err as PlaneError).code).toBe('permission_denied');
    expect((err as PlaneError).message).toMatch(/roles\/storage\.objectAdmin on bucket test-/);
  });

  it('keeps objects under the URL prefix and lists names without it', async () => {
    const root = freshUrl();
    const b = await open(`${root}/planes/p1/`);
    expect(b.url).toBe(`${root}/planes/p1`);
    await b.put('agents/a/x', Buffer.from('x'));
    const seen = since();
    expect((await b.listPage('agents/')).objects.map((o) => o.name)).toEqual(['agents/a/x']);
    expect(seen()[0]?.query.prefix).toBe('planes/p1/agents/');
    const whole = await open(root);
    expect((await whole.get('planes/p1/agents/a/x'))?.data.toString()).toBe('x');
    expect(await whole.get('agents/a/x')).toBeNull();
  });

  it('a bucket taken away fails every call as missing instead of looking empty, and works again when it is back', async () => {
    const url = freshUrl();
    const b = await quick(url);
    const { generation } = await b.put('planes/p/agents/a/HEAD', Buffer.from('h1'));
    const copy = standin.takeBucket(url.slice('gs://'.length));
    for (const [what, call] of everyCall(b, generation)) {
      if (what === 'delete') continue; // GCS answers a delete in a missing bucket like one of a missing object
      await failsWith(call(), 'unavailable', /^bucket gs:\/\/test-\w+ is missing/, what);
    }
    standin.putBucket(url.slice('gs://'.length), copy);
    expect((await b.get('planes/p/agents/a/HEAD'))?.generation).toBe(generation);
    expect(await b.get('planes/p/agents/a/nothing')).toBeNull();
  });

  it('an emptied bucket (its marker gone too) is missing, until the setup step marks it again', async () => {
    const url = freshUrl();
    const b = await quick(url);
    await b.put('planes/p/agents/a/HEAD', Buffer.from('h1'));
    for (const name of standin.names(url.slice('gs://'.length))) standin.deleteObject(url.slice('gs://'.length), name);
    await failsWith(b.get('planes/p/agents/a/HEAD'), 'unavailable', /no \.agents-plane-bucket object/);
    await expect(b.listPage('planes/')).rejects.toMatchObject({ code: 'unavailable' });
    await failsWith(b.setUp({ adoptEmpty: false }), 'unavailable', /is empty/);
    expect(await b.setUp({ adoptEmpty: true })).toBe('adopted');
    expect(await b.get('planes/p/agents/a/HEAD')).toBeNull();
  });

  it('refuses malformed gs:// URLs', async () => {
    for (const bad of ['gs://', 'gs://UPPER', 'gs://b', 'gs://ok-bucket/../x', 'gs://ok-bucket/a//b']) {
      await expect(openBucket(bad, { gcsApiEndpoint: standin.endpoint })).rejects.toMatchObject({ code: 'invalid_argument' });
    }
  });
});
