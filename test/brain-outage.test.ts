import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brainStore } from '../hub/src/brain/brain-ops.ts';
import type { SyncView } from '../common/src/brain/sync-view.ts';
import { type AgentJson, processAlive, run, TestFleet, waitUntil } from './helpers/fleet.ts';
import { type GcsStandin, startGcsStandin } from './helpers/gcs-standin.ts';

// Real agentd processes (placeholder gateways) against a bucket that goes away, loses objects or
// comes back as an older copy: the local-directory backend, and Google Cloud Storage through the
// real @google-cloud/storage client against the JSON API stand-in on loopback. In each, no file
// written before or during the trouble is lost once the bucket is back.

type Agent = AgentJson & { heartbeat: { heartbeat: { sync: SyncView | null } } | null };

/** Quick pushes and a bucket check every 2 s instead of every 5 minutes. */
const SYNC = { debounceMs: 100, maxWaitMs: 300, checkCron: '*/2 * * * * *' };
const OUTAGE_MS = 10_000;

/** Where a chunk of an agent's brain lives in the bucket (the layout in docs/architecture.md). */
const chunkObject = (prefix: string, chunk: string): string => `${prefix}chunks/${chunk.slice(0, 2)}/${chunk}`;

function harness(fleet: () => TestFleet, plane: string) {
  const agent = async (name: string): Promise<Agent> => (await fleet().agent(plane, name)) as Agent;
  const sync = async (name: string): Promise<SyncView> => (await agent(name)).heartbeat?.heartbeat.sync ?? {};
  const ws = (name: string): string => fleet().workspaceDir(plane, name);
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args, '--plane', plane], { env: fleet().cliEnv(), timeoutMs: 120_000 });
  /** Every listed file is in the agent's current snapshot and nothing is waiting to be pushed. */
  const pushed = async (name: string, files: string[], timeoutMs = 20_000): Promise<void> => {
    await waitUntil(
      async () => {
        const s = await sync(name);
        if (s.state !== 'idle' || Number(s.lagMs) !== 0 || s.untrusted) return false;
        const m = await (await brainStore(fleet().hub.context, plane, name)).current();
        return files.every((f) => m?.files[f] !== undefined);
      },
      timeoutMs,
      `${files.join(', ')} pushed by ${name}`,
    );
  };
  const verified = async (name: string): Promise<void> => {
    const v = await planes('verify-backup', '--name', name, '--json');
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect((JSON.parse(v.stdout) as { ok: boolean }).ok).toBe(true);
  };
  /** A new machine: the old one's directories go, the new agentd restores; every file is back. */
  const reprovisionHas = async (name: string, files: Record<string, string>): Promise<Agent> => {
    const r = await planes('reprovision', '--name', name);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const a = (await fleet().waitFor(plane, name, (x) => x.health.color === 'green', 90_000)) as Agent;
    for (const [f, text] of Object.entries(files)) expect(readFileSync(join(ws(name), f), 'utf8'), f).toBe(text);
    return a;
  };
  return { agent, sync, ws, planes, pushed, verified, reprovisionHas };
}

describe('brain on a local bucket that goes away or loses objects, real agentd', () => {
  let fleet: TestFleet;
  const plane = 'outage';
  const h = harness(() => fleet, plane);

  beforeAll(async () => {
    fleet = await new TestFleet({ localSyncSettings: SYNC }).start();
    await fleet.createPlane(plane);
  });
  afterAll(async () => {
    await fleet.destroy();
  });

  it('the bucket directory moved away for 10 s while the agent writes: yellow with the reason, not created again, and nothing lost', async () => {
    await fleet.addAgent(plane, 'away');
    await fleet.waitFor(plane, 'away', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('away'), 'before.md'), 'written before');
    await h.pushed('away', ['before.md']);
    const bucket = join(fleet.dataDir, 'bucket');
    renameSync(bucket, `${bucket}.away`);
    const t0 = Date.now();
    writeFileSync(join(h.ws('away'), 'during.md'), 'written during the outage');
    const a = await fleet.waitFor(plane, 'away', (x) => x.health.color === 'yellow', 8000);
    expect(a.health.reason).toMatch(new RegExp(`^brain sync failing: bucket file://${bucket} is missing`));
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - t0))));
    expect(existsSync(bucket)).toBe(false);
    renameSync(`${bucket}.away`, bucket);
    await fleet.waitFor(plane, 'away', (x) => x.health.color === 'green', 90_000);
    await h.pushed('away', ['before.md', 'during.md'], 90_000);
    await h.verified('away');
    await h.reprovisionHas('away', { 'before.md': 'written before', 'during.md': 'written during the outage' });
  }, 300_000);

  it('a chunk deleted behind the agent: the check finds it, the agent uploads everything again, verify-backup passes, nothing lost', async () => {
    await fleet.addAgent(plane, 'chunk');
    await fleet.waitFor(plane, 'chunk', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('chunk'), 'a.md'), 'first');
    writeFileSync(join(h.ws('chunk'), 'b.md'), 'second');
    await h.pushed('chunk', ['a.md', 'b.md']);
    const store = await brainStore(fleet.hub.context, plane, 'chunk');
    const before = await store.current();
    for (const c of before?.files['a.md']?.chunks ?? []) rmSync(join(fleet.dataDir, 'bucket', chunkObject(store.prefix, c)));
    await waitUntil(async () => (await store.current())?.reason === 'repair', 20_000, 'a repair snapshot');
    await h.pushed('chunk', ['a.md', 'b.md']);
    await h.verified('chunk');
    const audit = await fleet.api<{ events: { action: string; outcome: string; detail: Record<string, unknown> }[] }>('GET', `/v1/audit?plane=${plane}&agent=chunk`);
    expect(audit.body.events.find((e) => e.action === 'brain.repair')).toMatchObject({ outcome: 'ok', detail: { reason: expect.stringMatching(/sampled chunks .* are missing/) as unknown } });
    await h.reprovisionHas('chunk', { 'a.md': 'first', 'b.md': 'second' });
  }, 300_000);

  it('HEAD deleted behind the agent: the check finds it and the agent writes it again, nothing lost', async () => {
    await fleet.addAgent(plane, 'head');
    await fleet.waitFor(plane, 'head', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('head'), 'a.md'), 'kept');
    await h.pushed('head', ['a.md']);
    const store = await brainStore(fleet.hub.context, plane, 'head');
    rmSync(join(fleet.dataDir, 'bucket', store.prefix, 'HEAD'));
    await waitUntil(async () => (await store.readHead()) !== null, 20_000, 'HEAD written again');
    expect((await store.current())?.reason).toBe('repair');
    writeFileSync(join(h.ws('head'), 'b.md'), 'after');
    await h.pushed('head', ['a.md', 'b.md']);
    await h.verified('head');
    await h.reprovisionHas('head', { 'a.md': 'kept', 'b.md': 'after' });
  }, 300_000);

  it('a machine that died with an incomplete newest snapshot: verify-backup lists every missing object and exits 1; a reprovision falls back, says so, and turns green', async () => {
    await fleet.addAgent(plane, 'dead');
    await fleet.waitFor(plane, 'dead', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('dead'), 'a.md'), 'old and safe');
    await h.pushed('dead', ['a.md']);
    writeFileSync(join(h.ws('dead'), 'b.md'), 'b'.repeat(100));
    writeFileSync(join(h.ws('dead'), 'c.md'), 'c'.repeat(100));
    await h.pushed('dead', ['a.md', 'b.md', 'c.md']);
    const pid = fleet.agentdPid(plane, 'dead');
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !processAlive(pid), 10_000, 'agentd gone');
    const store = await brainStore(fleet.hub.context, plane, 'dead');
    const newest = await store.current();
    const gone = ['b.md', 'c.md'].map((f) => chunkObject(store.prefix, newest?.files[f]?.chunks[0] ?? ''));
    for (const o of gone) rmSync(join(fleet.dataDir, 'bucket', o));

    const v = await h.planes('verify-backup', '--name', 'dead');
    expect(v.code, v.stdout + v.stderr).toBe(1);
    for (const o of gone) expect(v.stdout).toContain(o);
    expect(v.stdout).toContain('2 missing object(s)');
    const json = JSON.parse((await h.planes('verify-backup', '--name', 'dead', '--json')).stdout) as { ok: boolean; missing: string[]; unrestorable: string[] };
    expect(json).toMatchObject({ ok: false, missing: [...gone].sort(), unrestorable: ['b.md', 'c.md'] });

    const a = await h.reprovisionHas('dead', { 'a.md': 'old and safe' });
    expect(existsSync(join(h.ws('dead'), 'b.md'))).toBe(false);
    expect(a.heartbeat?.heartbeat.sync?.restoreFallback).toMatchObject({ newest: newest?.id, unrestored: ['b.md', 'c.md'], unrestoredCount: 2 });
    const status = await h.planes('status', '--name', 'dead');
    expect(status.stdout).toMatch(new RegExp(`restore +used snapshot \\S+ instead of the newest, ${newest?.id}: snapshot ${newest?.id} is missing 2 chunk`));
    expect(status.stdout).toContain('not restored as of the newest: b.md, c.md');
    const audit = await fleet.api<{ events: { action: string; outcome: string; detail: Record<string, unknown> }[] }>('GET', `/v1/audit?plane=${plane}&agent=dead`);
    expect(audit.body.events.find((e) => e.action === 'brain.restore_fallback')).toMatchObject({ outcome: 'failed', detail: { newest: newest?.id, unrestored: ['b.md', 'c.md'], unrestoredCount: '2' } });
    // What it restored is current again, complete.
    await h.verified('dead');
  }, 300_000);
});

describe('brain on Google Cloud Storage (stand-in) that goes away or comes back older, real agentd', () => {
  let fleet: TestFleet;
  let standin: GcsStandin;
  const plane = 'gcs';
  const bucketName = 'agents-plane-outage';
  const h = harness(() => fleet, plane);

  beforeAll(async () => {
    standin = await startGcsStandin();
    fleet = await new TestFleet({ localSyncSettings: SYNC, bucketUrl: `gs://${bucketName}`, gcsApiEndpoint: standin.endpoint }).start();
    await fleet.createPlane(plane);
  });
  afterAll(async () => {
    await fleet.destroy();
    await standin.close();
  });

  it('the bucket gone for 10 s while the agent writes: yellow with the reason, and nothing lost once it is back', async () => {
    await fleet.addAgent(plane, 'gone');
    await fleet.waitFor(plane, 'gone', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('gone'), 'before.md'), 'written before');
    await h.pushed('gone', ['before.md']);
    const copy = standin.takeBucket(bucketName);
    const t0 = Date.now();
    writeFileSync(join(h.ws('gone'), 'during.md'), 'written during the outage');
    const a = await fleet.waitFor(plane, 'gone', (x) => x.health.color === 'yellow', 15_000);
    expect(a.health.reason).toMatch(new RegExp(`^brain sync failing: bucket gs://${bucketName} is missing`));
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - t0))));
    standin.putBucket(bucketName, copy);
    await fleet.waitFor(plane, 'gone', (x) => x.health.color === 'green', 90_000);
    await h.pushed('gone', ['before.md', 'during.md'], 90_000);
    await h.verified('gone');
    await h.reprovisionHas('gone', { 'before.md': 'written before', 'during.md': 'written during the outage' });
  }, 300_000);

  it('the bucket restored from an older copy (HEAD and newer chunks gone back): the agent uploads everything again, nothing lost', async () => {
    await fleet.addAgent(plane, 'older');
    await fleet.waitFor(plane, 'older', (x) => x.health.color === 'green', 60_000);
    writeFileSync(join(h.ws('older'), 'a.md'), 'in the old copy');
    await h.pushed('older', ['a.md']);
    const old = standin.copyBucket(bucketName);
    writeFileSync(join(h.ws('older'), 'b.md'), 'newer than the copy');
    await h.pushed('older', ['a.md', 'b.md']);
    standin.putBucket(bucketName, old);
    const store = await brainStore(fleet.hub.context, plane, 'older');
    await waitUntil(async () => (await store.current())?.reason === 'repair', 20_000, 'a repair snapshot');
    await h.pushed('older', ['a.md', 'b.md']);
    await h.verified('older');
    expect(standin.names(bucketName, store.prefix).filter((n) => n.includes('/chunks/')).length).toBeGreaterThanOrEqual(2);
    await h.reprovisionHas('older', { 'a.md': 'in the old copy', 'b.md': 'newer than the copy' });
  }, 300_000);
});

describe('workspace files the brain cannot hold, real agentd', () => {
  let fleet: TestFleet;
  const plane = 'skips';
  const h = harness(() => fleet, plane);

  beforeAll(async () => {
    fleet = await new TestFleet({ localSyncSettings: { ...SYNC, maxFileBytes: 4096 } }).start();
    await fleet.createPlane(plane);
  });
  afterAll(async () => {
    await fleet.destroy();
  });

  it('are counted by reason in heartbeats, shown by planes status --name and agentd status, and logged once per path', async () => {
    await fleet.addAgent(plane, 'odd');
    await fleet.waitFor(plane, 'odd', (x) => x.health.color === 'green', 60_000);
    const ws = h.ws('odd');
    writeFileSync(join(ws, 'fine.md'), 'synced');
    writeFileSync(Buffer.from(`${ws}/caf\xe9-latin1.md`, 'latin1'), 'a name that is not UTF-8');
    let deep = ws;
    for (let i = 0; i < 6; i++) deep = join(deep, 'd'.repeat(200));
    await run('mkdir', ['-p', deep]);
    writeFileSync(join(deep, 'deep.md'), 'too deep to keep');
    writeFileSync(join(ws, 'big.bin'), Buffer.alloc(8192, 1));
    await run('ln', ['-s', '/etc/hostname', join(ws, 'link.md')]);
    // No manual sync: the watch alone gets each of them counted.
    const want = { 'invalid-name': 1, 'path-too-long': 1, 'too-large': 1, symlink: 1 };
    const seen = async (): Promise<Record<string, number>> => (await h.sync('odd')).skippedByReason ?? {};
    await waitUntil(async () => isDeepStrictEqual(await seen(), want), 20_000, 'skips counted by reason').catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await seen())}`);
    });
    expect((await h.sync('odd')).skippedFiles).toBe(4);
    const status = await h.planes('status', '--name', 'odd');
    expect(status.stdout).toMatch(/skipped +4 workspace files not synced: invalid-name 1, path-too-long 1, symlink 1, too-large 1/);
    const local = await run(process.execPath, ['bin/agentd.js', 'status', '--config', join(fleet.agentDir(plane, 'odd'), 'agentd.json')]);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('caf\\xe9-latin1.md: name is not valid UTF-8');
    expect(local.stdout).toMatch(/d{200}\/d{200}\/d{200}\/d{200}\/d{200}: path longer than 1024 bytes \(nothing under this directory syncs\)/);
    expect(local.stdout).toContain('big.bin: larger than the 4096-byte limit (8192 bytes)');
    expect(local.stdout).toContain('link.md: symlink (not followed)');
    // Another full rescan logs nothing new.
    expect((await h.planes('sync', '--name', 'odd')).code).toBe(0);
    const lines = readFileSync(join(fleet.agentDir(plane, 'odd'), 'agentd.log'), 'utf8').split('\n').filter((l) => l.includes('workspace file not synced'));
    expect(lines.filter((l) => l.includes('latin1.md'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('big.bin'))).toHaveLength(1);
    expect(lines).toHaveLength(4);
    expect(readFileSync(join(fleet.agentDir(plane, 'odd'), 'agentd.log'), 'utf8')).not.toMatch(/watch error/);
    // Fixed, it is no longer counted.
    rmSync(join(ws, 'big.bin'));
    await waitUntil(async () => (await h.sync('odd')).skippedFiles === 3, 20_000, 'the fixed file no longer counted');
    expect(readdirSync(ws)).toContain('fine.md');
  }, 200_000);
});
