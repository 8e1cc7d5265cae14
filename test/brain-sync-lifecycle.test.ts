import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBucket } from '../common/src/brain/local-bucket.ts';
import { SyncStateError } from '../agentd/src/sync/brain-sync.ts';
import { logs, machine, sync, tmp, until } from './helpers/brain-machine.ts';

// BrainSync's life (agentd/src/sync/sync-lifecycle.ts): restoreOnBoot, start, stop, and what each phase allows.

const quick = { debounceMs: 100, maxWaitMs: 300 };

describe('brain sync lifecycle', () => {
  it('start() resolves once the watcher is ready: a file written right after it is pushed', async () => {
    const bucket = await LocalBucket.create(tmp('brain-life-'));
    const a = machine();
    // Enough of a tree that the watcher's first scan takes a while.
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(a.workspace, 'memory', `d${d}`), { recursive: true });
      for (let i = 0; i < 20; i++) writeFileSync(join(a.workspace, 'memory', `d${d}`, `${i}.md`), `note ${d}/${i}`);
    }
    const s = sync(a, bucket, 1, quick);
    await s.restoreOnBoot();
    await s.push({ reason: 'push' });
    await s.start();
    expect(s.phase).toBe('running');
    writeFileSync(join(a.workspace, 'right-after-start.md'), 'seen');
    await until(() => s.current?.files['right-after-start.md'] !== undefined, 'the file written right after start() to be pushed', 10_000, () => s.status());
  });

  it('a call its phase does not allow throws SyncStateError naming the phase', async () => {
    const bucket = await LocalBucket.create(tmp('brain-life-'));
    const a = machine();
    writeFileSync(join(a.workspace, 'SOUL.md'), 'x');
    const s = sync(a, bucket, 1, quick);
    expect(s.phase).toBe('new');
    // Nothing touches the bucket before the boot restore has claimed HEAD.
    await expect(s.push({ reason: 'push' })).rejects.toThrow(/brain sync: push\(\) is not allowed while new/);
    await expect(s.start()).rejects.toBeInstanceOf(SyncStateError);
    await expect(s.leaseGranted(2)).rejects.toMatchObject({ code: 'failed_precondition', phase: 'new' });
    await s.restoreOnBoot();
    expect(s.phase).toBe('booted');
    await expect(s.restoreOnBoot()).rejects.toThrow(/restoreOnBoot\(\) is not allowed while booted \(only while new\)/);
    await s.start();
    await s.start(); // while running: the start that already happened
    await s.stop();
    await expect(s.start()).rejects.toThrow(/start\(\) is not allowed while stopped/);
    await expect(s.restoreSnapshot('x')).rejects.toBeInstanceOf(SyncStateError);
    // The final push comes after the watcher stopped.
    expect(await s.push({ reason: 'shutdown', full: true })).toMatchObject({ committed: true });
  });

  it('stop() returns one promise however often it is called, and a stop during start ends the start', async () => {
    const bucket = await LocalBucket.create(tmp('brain-life-'));
    const s = sync(machine(), bucket, 1, quick);
    await s.restoreOnBoot();
    const starting = s.start();
    expect(s.phase).toBe('starting');
    const first = s.stop();
    expect(s.stop()).toBe(first);
    await starting;
    await first;
    expect(s.phase).toBe('stopped');
    expect(s.stop()).toBe(first);
  });

  it('logs every move, in order, and a boot that failed may be tried again', async () => {
    const dir = join(tmp('brain-life-'), 'bucket');
    const bucket = await LocalBucket.create(dir);
    const s = sync(machine(), bucket, 1, quick);
    logs.length = 0;
    renameSync(dir, `${dir}.away`);
    await expect(s.restoreOnBoot()).rejects.toMatchObject({ code: 'unavailable' });
    expect(s.phase).toBe('new');
    renameSync(`${dir}.away`, dir);
    await s.restoreOnBoot();
    await s.start();
    await s.stop();
    const moves = logs.filter((l) => l.msg === 'brain sync phase').map((l) => `${String(l['from'])}>${String(l['to'])}`);
    expect(moves).toEqual(['new>booting', 'booting>new', 'new>booting', 'booting>booted', 'booted>starting', 'starting>running', 'running>stopping', 'stopping>stopped']);
  });
});
