import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BrainKey } from '../common/src/brain/brain-crypto.ts';
import { DEFAULT_RETENTION, retained } from '../common/src/brain/brain-retention.ts';
import { BrainStore, StaleWriterError } from '../common/src/brain/brain-store.ts';
import { LocalBucket } from '../common/src/brain/local-bucket.ts';
import { integrityCheck, countSessions } from '../common/src/brain/sqlite-checks.ts';
import { openedBy, sealedObjects } from './helpers/brain-objects.ts';
import { agentDb, key, logs, machine, rawKey, sync, tmp, until } from './helpers/brain-machine.ts';

const CANARY = 'canary-7f3a9d1e-brain-plaintext';

function bucketBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else parts.push(readFileSync(join(d, e.name)));
    }
  };
  walk(dir);
  return Buffer.concat(parts);
}

describe('brain sync', () => {
  it('a fresh machine resumes the same brain: workspace files and a consistent database snapshot, encrypted in the bucket', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), `be kind ${CANARY}`);
    mkdirSync(join(a.workspace, 'memory'));
    writeFileSync(join(a.workspace, 'memory', '2026-11-21.md'), 'learned things');
    writeFileSync(join(a.workspace, 'MEMORY.md'), 'long term');
    const db = agentDb(a);
    db.prepare('INSERT INTO sessions VALUES (?, ?)').run('s1', `hello ${CANARY}`);
    // The database stays open (and in WAL mode) while it is snapshotted, as under a live gateway.
    const s1 = sync(a, bucket, 1);
    expect((await s1.restoreOnBoot()).action).toBe('none');
    const pushed = await s1.push({ reason: 'push', databases: true });
    expect(pushed.committed).toBe(true);
    expect(s1.status()).toMatchObject({ files: 3, memoryFiles: 2, sessions: 1, lagMs: 0, state: 'idle' });
    db.close();

    expect(bucketBytes(bucketDir).includes(CANARY)).toBe(false);

    const b = machine();
    const s2 = sync(b, bucket, 2);
    const boot = await s2.restoreOnBoot();
    expect(boot).toMatchObject({ action: 'restored', files: 3, databases: 1 });
    expect(readFileSync(join(b.workspace, 'SOUL.md'), 'utf8')).toBe(`be kind ${CANARY}`);
    expect(readFileSync(join(b.workspace, 'memory', '2026-11-21.md'), 'utf8')).toBe('learned things');
    const restoredDb = join(b.dbDir, 'agents', 'main', 'agent', 'openclaw-agent.sqlite');
    expect(integrityCheck(restoredDb)).toBe('ok');
    expect(countSessions(restoredDb)).toBe(1);
    expect(existsSync(restoredDb + '-wal')).toBe(false);
  });

  it('with the wrong data key the bucket does not open', async () => {
    const bucket = await LocalBucket.create(tmp('brain-bucket-'));
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'x');
    const s1 = sync(a, bucket, 1);
    await s1.restoreOnBoot();
    await s1.push({ reason: 'push' });
    const other = sync(machine(), bucket, 2, {}, new BrainKey(BrainKey.generate()));
    await expect(other.restoreOnBoot()).rejects.toThrow(/does not decrypt with this agent's data key/);
  });

  it('never syncs secrets, live database files, symlinks, FIFOs or oversize files, and says why', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    const outside = tmp('outside-');
    writeFileSync(join(outside, 'passwd'), CANARY);
    writeFileSync(join(a.workspace, 'AGENTS.md'), 'rules');
    writeFileSync(join(a.workspace, '.env'), `KEY=${CANARY}`);
    mkdirSync(join(a.workspace, 'credentials'));
    writeFileSync(join(a.workspace, 'credentials', 'anthropic'), CANARY);
    writeFileSync(join(a.workspace, 'notes.sqlite-wal'), CANARY);
    symlinkSync(join(outside, 'passwd'), join(a.workspace, 'link.md'));
    symlinkSync(outside, join(a.workspace, 'linkdir'));
    execFileSync('mkfifo', [join(a.workspace, 'pipe')]);
    writeFileSync(join(a.workspace, 'big.bin'), Buffer.alloc(2048, 1));
    const s = sync(a, bucket, 1, { maxFileBytes: 1024 });
    await s.restoreOnBoot();
    logs.length = 0;
    await s.push({ reason: 'push' });
    expect(Object.keys(s.current?.files ?? {})).toEqual(['AGENTS.md']);
    expect(bucketBytes(bucketDir).includes(CANARY)).toBe(false);
    const reasons = logs.filter((l) => l.msg === 'workspace file not synced').map((l) => `${String(l['file'])}: ${String(l['reason'])}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'link.md: symlink (not followed)',
        'linkdir: symlink (not followed)',
        'pipe: FIFO',
        expect.stringMatching(/^big.bin: larger than the 1024-byte limit/),
      ]),
    );
    expect(s.status().skippedFiles).toBe(4);
  });

  it('counts names that are not UTF-8 and paths too deep to keep by reason, logs each path once, and watches without errors', async () => {
    const bucket = await LocalBucket.create(tmp('brain-bucket-'));
    const a = machine();
    writeFileSync(join(a.workspace, 'fine.md'), 'synced');
    writeFileSync(Buffer.from(`${a.workspace}/bad-\xff.md`, 'latin1'), 'x');
    mkdirSync(Buffer.from(`${a.workspace}/dir-\xfe`, 'latin1'));
    writeFileSync(Buffer.from(`${a.workspace}/dir-\xfe/inside.md`, 'latin1'), 'x');
    const deep = join(a.workspace, ...Array.from({ length: 6 }, () => 'd'.repeat(200)));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'deep.md'), 'x');
    const s = sync(a, bucket, 1, { debounceMs: 100, maxWaitMs: 300 });
    await s.restoreOnBoot();
    logs.length = 0;
    await s.push({ reason: 'push' });
    expect(Object.keys(s.current?.files ?? {})).toEqual(['fine.md']);
    expect(s.status()).toMatchObject({ skippedFiles: 3, skippedByReason: { 'invalid-name': 2, 'path-too-long': 1 } });
    const skipped = (): string[] => logs.filter((l) => l.msg === 'workspace file not synced').map((l) => `${String(l['file'])}: ${String(l['reason'])}`);
    expect(skipped().sort()).toEqual([
      'bad-\\xff.md: name is not valid UTF-8',
      `${'d'.repeat(200)}/${'d'.repeat(200)}/${'d'.repeat(200)}/${'d'.repeat(200)}/${'d'.repeat(200)}/${'d'.repeat(200)}: path longer than 1024 bytes (nothing under this directory syncs)`,
      'dir-\\xfe: directory name is not valid UTF-8 (nothing under it syncs)',
    ]);
    await s.push({ reason: 'push', full: true });
    expect(skipped()).toHaveLength(3);
    // While watching: a new bad name is found by the rescan its mangled event asks for; deeper trees raise no watch errors.
    await s.start();
    writeFileSync(Buffer.from(`${a.workspace}/late-\xfd.md`, 'latin1'), 'x');
    mkdirSync(join(deep, 'e'.repeat(200), 'f'.repeat(200)), { recursive: true });
    writeFileSync(join(deep, 'e'.repeat(200), 'f'.repeat(200), 'deeper.md'), 'x');
    await until(() => s.status().skippedByReason?.['invalid-name'] === 3, 'the late bad name counted', 5000, () => s.status());
    expect(s.status().skippedFiles).toBe(4);
    expect(logs.filter((l) => /watch error/.test(l.msg))).toEqual([]);
    // Fixed, a file is no longer counted.
    rmSync(Buffer.from(`${a.workspace}/bad-\xff.md`, 'latin1'));
    await s.push({ reason: 'push', full: true });
    expect(s.status().skippedByReason).toEqual({ 'invalid-name': 2, 'path-too-long': 1 });
  });

  it('pushes a change within the debounce window and only the changed content goes up', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    for (let i = 0; i < 50; i++) writeFileSync(join(a.workspace, `f${i}.md`), `file ${i}`);
    const s = sync(a, bucket, 1, { debounceMs: 200, maxWaitMs: 1000 });
    await s.restoreOnBoot();
    await s.push({ reason: 'push' });
    await s.start();
    const before = s.current?.id;
    const t0 = Date.now();
    writeFileSync(join(a.workspace, 'f7.md'), 'changed');
    rmSync(join(a.workspace, 'f8.md'));
    await until(() => s.current?.id !== before && s.current?.files['f7.md']?.size === 7 && !s.current.files['f8.md'], 'the change pushed', 5000, () => s.status());
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s.current?.tombstones['f8.md']).toBeGreaterThan(0);
    expect(s.current?.stats.files).toBe(49);
  });

  it('refuses a sync that would delete most of the workspace, and deletes nothing', async () => {
    const bucket = await LocalBucket.create(tmp('brain-bucket-'));
    const a = machine();
    for (let i = 0; i < 40; i++) writeFileSync(join(a.workspace, `f${i}.md`), `file ${i}`);
    const s = sync(a, bucket, 1);
    await s.restoreOnBoot();
    const first = await s.push({ reason: 'push' });
    for (let i = 0; i < 30; i++) rmSync(join(a.workspace, `f${i}.md`));
    await expect(s.push({ reason: 'push', full: true })).rejects.toThrow(/refusing to delete 30 of 40 workspace files/);
    expect(s.current?.id).toBe(first.snapshot);
    expect(s.status()).toMatchObject({ state: 'error' });
    expect(s.status().lastError).toMatch(/refusing to delete/);
    const forced = await s.push({ reason: 'push', full: true, allowDeletes: true });
    expect(forced.deletedFiles).toBe(30);
  });

  it('a stale writer is refused once a newer lease claims the brain, and says so', async () => {
    const bucket = await LocalBucket.create(tmp('brain-bucket-'));
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'old machine');
    const old = sync(a, bucket, 1);
    await old.restoreOnBoot();
    await old.push({ reason: 'push' });
    const b = machine();
    const fresh = sync(b, bucket, 2);
    await fresh.restoreOnBoot(); // claims HEAD for lease 2
    writeFileSync(join(a.workspace, 'SOUL.md'), 'late write from the old machine');
    await expect(old.push({ reason: 'push', full: true })).rejects.toBeInstanceOf(StaleWriterError);
    expect(old.status().state).toBe('stale');
    expect(old.status().lastError).toMatch(/stale writer: this agentd holds writer lease 1, but .* is owned by lease 2/);
    const store = new BrainStore({ bucket, plane: 'p', agent: 'a', key });
    const current = await store.current();
    expect(current?.fence).toBe(1);
    expect((await store.readHead())?.fence).toBe(2);
    // The refused writer left no snapshot behind that a restore could pick.
    for (const id of await store.listSnapshots()) expect((await store.readManifest(id)).files['SOUL.md']?.size).toBe('old machine'.length);
  });

  it('a bucket outage keeps local files, shows the lag, and catches up afterwards', async () => {
    const bucketDir = join(tmp('brain-outage-'), 'bucket');
    mkdirSync(bucketDir);
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'v1');
    const s = sync(a, bucket, 1, { debounceMs: 100, maxWaitMs: 300 });
    await s.restoreOnBoot();
    await s.push({ reason: 'push' });
    await s.start();
    // The bucket goes away (its directory is replaced by a file: every call fails).
    renameSync(bucketDir, bucketDir + '.away');
    writeFileSync(bucketDir, 'not a directory');
    writeFileSync(join(a.workspace, 'MEMORY.md'), 'written during the outage');
    // The push fails, and the change waits: its lag grows past the debounce window while the bucket is away.
    await until(() => s.status().state === 'error' && Number(s.status().lagMs) > 500, 'the failed push and a growing lag', 10_000, () => s.status());
    const during = s.status();
    expect(during.pendingChanges).toBeGreaterThan(0);
    expect(readFileSync(join(a.workspace, 'MEMORY.md'), 'utf8')).toBe('written during the outage');
    rmSync(bucketDir);
    renameSync(bucketDir + '.away', bucketDir);
    await until(() => s.current?.files['MEMORY.md'] !== undefined, 'the catch-up push', 10_000, () => s.status());
    expect(s.status()).toMatchObject({ state: 'idle', lagMs: 0, lastError: '' });
  });

  it('kill -9 in the middle of a push leaves the last complete snapshot current', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'complete');
    const s = sync(a, bucket, 1);
    await s.restoreOnBoot();
    const good = await s.push({ reason: 'push' });
    // 40 MB of new files; a child process pushes them and is killed mid-way.
    for (let i = 0; i < 10; i++) writeFileSync(join(a.workspace, `blob${i}.bin`), Buffer.alloc(4 * 1024 * 1024, i + 1));
    const child = spawn(process.execPath, [join(import.meta.dirname, 'helpers', 'push-child.ts'), bucketDir, a.workspace, a.dbDir, a.stateDir], {
      stdio: 'ignore',
      env: { ...process.env, BRAIN_KEY_HEX: rawKey.toString('hex') },
    });
    const chunksDir = join(bucketDir, 'planes', 'p', 'agents', 'a', 'chunks');
    const countChunks = (): number => (existsSync(chunksDir) ? readdirSync(chunksDir).reduce((n, d) => n + readdirSync(join(chunksDir, d)).length, 0) : 0);
    const initial = countChunks();
    // Polled often: the child must be caught with some of its chunks up and its HEAD not yet moved.
    await until(() => countChunks() >= initial + 3, 'the child to upload its first chunks', 20_000, countChunks, 5);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const store = new BrainStore({ bucket, plane: 'p', agent: 'a', key });
    expect((await store.readHead())?.manifest).toBe(good.snapshot);
    const b = machine();
    const s2 = sync(b, bucket, 2);
    expect(await s2.restoreOnBoot()).toMatchObject({ action: 'restored', snapshot: good.snapshot, files: 1 });
    expect(statSync(join(b.workspace, 'SOUL.md')).size).toBe('complete'.length);
  });
});

describe('restore from a local bucket in worker threads', () => {
  it('restores hundreds of files exactly, and leaves out (and names) the files a tampered chunk belongs to', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const a = machine();
    for (let d = 0; d < 10; d++) {
      mkdirSync(join(a.workspace, 'memory', `d${d}`), { recursive: true });
      for (let i = 0; i < 30; i++) writeFileSync(join(a.workspace, 'memory', `d${d}`, `${i}.md`), `note ${d}/${i} `.repeat(i + 1));
    }
    writeFileSync(join(a.workspace, 'big.bin'), Buffer.alloc(9 * 1024 * 1024, 7)); // three chunks
    const s = sync(a, bucket, 1);
    await s.restoreOnBoot();
    await s.push({ reason: 'push' });
    const b = machine();
    const progress: string[] = [];
    const boot = await sync(b, bucket, 2).restoreOnBoot({ onProgress: (m) => progress.push(m) });
    expect(boot).toMatchObject({ action: 'restored', files: 301 });
    for (let d = 0; d < 10; d++) for (let i = 0; i < 30; i += 7) expect(readFileSync(join(b.workspace, 'memory', `d${d}`, `${i}.md`), 'utf8')).toBe(`note ${d}/${i} `.repeat(i + 1));
    expect(readFileSync(join(b.workspace, 'big.bin')).equals(Buffer.alloc(9 * 1024 * 1024, 7))).toBe(true);
    expect(Math.floor(statSync(join(b.workspace, 'memory', 'd3', '5.md')).mtimeMs)).toBe(Math.floor(statSync(join(a.workspace, 'memory', 'd3', '5.md')).mtimeMs));
    expect(progress.at(-1)).toMatch(/restoring brain: 301\/301 files/);

    // Flip one byte of one sealed chunk: the restore finds it, leaves out the files that need it and says so;
    // nothing half-written is left as a file.
    const chunks = join(bucketDir, 'planes', 'p', 'agents', 'a', 'chunks');
    const sub = readdirSync(chunks)[0] as string;
    const victimName = readdirSync(join(chunks, sub))[0] as string;
    const victim = join(chunks, sub, victimName);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    writeFileSync(victim, bytes);
    const needing = Object.entries(s.current?.files ?? {}).filter(([, e]) => e.chunks.includes(victimName)).map(([p]) => p);
    expect(needing.length).toBeGreaterThan(0);
    const c = machine();
    logs.length = 0;
    const partial = await sync(c, bucket, 3).restoreOnBoot();
    expect(partial.fallback).toMatchObject({ newest: s.current?.id, used: s.current?.id, unrestored: needing.sort(), unrestoredCount: needing.length });
    expect(partial.fallback?.reason).toMatch(/no snapshot is complete/);
    expect(logs.some((l) => l.msg === 'a chunk did not restore; choosing again without it' && /does not decrypt with this agent's data key \(wrong key, or the object was altered\)/.test(String(l['reason'])))).toBe(true);
    for (const p of needing) expect(existsSync(join(c.workspace, p))).toBe(false);
    expect(readFileSync(join(c.workspace, 'memory', 'd3', '5.md'), 'utf8')).toBe(`note 3/5 `.repeat(6));
    expect(readdirSync(c.workspace, { recursive: true }).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
  });
});

describe('snapshot retention', () => {
  const id = (atMs: number, reason = 'push'): string => `${new Date(atMs).toISOString().replace(/[-:]/g, '')}-${reason}-f1-abcdef`;
  const now = Date.UTC(2026, 10, 21, 12, 0, 0);

  it('keeps the last hour, one per hour for 48 h, one per day for 30 days, manual ones for 90 days, and the current one', () => {
    const ids = [
      id(now - 10 * 60_000), // within the hour
      id(now - 50 * 60_000),
      id(now - 3 * 3600_000 - 20 * 60_000), // hour bucket: newest of that hour kept ...
      id(now - 3 * 3600_000 - 30 * 60_000), // ... this older one in the same hour is not
      id(now - 10 * 86_400_000), // newest of its day
      id(now - 10 * 86_400_000 - 60_000),
      id(now - 40 * 86_400_000), // too old for daily
      id(now - 60 * 86_400_000, 'manual'), // manual: kept 90 days
      id(now - 100 * 86_400_000, 'manual'),
      id(now - 200 * 86_400_000), // current snapshot: always kept
    ];
    const keep = retained(ids, ids[9] as string, DEFAULT_RETENTION, now);
    expect(ids.map((x) => keep.has(x))).toEqual([true, true, true, false, true, false, false, true, false, true]);
  });

  it('prune deletes unkept snapshots and chunks nothing kept references, and the brain still restores', async () => {
    const bucket = await LocalBucket.create(tmp('brain-bucket-'));
    const a = machine();
    const s = sync(a, bucket, 1);
    await s.restoreOnBoot();
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(a.workspace, 'MEMORY.md'), `version ${i}`);
      await s.push({ reason: 'push', full: true });
    }
    const store = new BrainStore({ bucket, plane: 'p', agent: 'a', key });
    expect(await store.listSnapshots()).toHaveLength(5);
    // Two days later nothing is within the hour: one snapshot per hour is kept (all five are in one hour), and
    // chunks only old snapshots used are past the grace period.
    const r = await store.prune(DEFAULT_RETENTION, Date.now() + 2 * 86_400_000);
    expect(r).toMatchObject({ snapshotsDeleted: 4, snapshotsKept: 1, chunksDeleted: 4 });
    const b = machine();
    await sync(b, bucket, 2).restoreOnBoot();
    expect(readFileSync(join(b.workspace, 'MEMORY.md'), 'utf8')).toBe('version 4');
  });
});

// rotate-secrets regenerates the brain data key: every snapshot is rewritten under the new key,
// and a rotation cut off half-way leaves everything readable and finishes when run again.
describe('brain data key rotation', () => {
  const openWith = (dir: string, k: BrainKey): number => openedBy(sealedObjects(dir), k);

  it('rewrites every snapshot under the new key; old snapshots still restore; the old key opens nothing; a cut-off rotation resumes', async () => {
    const bucketDir = tmp('brain-bucket-');
    const bucket = await LocalBucket.create(bucketDir);
    const oldRaw = BrainKey.generate();
    const a = machine();
    const s1 = sync(a, bucket, 1, {}, new BrainKey(oldRaw));
    await s1.restoreOnBoot();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'version one');
    writeFileSync(join(a.workspace, 'big.md'), Buffer.alloc(300_000, 'x'));
    const db = agentDb(a);
    db.prepare('INSERT INTO sessions VALUES (?, ?)').run('s1', 'first');
    const first = await s1.push({ reason: 'push', databases: true, full: true });
    writeFileSync(join(a.workspace, 'SOUL.md'), 'version two');
    db.prepare('INSERT INTO sessions VALUES (?, ?)').run('s2', 'second');
    const second = await s1.push({ reason: 'push', databases: true, full: true });
    db.close();
    expect(first.snapshot).not.toBe(second.snapshot);
    const sealed = openWith(bucketDir, new BrainKey(oldRaw));
    expect(sealed).toBeGreaterThanOrEqual(6); // 2 manifests, 4+ distinct chunks

    const newRaw = BrainKey.generate();
    const ring = new BrainKey(Buffer.concat([newRaw, oldRaw]));
    expect(ring.keyId).toBe(BrainKey.keyIdOf(newRaw));
    expect(ring.keyId).not.toBe(BrainKey.keyIdOf(oldRaw));

    // Cut off half-way: the bucket fails after a few writes.
    const flaky = new LocalBucket(bucketDir);
    let puts = 0;
    const put = flaky.put.bind(flaky);
    flaky.put = async (name, data, options) => {
      if (++puts > 3) throw new Error('injected: the bucket went away');
      return put(name, data, options);
    };
    const cut = new BrainStore({ bucket: flaky, plane: 'p', agent: 'a', key: ring });
    await expect(cut.reencrypt()).rejects.toThrow(/injected/);
    // Half-way, the ring still opens every snapshot, and nothing was deleted.
    const half = new BrainStore({ bucket, plane: 'p', agent: 'a', key: ring });
    for (const id of await half.listSnapshots()) await expect(half.readManifest(id)).resolves.toMatchObject({ id });
    expect(openWith(bucketDir, new BrainKey(oldRaw))).toBe(sealed);

    // agentd's path: the sync queue re-encrypts, then the next push builds on the rewritten snapshot.
    const progress: string[] = [];
    const r = await s1.rekey(ring, (m) => progress.push(m));
    expect(r).toMatchObject({ snapshots: 2, rewritten: 2, keyId: ring.keyId });
    expect(r.chunks).toBeGreaterThanOrEqual(4);
    expect(r.deleted).toBe(r.chunks); // every chunk re-sealed here had its old-key object deleted
    expect(progress.at(-1)).toMatch(/re-encrypting snapshot 2\/2/);
    s1.useKey(ring.currentOnly());
    expect(openWith(bucketDir, new BrainKey(oldRaw))).toBe(0);
    writeFileSync(join(a.workspace, 'SOUL.md'), 'version three');
    const third = await s1.push({ reason: 'push', full: true });
    expect(third.committed).toBe(true);

    // With the new key alone: every snapshot, the old ones too, restores on a fresh machine.
    const only = new BrainStore({ bucket, plane: 'p', agent: 'a', key: new BrainKey(newRaw) });
    const ids = await only.listSnapshots();
    expect(ids).toHaveLength(3);
    for (const [i, id] of ids.entries()) {
      const b = machine();
      await only.restore(await only.readManifest(id), { workspaceDir: b.workspace, databaseDir: b.dbDir });
      expect(readFileSync(join(b.workspace, 'SOUL.md'), 'utf8')).toBe(['version one', 'version two', 'version three'][i]);
      expect(readFileSync(join(b.workspace, 'big.md')).length).toBe(300_000);
      if (i < 2) expect(countSessions(join(b.dbDir, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'))).toBe(i + 1);
    }
    // A second rotation with nothing left under an older key rewrites nothing.
    expect(await only.reencrypt()).toMatchObject({ rewritten: 0, chunks: 0, deleted: 0 });
  });
});
