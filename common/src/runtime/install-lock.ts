import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../backoff.ts';
import { ErrorCode, PlaneError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import type { Logger } from '../logger.ts';
import { fsError, readText } from './runtime-fs.ts';

/**
 * One installer per version per host: mkdir <root>/locks/<kind>@<version> (atomic)
 * plus an owner file. A lock whose owner is gone (dead pid, other boot, reused
 * pid) is broken. The lock only saves a second download: correctness comes from
 * the atomic rename of a verified staging directory.
 */

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


// A lock directory without an owner file this old was left by a process that died between mkdir and write.
const OWNERLESS_GRACE_MS = 30_000;

export interface InstallLockOptions {
  /** What is being installed, for messages: "openclaw@2026.9.6". */
  spec: string;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  log: Logger;
  /** Told once when another install holds the lock. */
  onWait: (message: string) => void;
  /** Moves a stale lock out of the way and deletes it. */
  discard: (dir: string) => void;
}

/** Takes the lock at `dir`, waiting for another holder; resolves to its release. */
export async function acquireInstallLock(dir: string, o: InstallLockOptions): Promise<() => void> {
  const deadline = Date.now() + o.timeoutMs;
  const nonce = `${PROCESS_NONCE}.${randomBytes(4).toString('hex')}`;
  let announced = false;
  for (;;) {
    if (o.signal?.aborted) throw new PlaneError(ErrorCode.Aborted, `install of ${o.spec} cancelled`);
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
    const stale = owner ? ownerIsGone(owner) : ownerlessTooLong(dir);
    if (stale) {
      o.log.warn('breaking a stale install lock', { lock: dir, pid: owner?.pid });
      o.discard(dir);
      continue;
    }
    if (!announced) {
      announced = true;
      o.onWait(`waiting for another install of ${o.spec} on this host${owner ? ` (pid ${owner.pid})` : ''}…`);
    }
    if (Date.now() >= deadline) {
      throw new PlaneError(
        ErrorCode.DeadlineExceeded,
        `gave up waiting ${Math.round(o.timeoutMs / 1000)} s for another install of ${o.spec}${owner ? ` (pid ${owner.pid} since ${owner.since})` : ''}; if no install is running, remove ${dir}`,
        { where: dir },
      );
    }
    await sleep(250, o.signal);
  }
}

function ownerlessTooLong(dir: string): boolean {
  try {
    return Date.now() - statSync(dir).mtimeMs > OWNERLESS_GRACE_MS;
  } catch {
    return false; // gone meanwhile: retry the mkdir
  }
}
