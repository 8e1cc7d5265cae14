import { readFileSync, statfsSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks.

function procCpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes comm: state is #3; utime #14, stime #15, cutime #16, cstime #17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  } catch {
    return 0;
  }
}

export function processRssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU of agentd plus its supervised child, as percent of one core since the
 * previous sample; agentd's RSS; free and total disk of the state directory.
 */
export class SystemMetrics {
  readonly #dir: string;
  #lastAt = performance.now();
  #lastAgentd = process.cpuUsage();
  #lastChild = new Map<number, number>();

  constructor(stateDir: string) {
    this.#dir = stateDir;
  }

  sample(childPid?: number): { cpuPercent: number; agentdRssBytes: number; diskFreeBytes: number; diskTotalBytes: number } {
    const now = performance.now();
    const elapsedMs = Math.max(1, now - this.#lastAt);
    const usage = process.cpuUsage(this.#lastAgentd);
    this.#lastAgentd = process.cpuUsage();
    this.#lastAt = now;
    let childMs = 0;
    if (childPid !== undefined) {
      const ticks = procCpuTicks(childPid);
      const before = this.#lastChild.get(childPid);
      if (before !== undefined) childMs = ((ticks - before) * 1000) / CLK_TCK;
      this.#lastChild = new Map([[childPid, ticks]]);
    }
    const cpuMs = (usage.user + usage.system) / 1000 + Math.max(0, childMs);
    let diskFreeBytes = 0;
    let diskTotalBytes = 0;
    try {
      const s = statfsSync(this.#dir);
      diskFreeBytes = s.bavail * s.bsize;
      diskTotalBytes = s.blocks * s.bsize;
    } catch {
      // state dir missing: report zeros rather than fail a heartbeat
    }
    return { cpuPercent: Math.round((cpuMs / elapsedMs) * 10000) / 100, agentdRssBytes: process.memoryUsage.rss(), diskFreeBytes, diskTotalBytes };
  }
}
