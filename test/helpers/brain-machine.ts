import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { BrainKey } from '../../common/src/brain/brain-crypto.ts';
import { BrainStore } from '../../common/src/brain/brain-store.ts';
import type { Bucket } from '../../common/src/brain/bucket.ts';
import { Logger, type LogRecord } from '../../common/src/logger.ts';
import { BrainSync, type BrainSyncSettings } from '../../agentd/src/sync/brain-sync.ts';

/** One agent machine's directories, and BrainSync on them: the in-process side of the brain tests. */
export interface Machine {
  root: string;
  workspace: string;
  dbDir: string;
  stateDir: string;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

export function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function machine(): Machine {
  const root = tmp('brain-machine-');
  const m = { root, workspace: join(root, 'workspace'), dbDir: join(root, 'openclaw'), stateDir: join(root, 'agentd') };
  for (const d of Object.values(m)) mkdirSync(d, { recursive: true });
  return m;
}

export function agentDb(m: Machine): Database.Database {
  mkdirSync(join(m.dbDir, 'agents', 'main', 'agent'), { recursive: true });
  const db = new Database(join(m.dbDir, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, transcript TEXT)');
  return db;
}

export const rawKey = BrainKey.generate();
export const key = new BrainKey(rawKey);
export const logs: LogRecord[] = [];
export const log = new Logger('test', { sink: (r) => logs.push(r) });

export function store(bucket: Bucket, k = key): BrainStore {
  return new BrainStore({ bucket, plane: 'p', agent: 'a', key: k });
}

export function sync(m: Machine, bucket: Bucket, fence: number, settings: Partial<BrainSyncSettings> = {}, k = key, extra: Partial<ConstructorParameters<typeof BrainSync>[0]> = {}): BrainSync {
  const s = new BrainSync({ store: store(bucket, k), workspaceDir: m.workspace, databaseDir: m.dbDir, stateDir: m.stateDir, fence: () => fence, log, settings, ...extra });
  cleanups.push(() => void s.stop());
  return s;
}

/** Polls (every `everyMs`) until pred holds, or throws with what it last saw. */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, seen: () => unknown = () => '', everyMs = 50): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(seen())}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
