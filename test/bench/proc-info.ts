/** More about another process from /proc (Linux): command line, memory split, process group. */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds } from './proc-stats.ts';

/** argv of a process, as the kernel has it. */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

export interface MemoryDetail {
  /** VmRSS now. */
  rssMb: number;
  /** VmHWM: the highest VmRSS since the process started. */
  peakRssMb: number;
  /** Anonymous pages (heaps, stacks, JIT code): what the process itself allocated. */
  anonMb: number;
  /** File-backed pages (the node binary, shared libraries, native addons) that are resident. */
  fileMb: number;
  shmemMb: number;
}

/** The VmRSS split from /proc/<pid>/status, in MiB. */
export function memoryDetail(pid: number): MemoryDetail {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM'), anonMb: mb('RssAnon'), fileMb: mb('RssFile'), shmemMb: mb('RssShmem') };
}

/** Pids whose process group is `pgid` (a detached child leads its own group). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After "(comm) ": state, ppid, pgrp.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === pgid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Sum of VmRSS over a process group, in MiB (shared pages counted once per process). */
export function groupRssMb(pgid: number): { rssMb: number; processes: number } {
  let rssMb = 0;
  let processes = 0;
  for (const pid of groupMembers(pgid)) {
    try {
      rssMb += memoryDetail(pid).rssMb;
      processes += 1;
    } catch {
      // gone meanwhile
    }
  }
  return { rssMb, processes };
}

/** utime+stime over a process group, in seconds (members that exit in between take their time with them). */
export function groupCpuSeconds(pgid: number): number {
  let s = 0;
  for (const pid of groupMembers(pgid)) {
    try {
      s += cpuSeconds(pid);
    } catch {
      // gone meanwhile
    }
  }
  return s;
}

/** Whether a process exists and is not a zombie (an exited child its parent has not reaped yet). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
