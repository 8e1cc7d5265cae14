import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '../../../common/src/backoff.ts';
import { Logger, silentSink } from '../../../common/src/logger.ts';
import { ChildSupervisor, type ChildSupervisorOptions, type SupervisorState } from './child-supervisor.ts';
import { groupAlive } from './process-group.ts';

let dir: string;
const supervisors: ChildSupervisor[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sup-test-'));
});
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.kill()));
  rmSync(dir, { recursive: true, force: true });
});

/** A supervisor over `node -e <script>`; ready once the child writes its pid to a file. */
function supervise(script: string, over: Partial<ChildSupervisorOptions> = {}): ChildSupervisor {
  const ready = join(dir, 'ready');
  const s = new ChildSupervisor({
    name: 'test-child',
    prepare: async () => {
      rmSync(ready, { force: true });
      return { command: process.execPath, args: ['-e', `require('fs').writeFileSync(${JSON.stringify(ready)}, String(process.pid)); ${script}`], env: {}, cwd: dir };
    },
    waitReady: async (pid, signal) => {
      const { readFileSync, existsSync } = await import('node:fs');
      while (!signal.aborted && !(existsSync(ready) && readFileSync(ready, 'utf8') === String(pid))) await sleep(10, signal);
    },
    backoff: { initialDelayMs: 20, maxDelayMs: 40 },
    stopTimeoutMs: 500,
    startTimeoutMs: 5000,
    pidFile: join(dir, 'child.pid'),
    log: new Logger('test', { sink: silentSink }),
    ...over,
  });
  supervisors.push(s);
  return s;
}

function nextState(s: ChildSupervisor, kind: SupervisorState['kind'], timeoutMs = 5000): Promise<SupervisorState> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${kind}' state within ${timeoutMs} ms (now ${s.state.kind})`)), timeoutMs);
    const on = (st: SupervisorState): void => {
      if (st.kind !== kind) return;
      clearTimeout(t);
      s.off('state', on);
      resolve(st);
    };
    s.on('state', on);
  });
}

const STAY_UP = 'setInterval(() => {}, 1000);';

/** Live processes whose process group is `pgid` (from /proc). */
function groupMembers(pgid: number): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) n += 1;
    } catch {
      // process exited while we looked
    }
  }
  return n;
}

describe('ChildSupervisor', () => {
  it('counts a start only once the child is ready', async () => {
    const s = supervise(`setTimeout(() => {}, 0); ${STAY_UP}`);
    const st = await s.start();
    expect(st.kind).toBe('running');
  });

  it('restarts a crashed child with backoff and counts the restart', async () => {
    const s = supervise(STAY_UP);
    const first = await s.start();
    const pid = (first as { pid: number }).pid;
    const back = nextState(s, 'backoff');
    process.kill(pid, 'SIGKILL');
    expect((await back).kind).toBe('backoff');
    const running = (await nextState(s, 'running')) as { pid: number };
    expect(running.pid).not.toBe(pid);
    expect(s.restartCount).toBe(1);
    expect(s.lastError).toMatch(/SIGKILL/);
  });

  it('does not restart on a fatal exit code and reports why', async () => {
    const s = supervise('setTimeout(() => process.exit(78), 50);', { fatalExitCodes: { 78: 'configuration error' } });
    await s.start();
    const failed = (await nextState(s, 'failed')) as { reason: string };
    expect(failed.reason).toBe('exit 78: configuration error');
    await sleep(200);
    expect(s.state.kind).toBe('failed');
    expect(s.restartCount).toBe(0);
  });

  it('detects a crash loop and stops restarting', async () => {
    const s = supervise('setTimeout(() => process.exit(3), 10);', { crashLoop: { maxRestarts: 3, windowMs: 60_000 } });
    await s.start();
    const failed = (await nextState(s, 'failed', 10_000)) as { reason: string };
    expect(failed.reason).toMatch(/^crash loop: 4 exits within 60 s; last: crashed \(exit code 3\)/);
  });

  it('stop() sends SIGTERM to the whole group, then SIGKILL after the drain budget', async () => {
    // The child ignores SIGTERM and has a grandchild in its group that does too.
    const s = supervise(`process.on('SIGTERM', () => {}); require('child_process').spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' }); ${STAY_UP}`);
    const st = (await s.start()) as { pid: number };
    // Wait until the grandchild is up and has its own SIGTERM handler (its process title shows -e).
    const deadline = Date.now() + 10_000;
    while (groupMembers(st.pid) < 2 && Date.now() < deadline) await sleep(20);
    expect(groupMembers(st.pid)).toBe(2);
    await sleep(300);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(s.state.kind).toBe('stopped');
    expect(groupAlive(st.pid)).toBe(false);
  });

  it('a child that drains on SIGTERM stops without being killed', async () => {
    const s = supervise(`process.on('SIGTERM', () => process.exit(0)); ${STAY_UP}`, { stopTimeoutMs: 10_000 });
    await s.start();
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('stops an orphan left behind by a previous supervisor before starting', async () => {
    const orphan = spawn(process.execPath, ['-e', STAY_UP], { detached: true, stdio: 'ignore' });
    orphan.unref();
    writeFileSync(join(dir, 'child.pid'), `${orphan.pid}\n`);
    const s = supervise(STAY_UP);
    await s.start();
    expect(groupAlive(orphan.pid as number)).toBe(false);
  });
});
