import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PlaneError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import type { Logger } from '../logger.ts';
import { acquireInstallLock } from './install-lock.ts';
import { npmEnv, npmFailure, run, type RunResult } from './npm-runner.ts';
import { fsError, readText } from './runtime-fs.ts';
import { isVerified, keyFile, type Kind, packageDir, type Pkg, fetchRegistryIntegrity, verifyStaging } from './runtime-verify.ts';
import {
  assertSafeOpenclaw,
  compareNodeVersions,
  compareOpenclawVersions,
  nodePackageName,
  type RuntimeSet,
  validateNodeVersion,
  validateOpenclawVersion,
} from './runtime-versions.ts';

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

// Approximate download sizes, for the progress line only.
const APPROX_SIZE: Record<Kind, string> = { node: '~30 MB', openclaw: '~650 MB' };

// trash.* and home.* under tmp/ older than this belong to no running install.
const LEFTOVER_AGE_MS = 60 * 60_000;

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

  /** Paths for a set (validates the version strings; no I/O). */
  paths(set: RuntimeSet): RuntimePaths {
    const node = this.#pkg('node', validateNodeVersion(set.node));
    const oc = this.#pkg('openclaw', validateOpenclawVersion(set.openclaw));
    const openclawDir = packageDir(this.#prefix(oc), oc);
    return { nodeBin: keyFile(this.#prefix(node), node), openclawDir, openclawEntry: join(openclawDir, 'openclaw.mjs') };
  }

  /** The pinned node binary for a version (no I/O). */
  nodeBin(version: string): string {
    const node = this.#pkg('node', validateNodeVersion(version));
    return keyFile(this.#prefix(node), node);
  }

  // ---- state ---------------------------------------------------------------

  /** True if both prefixes carry a valid marker and their files exist. Reads a few small files; runs nothing. */
  isInstalled(set: RuntimeSet): boolean {
    return this.isNodeInstalled(set.node) && this.isOpenclawInstalled(set.openclaw);
  }

  isNodeInstalled(version: string): boolean {
    const p = this.#pkg('node', validateNodeVersion(version));
    return isVerified(p, this.#prefix(p));
  }

  isOpenclawInstalled(version: string): boolean {
    const p = this.#pkg('openclaw', validateOpenclawVersion(version));
    return isVerified(p, this.#prefix(p));
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
      return names.filter((v) => valid(v) && isVerified(this.#pkg(kind, v), join(this.root, kind, v)));
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
    return keyFile(this.#prefix(p), p);
  }

  /** A concurrent caller in this process joins the running install (and shares its AbortSignal). */
  async #ensure(p: Pkg, nodeBin: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (isVerified(p, this.#prefix(p))) return;
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
    const release = await acquireInstallLock(join(this.root, 'locks', p.id), {
      spec: p.spec,
      timeoutMs: this.#lockTimeoutMs,
      signal,
      log: this.#log,
      onWait: this.#progress,
      discard: (dir) => this.#discard(dir),
    });
    try {
      const prefix = this.#prefix(p);
      // Another process may have finished it while we waited.
      if (isVerified(p, prefix)) {
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
      const registryIntegrity = await fetchRegistryIntegrity(this.#npm, p, staging, prefix, env, common, signal);

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
      const marker = await verifyStaging(p, staging, prefix, registryIntegrity, nodeBin, join(this.root, 'tmp'), signal);
      writeFileAtomic(join(staging, '.verified.json'), `${JSON.stringify(marker, null, 2)}\n`, 0o644);
      this.#checkAborted(p, signal);
      try {
        renameSync(staging, prefix);
      } catch (err) {
        // Only a verified prefix is ever renamed into place, so if one appeared meanwhile it is as good as ours.
        if (isVerified(p, prefix)) {
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

}
