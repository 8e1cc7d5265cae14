import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, PlaneError } from '../errors.ts';
import { Logger, silentSink } from '../logger.ts';
import { RuntimeManager, type RuntimeManagerOptions } from './runtime-manager.ts';
import type { VerifiedMarker } from './runtime-verify.ts';
import {
  MIN_SAFE_OPENCLAW,
  type RuntimeSet,
  assertSafeOpenclaw,
  compareOpenclawVersions,
  nodePackageName,
  validateNodeVersion,
  validateOpenclawVersion,
} from './runtime-versions.ts';

const NODE = '24.21.0';
const OPENCLAW = '2026.9.6';
const SET: RuntimeSet = { node: NODE, openclaw: OPENCLAW };
const NETWORK_TIMEOUT = 120_000;

const log = new Logger('test', { sink: silentSink });
const roots: string[] = [];

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'runtime-test-'));
  roots.push(root);
  return root;
}

afterAll(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function manager(root: string, over: Partial<RuntimeManagerOptions> = {}): { m: RuntimeManager; progress: string[] } {
  const progress: string[] = [];
  const m = new RuntimeManager({ root, log, onProgress: (line) => progress.push(line), ...over });
  return { m, progress };
}

/** Resolves to the PlaneError a promise (or function) fails with. */
async function planeError(work: Promise<unknown> | (() => unknown)): Promise<PlaneError> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    expect(err).toBeInstanceOf(PlaneError);
    return err as PlaneError;
  }
  throw new Error('expected a PlaneError, got success');
}

/**
 * A hand-made OpenClaw prefix shaped like a verified install (the real package
 * is ~650 MB and is installed by the integration tests, not here).
 */
function fakeOpenclaw(root: string, version: string): void {
  const prefix = join(root, 'openclaw', version);
  const dir = join(prefix, 'node_modules', 'openclaw');
  mkdirSync(dir, { recursive: true });
  const integrity = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
  writeFileSync(join(prefix, 'package.json'), JSON.stringify({ private: true, dependencies: { openclaw: version } }));
  writeFileSync(join(prefix, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/openclaw': { version, integrity } } }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'openclaw', version }));
  writeFileSync(join(dir, 'openclaw.mjs'), `console.log('OpenClaw ${version} (test)');\n`);
  const marker: VerifiedMarker = { package: 'openclaw', version, integrity, verifiedAt: new Date().toISOString() };
  writeFileSync(join(prefix, '.verified.json'), JSON.stringify(marker));
}

function readMarker(prefix: string): VerifiedMarker {
  return JSON.parse(readFileSync(join(prefix, '.verified.json'), 'utf8')) as VerifiedMarker;
}

function lockedIntegrity(prefix: string, name: string): string | undefined {
  const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as { packages: Record<string, { integrity?: string }> };
  return lock.packages[`node_modules/${name}`]?.integrity;
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  if (!pid) throw new Error('could not spawn a short-lived process');
  return pid;
}

describe('version strings (no network)', () => {
  it('accepts exact Node 24.x.y versions only', async () => {
    for (const ok of ['24.21.0', '24.0.0', '24.100.12']) expect(validateNodeVersion(ok)).toBe(ok);
    for (const bad of ['24', '24.21', 'v24.21.0', '24.021.0', '24.21.0-rc.1', '^24.21.0', '24.x', '', ' 24.21.0', '../24.21.0', '24.21.0/..']) {
      const err = await planeError(() => validateNodeVersion(bad));
      expect(err.code, bad).toBe(ErrorCode.InvalidArgument);
    }
    const err = await planeError(() => validateNodeVersion('22.12.0'));
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toContain('22.12.0');
    expect(err.message).toContain('Node 24');
    expect((await planeError(() => validateNodeVersion(24))).code).toBe(ErrorCode.InvalidArgument);
  });

  it('accepts OpenClaw release versions and refuses anything else', async () => {
    for (const ok of ['2026.9.6', '2026.2.23-beta.1', '2026.3.23-1', '2026.7.33', '2026.12.1', '2027.1.0']) expect(validateOpenclawVersion(ok)).toBe(ok);
    for (const bad of [
      '2026.9',
      '2026.13.1',
      '2026.0.1',
      '2026.09.6',
      '2026.9.06',
      'v2026.9.6',
      'latest',
      '2026.9.6-',
      '2026.9.6-beta..1',
      '2026.9.6/../x',
      '../2026.9.6',
      '2026.9.6 ',
      '',
      '26.9.6',
    ]) {
      const err = await planeError(() => validateOpenclawVersion(bad));
      expect(err.code, bad).toBe(ErrorCode.InvalidArgument);
    }
  });

  it(`refuses OpenClaw below ${MIN_SAFE_OPENCLAW} (CVE-2026-25253) before touching npm or the disk`, async () => {
    const root = join(tempRoot(), 'never-created');
    const { m, progress } = manager(root, { npmCommand: join(root, 'no-such-npm') });
    for (const unsafe of ['2026.1.28', '2026.1.29-beta.1', '2025.12.31']) {
      const err = await planeError(m.install({ node: NODE, openclaw: unsafe }));
      expect(err.code, unsafe).toBe(ErrorCode.FailedPrecondition);
      expect(err.message).toContain(unsafe);
      expect(err.message).toContain(MIN_SAFE_OPENCLAW);
      expect(err.message).toContain('CVE-2026-25253');
      expect((await planeError(() => m.activate({ node: NODE, openclaw: unsafe }))).code).toBe(ErrorCode.FailedPrecondition);
    }
    expect(() => assertSafeOpenclaw(MIN_SAFE_OPENCLAW)).not.toThrow();
    expect(() => assertSafeOpenclaw('2026.1.29-1')).not.toThrow();
    // A bad Node version is refused before the (otherwise fine) OpenClaw version is looked at.
    expect((await planeError(m.install({ node: '22.12.0', openclaw: OPENCLAW }))).code).toBe(ErrorCode.InvalidArgument);
    expect(existsSync(root)).toBe(false);
    expect(progress).toEqual([]);
  });

  it('computes paths without I/O and refuses path-like versions', async () => {
    const root = join(tempRoot(), 'never-created');
    const { m } = manager(root);
    expect(m.paths(SET)).toEqual({
      nodeBin: join(root, 'node', NODE, 'node_modules', nodePackageName(), 'bin', 'node'),
      openclawDir: join(root, 'openclaw', OPENCLAW, 'node_modules', 'openclaw'),
      openclawEntry: join(root, 'openclaw', OPENCLAW, 'node_modules', 'openclaw', 'openclaw.mjs'),
    });
    expect((await planeError(() => m.paths({ node: NODE, openclaw: '../../etc' }))).code).toBe(ErrorCode.InvalidArgument);
    expect(existsSync(root)).toBe(false);
  });

  it('reports an empty root as empty and refuses to activate what is not installed', async () => {
    const root = tempRoot();
    const { m } = manager(root);
    expect(m.isInstalled(SET)).toBe(false);
    expect(m.active()).toBeUndefined();
    expect(m.list()).toEqual({ node: [], openclaw: [] });
    const err = await planeError(() => m.activate(SET));
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(err.message).toContain(`node@${NODE}`);
    expect(existsSync(join(root, 'active.json'))).toBe(false);
  });

  it('names a missing npm as Unavailable and leaves nothing behind', async () => {
    const root = tempRoot();
    const { m } = manager(root, { npmCommand: join(root, 'no-such-npm') });
    const err = await planeError(m.installNode(NODE));
    expect(err.code).toBe(ErrorCode.Unavailable);
    expect(err.message).toContain('no-such-npm');
    expect(err.message).toContain(nodePackageName());
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'locks'))).toEqual([]);
    expect(existsSync(join(root, 'node', NODE))).toBe(false);
  });
});

describe('the install lock (no network)', () => {
  it('waits for a live holder, then gives up with the holder and the lock named; an abort ends the wait', async () => {
    const root = tempRoot();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const lock = join(root, 'locks', `node@${NODE}`);
      mkdirSync(lock, { recursive: true });
      writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: holder.pid, nonce: 'other.0', host: hostname(), since: new Date().toISOString() }));
      const { m, progress } = manager(root, { npmCommand: join(root, 'no-such-npm'), lockTimeoutMs: 600 });
      const err = await planeError(m.installNode(NODE));
      expect(err.code).toBe(ErrorCode.DeadlineExceeded);
      expect(err.message).toContain(`pid ${holder.pid}`);
      expect(err.message).toContain(lock);
      expect(progress).toEqual([`waiting for another install of ${nodePackageName()}@${NODE} on this host (pid ${holder.pid})…`]);

      const { m: patient } = manager(root, { npmCommand: join(root, 'no-such-npm') });
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 300);
      expect((await planeError(patient.installNode(NODE, abort.signal))).code).toBe(ErrorCode.Aborted);
      // The live holder's lock is untouched.
      expect(existsSync(join(lock, 'owner.json'))).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('compareOpenclawVersions', () => {
  it('orders prereleases < release < corrections, numerically', () => {
    const ordered = [
      '2026.1.29',
      '2026.2.2-beta.1',
      '2026.2.2',
      '2026.2.2-1',
      '2026.2.2-3',
      '2026.2.10',
      '2026.7.1-alpha.3',
      '2026.7.1-beta.1',
      '2026.7.1-beta.2',
      '2026.7.1-beta.10',
      '2026.7.1',
      '2026.7.1-2',
      '2026.7.1-10',
      '2026.7.33',
      '2026.9.6',
      '2026.10.1',
      '2027.1.1',
    ];
    const shuffled = [...ordered].reverse();
    shuffled.push(shuffled.splice(3, 1)[0] ?? '');
    expect(shuffled.sort(compareOpenclawVersions)).toEqual(ordered);
    expect(compareOpenclawVersions('2026.9.6', '2026.9.6')).toBe(0);
    expect(compareOpenclawVersions('2026.9.6', '2026.10.1')).toBe(-1);
    expect(compareOpenclawVersions('2026.10.1', '2026.9.6')).toBe(1);
    expect(() => compareOpenclawVersions('2026.9.6', 'latest')).toThrow(PlaneError);
  });
});

describe('a real install of Node from the registry', () => {
  let root: string;
  let m: RuntimeManager;
  let progress: string[];
  let prefix: string;

  beforeAll(() => {
    root = tempRoot();
    ({ m, progress } = manager(root));
    prefix = join(root, 'node', NODE);
  });

  it(
    `installs node ${NODE}, verifies it and it runs`,
    async () => {
      const bin = await m.installNode(NODE);
      expect(bin).toBe(m.paths(SET).nodeBin);
      expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${NODE}`);

      const marker = readMarker(prefix);
      expect(marker.package).toBe(nodePackageName());
      expect(marker.version).toBe(NODE);
      expect(marker.integrity).toMatch(/^sha512-[A-Za-z0-9+/]+=*$/);
      expect(marker.integrity).toBe(lockedIntegrity(prefix, nodePackageName()));
      expect(Number.isNaN(Date.parse(marker.verifiedAt))).toBe(false);
      expect(JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8'))).toMatchObject({ private: true, dependencies: { [nodePackageName()]: NODE } });
      expect(m.isNodeInstalled(NODE)).toBe(true);

      expect(progress[0]).toMatch(new RegExp(`^installing ${nodePackageName()}@${NODE} \\(first time on this host`));
      expect(progress).toContain(`verifying ${nodePackageName()}@${NODE}…`);
      expect(progress.at(-1)).toMatch(new RegExp(`^${nodePackageName()}@${NODE} ready`));
      // No staging directory or lock is left behind.
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      expect(readdirSync(join(root, 'locks'))).toEqual([]);
    },
    NETWORK_TIMEOUT,
  );

  it('a second install is a no-op: no npm, no progress, fast', async () => {
    fakeOpenclaw(root, OPENCLAW);
    // An npm that does not exist: any npm call would fail the install.
    const { m: offline, progress: quiet } = manager(root, { npmCommand: join(root, 'no-such-npm') });
    expect(offline.isInstalled(SET)).toBe(true);
    const started = performance.now();
    const paths = await offline.install(SET);
    const ms = performance.now() - started;
    expect(paths).toEqual(m.paths(SET));
    expect(ms).toBeLessThan(250);
    expect(quiet).toEqual([]);
    expect(await offline.installNode(NODE)).toBe(paths.nodeBin);
  });

  it('activates atomically and reads the active pair back', () => {
    m.activate(SET);
    expect(m.active()).toEqual(SET);
    // Another manager on the same root (another agent on the host) sees the same pair.
    expect(manager(root).m.active()).toEqual(SET);
    expect(JSON.parse(readFileSync(join(root, 'active.json'), 'utf8'))).toMatchObject(SET);
    expect(readdirSync(root).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(m.list()).toEqual({ node: [NODE], openclaw: [OPENCLAW] });
  });

  it(
    'a tampered marker makes the version absent; install replaces it (breaking a stale lock)',
    async () => {
      const marker = readMarker(prefix);
      writeFileSync(join(prefix, '.verified.json'), JSON.stringify({ ...marker, integrity: `sha512-${Buffer.alloc(64).toString('base64')}` }));
      expect(m.isNodeInstalled(NODE)).toBe(false);
      expect(m.isInstalled(SET)).toBe(false);
      expect(m.list().node).toEqual([]);
      writeFileSync(join(prefix, '.verified.json'), '{ not json');
      expect(m.isNodeInstalled(NODE)).toBe(false);
      writeFileSync(join(prefix, '.verified.json'), JSON.stringify({ ...marker, version: '24.20.0' }));
      expect(m.isNodeInstalled(NODE)).toBe(false);

      // A lock left by a process that died mid-install must not block the repair.
      const lock = join(root, 'locks', `node@${NODE}`);
      mkdirSync(lock, { recursive: true });
      writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: deadPid(), nonce: 'gone.0', host: hostname(), since: new Date().toISOString() }));
      // So is a staging directory it left.
      mkdirSync(join(root, 'tmp', `node@${NODE}.1.dead`), { recursive: true });

      progress.length = 0;
      await m.installNode(NODE);
      expect(m.isNodeInstalled(NODE)).toBe(true);
      expect(readMarker(prefix).verifiedAt).not.toBe(marker.verifiedAt);
      expect(progress.some((l) => l.startsWith('waiting'))).toBe(false);
      expect(progress.some((l) => l.startsWith('installing'))).toBe(true);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      expect(readdirSync(join(root, 'locks'))).toEqual([]);
    },
    NETWORK_TIMEOUT,
  );

  it('a deleted binary makes the version absent', () => {
    expect(m.isInstalled(SET)).toBe(true);
    rmSync(m.paths(SET).nodeBin);
    expect(m.isNodeInstalled(NODE)).toBe(false);
    expect(m.isInstalled(SET)).toBe(false);
    expect(m.list()).toEqual({ node: [], openclaw: [OPENCLAW] });
    rmSync(join(root, 'openclaw', OPENCLAW, 'node_modules', 'openclaw', 'openclaw.mjs'));
    expect(m.isOpenclawInstalled(OPENCLAW)).toBe(false);
  });
});

describe('concurrent installs on one root', () => {
  it(
    'two installers of the same version share one download and one verified prefix',
    async () => {
      const root = tempRoot();
      // Two managers stand for two agentd processes: they share nothing but the root.
      const a = manager(root);
      const b = manager(root);
      const [binA, binB] = await Promise.all([a.m.installNode(NODE), b.m.installNode(NODE)]);
      expect(binA).toBe(binB);
      expect(a.m.isNodeInstalled(NODE)).toBe(true);
      expect(execFileSync(binA, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${NODE}`);
      const all = [...a.progress, ...b.progress];
      expect(all.filter((l) => l.startsWith('installing'))).toHaveLength(1);
      expect(all.filter((l) => l.startsWith('waiting for another install'))).toHaveLength(1);
      expect(all).toContain(`${nodePackageName()}@${NODE} ready (installed by another process)`);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      expect(readdirSync(join(root, 'locks'))).toEqual([]);
      expect(readdirSync(join(root, 'node'))).toEqual([NODE]);
    },
    NETWORK_TIMEOUT,
  );
});
