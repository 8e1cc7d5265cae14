import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBucket } from '../common/src/brain/local-bucket.ts';
import type { BrainSync, PushResult } from '../agentd/src/sync/brain-sync.ts';
import { failsWith } from './helpers/bucket-contract.ts';
import { machine, type Machine, store, sync, tmp, until } from './helpers/brain-machine.ts';

// BrainSync in this process against a local-directory bucket that is taken away, emptied or
// rolled back behind its back. The same on a real agentd and on the Storage stand-in:
// test/brain-outage.test.ts.

const PREFIX = join('planes', 'p', 'agents', 'a');
const quick = { debounceMs: 100, maxWaitMs: 300 };

async function newBucket(): Promise<{ dir: string; bucket: LocalBucket }> {
  const dir = join(tmp('brain-loss-'), 'bucket');
  return { dir, bucket: await LocalBucket.create(dir) };
}

/** A new bucket and an agent (lease 1) that has pushed these files: its first snapshot. */
async function pushedAgent(files: Record<string, string>, settings: Parameters<typeof sync>[3] = {}): Promise<{ dir: string; bucket: LocalBucket; a: Machine; s: BrainSync; first: PushResult }> {
  const { dir, bucket } = await newBucket();
  const a = machine();
  write(a, files);
  const s = sync(a, bucket, 1, settings);
  await s.restoreOnBoot();
  const first = await s.push({ reason: 'push', full: true });
  return { dir, bucket, a, s, first };
}

function write(m: Machine, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) writeFileSync(join(m.workspace, p), text);
}

/** The chunk object files of one workspace file of the current snapshot. */
function chunkFiles(dir: string, s: BrainSync, path: string): string[] {
  const chunks = s.current?.files[path]?.chunks ?? [];
  expect(chunks.length, `${path} in the current snapshot`).toBeGreaterThan(0);
  return chunks.map((c) => join(dir, PREFIX, 'chunks', c.slice(0, 2), c));
}

/** A fresh machine restores, and has exactly these files. */
async function restoresOnFreshMachine(bucket: LocalBucket, fence: number, files: Record<string, string>): Promise<Awaited<ReturnType<BrainSync['restoreOnBoot']>>> {
  const b = machine();
  const boot = await sync(b, bucket, fence).restoreOnBoot();
  for (const [p, text] of Object.entries(files)) expect(readFileSync(join(b.workspace, p), 'utf8'), p).toBe(text);
  return boot;
}

describe('a bucket that vanishes or loses objects behind the agent', () => {
  it('moved away while the agent writes: not created again, an error naming it, and every file there once it is back', async () => {
    const { dir, bucket, a, s } = await pushedAgent({ 'before.md': 'written before' }, quick);
    await s.start();
    renameSync(dir, `${dir}.away`);
    write(a, { 'during.md': 'written during the outage' });
    await until(() => /bucket file:\/\/.* is missing/.test(s.status().lastError ?? ''), 'the push to fail on the missing bucket', 10_000, () => s.status());
    expect(s.status()).toMatchObject({ state: 'error' });
    expect(s.status().lagMs).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(false);
    renameSync(`${dir}.away`, dir);
    write(a, { 'after.md': 'written after' });
    await until(() => s.current?.files['during.md'] !== undefined && s.current.files['after.md'] !== undefined && s.status().lagMs === 0, 'catch-up', 90_000, () => s.status());
    expect(s.status()).toMatchObject({ state: 'idle', lastError: '', untrusted: '' });
    const boot = await restoresOnFreshMachine(bucket, 2, { 'before.md': 'written before', 'during.md': 'written during the outage', 'after.md': 'written after' });
    expect(boot.fallback).toBeUndefined();
  });

  it('a chunk deleted behind its back: the check finds it, everything is uploaded again, nothing is lost', async () => {
    const { dir, bucket, s } = await pushedAgent({ 'a.md': 'first file', 'b.md': 'second file' }, { ...quick, checkSample: 100 });
    await s.start();
    for (const f of chunkFiles(dir, s, 'a.md')) rmSync(f);
    const before = s.current?.id;
    expect(await s.check()).toMatch(/1 of 2 sampled chunks of snapshot .* are missing/);
    await until(() => s.current?.id !== before && s.status().untrusted === '', 'the repair push', 10_000, () => s.status());
    expect(s.current?.reason).toBe('repair');
    for (const f of chunkFiles(dir, s, 'a.md')) expect(existsSync(f)).toBe(true);
    expect((await restoresOnFreshMachine(bucket, 2, { 'a.md': 'first file', 'b.md': 'second file' })).fallback).toBeUndefined();
  });

  it('HEAD deleted behind its back: the check finds it and HEAD is written again; a fresh machine before that still restores', async () => {
    const { dir, bucket, s } = await pushedAgent({ 'a.md': 'kept' }, quick);
    const pushed = s.current?.id;
    rmSync(join(dir, PREFIX, 'HEAD'));
    // Meanwhile a fresh machine does not start blank: HEAD is missing, the snapshots are not.
    const early = machine();
    const boot = await sync(early, await LocalBucket.create(dir), 0).restoreOnBoot();
    expect(boot).toMatchObject({ action: 'restored', snapshot: pushed, fallback: { newest: '', used: pushed, reason: 'HEAD is missing', unrestoredCount: 0 } });
    expect(readFileSync(join(early.workspace, 'a.md'), 'utf8')).toBe('kept');
    await s.start();
    expect(await s.check()).toBe('HEAD is missing');
    await until(async () => (await store(bucket).readHead())?.manifest === s.current?.id && s.current?.id !== pushed, 'HEAD written again by a repair', 10_000, () => s.status());
    await restoresOnFreshMachine(bucket, 2, { 'a.md': 'kept' });
  });

  it('HEAD changed behind its back (the bucket rolled back to an older copy): the next push uploads everything again', async () => {
    const { dir, bucket, a, s } = await pushedAgent({ 'a.md': 'in the old copy' });
    cpSync(dir, `${dir}.copy`, { recursive: true });
    write(a, { 'b.md': 'only in the live bucket' });
    await s.push({ reason: 'push', full: true });
    rmSync(dir, { recursive: true });
    renameSync(`${dir}.copy`, dir);
    write(a, { 'c.md': 'after the rollback' });
    const r = await s.push({ reason: 'push', full: true });
    expect(r).toMatchObject({ committed: true, uploadedFiles: 3 });
    expect(s.current?.reason).toBe('repair');
    expect((await restoresOnFreshMachine(bucket, 2, { 'a.md': 'in the old copy', 'b.md': 'only in the live bucket', 'c.md': 'after the rollback' })).fallback).toBeUndefined();
  });

  it('a restore whose newest snapshot is incomplete uses the newest complete one, says so, and makes it current', async () => {
    const { dir, bucket, a, s, first } = await pushedAgent({ 'a.md': 'version one' });
    write(a, { 'b.md': 'lost with its chunk' });
    const second = await s.push({ reason: 'push', full: true });
    for (const f of chunkFiles(dir, s, 'b.md')) rmSync(f);
    const boot = await restoresOnFreshMachine(bucket, 2, { 'a.md': 'version one' });
    expect(boot).toMatchObject({ action: 'restored', snapshot: first.snapshot, fallback: { newest: second.snapshot, used: first.snapshot, unrestored: ['b.md'], unrestoredCount: 1 } });
    expect(boot.fallback?.reason).toMatch(new RegExp(`snapshot ${second.snapshot} is missing 1 chunk`));
    // HEAD names a complete snapshot again: a 'restore' of the one used, by the new lease.
    const head = await store(bucket).readHead();
    expect(head?.manifest).toMatch(/-restore-f2-/);
    const after = await store(bucket).readManifest(head?.manifest ?? '');
    expect(Object.keys(after.files)).toEqual(['a.md']);
  });

  it('a restore skips a snapshot whose manifest is gone, and with nothing complete restores what it can', async () => {
    const { dir, bucket, a, s, first: only } = await pushedAgent({ 'a.md': 'one', 'b.md': 'two' });
    write(a, { 'c.md': 'three' });
    const gone = await s.push({ reason: 'push', full: true });
    rmSync(join(dir, PREFIX, 'manifests', gone.snapshot ?? ''));
    for (const f of chunkFiles(dir, s, 'b.md')) rmSync(f);
    const boot = await restoresOnFreshMachine(bucket, 2, { 'a.md': 'one' });
    expect(boot.fallback).toMatchObject({ newest: gone.snapshot, used: only.snapshot, unrestored: ['b.md'] });
    expect(boot.fallback?.reason).toMatch(new RegExp(`snapshot ${gone.snapshot} does not open .*; snapshot ${only.snapshot} is missing 1 chunk.*; no snapshot is complete`));
  });

  it("the agent's own newer brain wins over an older remote snapshot: kept, and everything uploaded again", async () => {
    const { dir, bucket, a, s } = await pushedAgent({ 'a.md': 'one' });
    write(a, { 'b.md': 'its chunk goes' });
    await s.push({ reason: 'push', full: true });
    for (const f of chunkFiles(dir, s, 'b.md')) rmSync(f);
    await s.stop();
    // agentd restarts on the same machine (a new lease): it keeps its files rather than go back to the first snapshot.
    const again = sync(a, bucket, 2, quick);
    const kept = again.current;
    expect(await again.restoreOnBoot()).toMatchObject({ action: 'current' });
    expect(readFileSync(join(a.workspace, 'b.md'), 'utf8')).toBe('its chunk goes');
    // Once running it lists every chunk of the snapshot it kept, finds one gone, and uploads everything again.
    await again.start();
    await until(() => again.current?.reason === 'repair' && again.current.id !== kept?.id, 'the repair push', 10_000, () => again.status());
    expect(again.status().untrusted).toBe('');
    expect(readdirSync(join(a.stateDir, 'sync')).includes('displaced')).toBe(false);
    expect((await restoresOnFreshMachine(bucket, 3, { 'a.md': 'one', 'b.md': 'its chunk goes' })).fallback).toBeUndefined();
  });

  it('with HEAD gone and its newest snapshot incomplete, a restarting agent keeps its newer files rather than restore an older snapshot', async () => {
    const { dir, bucket, a, s } = await pushedAgent({ 'a.md': 'one' });
    write(a, { 'b.md': 'newer' });
    await s.push({ reason: 'push', full: true });
    for (const f of chunkFiles(dir, s, 'b.md')) rmSync(f);
    rmSync(join(dir, PREFIX, 'HEAD'));
    await s.stop();
    const again = sync(a, bucket, 2);
    expect(await again.restoreOnBoot()).toMatchObject({ action: 'current' });
    expect(again.status().untrusted).toMatch(/the newest snapshot cannot be restored in full \(HEAD is missing; snapshot .* is missing 1 chunk/);
    expect(await again.push({ reason: 'push' })).toMatchObject({ committed: true, uploadedFiles: 2 });
    expect((await restoresOnFreshMachine(bucket, 3, { 'a.md': 'one', 'b.md': 'newer' })).fallback).toBeUndefined();
  });

  it('the restore command refuses an incomplete snapshot before it moves anything aside', async () => {
    const { dir, a, s, first: old } = await pushedAgent({ 'a.md': 'one' });
    for (const f of chunkFiles(dir, s, 'a.md')) rmSync(f);
    write(a, { 'a.md': 'two' });
    await s.push({ reason: 'push', full: true });
    await expect(s.restoreSnapshot(old.snapshot ?? '')).rejects.toThrow(/cannot be restored: 1 chunk\(s\) missing from the bucket, needed by a\.md; nothing was changed/);
    expect(readFileSync(join(a.workspace, 'a.md'), 'utf8')).toBe('two');
    expect(existsSync(join(a.stateDir, 'sync', 'displaced'))).toBe(false);
  });

  it('a bucket that vanishes during a boot restore is an error, never a reason to fall back', async () => {
    const { dir, bucket } = await pushedAgent(Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`f${i}.md`, `file ${i}`])));
    renameSync(dir, `${dir}.away`);
    await failsWith(sync(machine(), bucket, 2).restoreOnBoot(), 'unavailable', /is missing/);
    execFileSync('mv', [`${dir}.away`, dir]);
    expect((await restoresOnFreshMachine(bucket, 3, { 'f7.md': 'file 7' })).fallback).toBeUndefined();
  });
});
