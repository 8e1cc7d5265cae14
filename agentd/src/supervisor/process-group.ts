import { readFileSync } from 'node:fs';

/**
 * Signals a whole process group (the gateway forks helpers such as its
 * spawn-broker). Returns false when the group no longer exists.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** True if any process of the group is alive (zombies excluded by the kernel's kill(0) semantics for reaped pids). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process's command line, or undefined if it is gone. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}
