/** CPU and memory of another process from /proc (Linux), and small statistics helpers. */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is fields[0], so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

export interface Memory {
  rssMb: number;
  peakRssMb: number;
}

/** VmRSS (now) and VmHWM (peak since start) in MiB. */
export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** Open file descriptors of a process (sockets included): shows each agent has its own connection. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** CPU use of a process between two calls, as percent of one core. */
export class CpuMeter {
  readonly #pid: number;
  #cpu: number;
  #at: number;

  constructor(pid: number) {
    this.#pid = pid;
    this.#cpu = cpuSeconds(pid);
    this.#at = performance.now();
  }

  /** Percent of one core since construction or the previous call. */
  lap(): number {
    const cpu = cpuSeconds(this.#pid);
    const at = performance.now();
    const pct = ((cpu - this.#cpu) / ((at - this.#at) / 1000)) * 100;
    this.#cpu = cpu;
    this.#at = at;
    return pct;
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
