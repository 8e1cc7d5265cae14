import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBucket } from '../common/src/brain/local-bucket.ts';
import { bucketContract, everyCall, failsWith } from './helpers/bucket-contract.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'bucket-'));
  dirs.push(d);
  return d;
};

describe('local directory bucket', () => {
  bucketContract(async () => LocalBucket.create(tmp()));
});

describe('local directory bucket that goes away', () => {
  it('never grows its root again: every call fails naming the missing bucket, and the path stays missing', async () => {
    const root = join(tmp(), 'bucket');
    const b = await LocalBucket.create(root);
    const { generation } = await b.put('planes/p/agents/a/HEAD', Buffer.from('h1'));
    renameSync(root, `${root}.away`);
    for (const [what, call] of everyCall(b, generation)) {
      await failsWith(call(), 'unavailable', /^bucket file:\/\/.*\/bucket is missing/, what);
    }
    expect(existsSync(root)).toBe(false);
    // An empty directory put in its place is not the bucket either, and gets nothing written into it.
    mkdirSync(root);
    for (const [what, call] of everyCall(b, generation)) await expect(call(), what).rejects.toMatchObject({ code: 'unavailable' });
    expect(readdirSync(root)).toEqual([]);
    rmdirSync(root);
    renameSync(`${root}.away`, root);
    expect((await b.get('planes/p/agents/a/HEAD'))?.generation).toBe(generation);
    expect(await b.get('planes/p/agents/a/nothing')).toBeNull();
  });

  it('setUp creates a missing root only when asked to, and takes an empty directory only when asked to', async () => {
    const parent = tmp();
    const b = new LocalBucket(join(parent, 'new'));
    await failsWith(b.setUp({ createRoot: false, adoptEmpty: false }), 'unavailable', /does not exist/);
    expect(existsSync(join(parent, 'new'))).toBe(false);
    expect(await b.setUp({ createRoot: true, adoptEmpty: false })).toBe('created');
    expect(await b.setUp({ createRoot: false, adoptEmpty: false })).toBe('present');
    // A bucket from before markers (it holds brains) is adopted; an empty directory is not the bucket unless asked.
    mkdirSync(join(parent, 'old', 'planes'), { recursive: true });
    expect(await new LocalBucket(join(parent, 'old')).setUp({ createRoot: false, adoptEmpty: false })).toBe('adopted');
    mkdirSync(join(parent, 'empty'));
    await failsWith(new LocalBucket(join(parent, 'empty')).setUp({ createRoot: false, adoptEmpty: false }), 'unavailable', /is empty and has no/);
    expect(await new LocalBucket(join(parent, 'empty')).setUp({ createRoot: false, adoptEmpty: true })).toBe('adopted');
  });
});
