import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { isMemoryFile } from '../../../common/src/brain/brain-paths.ts';
import { countSessions, integrityCheck } from '../../../common/src/brain/sqlite-checks.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir } from '../../../common/src/files.ts';
import type { SyncStatus__Output } from '../../../proto/index.ts';
import type { HubContext } from '../hub-context.ts';
import { brainStore } from './brain-ops.ts';

export interface VerifyReport {
  ok: boolean;
  snapshot: string;
  takenAt: string;
  restoreMs: number;
  files: { expected: number; restored: number };
  bytes: number;
  databases: { name: string; integrity: string }[];
  sessions: { restored: number; reported: number | null };
  memoryFiles: { restored: number; reported: number | null };
  /** Which report the counts were compared with. */
  comparedWith: string;
  /** Objects the snapshot needs that are not in the bucket (HEAD, its manifest, chunks), every one. */
  missing: string[];
  /** Objects that are there but do not open (altered, truncated, another key), every one. */
  corrupt: string[];
  /** Files and databases of the snapshot that could not be restored because of them. */
  unrestorable: string[];
  problems: string[];
}

/**
 * The restore drill: restores the current snapshot into a scratch directory on
 * the hub, noting every missing or corrupt object instead of stopping at the
 * first, opens every database and runs integrity_check, and compares session
 * and memory-file counts with what the live agent reported for that snapshot.
 * With HEAD missing it checks the newest snapshot, and says so. The scratch
 * directory is removed afterwards, whatever happens.
 */
export async function verifyBackup(ctx: HubContext, plane: string, agent: string, lastSync: SyncStatus__Output | null): Promise<VerifyReport> {
  const store = await brainStore(ctx, plane, agent);
  const problems: string[] = [];
  const missing: string[] = [];
  const corrupt: string[] = [];
  const head = await store.readHead();
  let id = head?.manifest;
  if (!id) {
    id = (await store.listSnapshots()).at(-1);
    if (!id) throw new PlaneError(ErrorCode.NotFound, `agent ${plane}/${agent} has no backup in ${store.bucket.url} yet`);
    missing.push(`${store.prefix}HEAD`);
    problems.push(`HEAD is missing: no snapshot is current (checked the newest, ${id})`);
  }
  const manifest = await store.readManifestOrWhy(id);
  if (manifest instanceof PlaneError) {
    (manifest.code === ErrorCode.NotFound ? missing : corrupt).push(`${store.prefix}manifests/${id}`);
    problems.push(`snapshot ${id}: ${manifest.message}`);
    return { ...empty(id), missing, corrupt, problems, comparedWith: 'nothing: the snapshot does not open' };
  }
  ensureDir(join(ctx.dataDir, 'tmp'), 0o700);
  const scratch = await fs.mkdtemp(join(ctx.dataDir, 'tmp', 'verify-'));
  try {
    const t0 = Date.now();
    const restored = await store.restore(manifest, { workspaceDir: join(scratch, 'workspace'), databaseDir: join(scratch, 'state') }, { collectBroken: true });
    const restoreMs = Date.now() - t0;
    const byObject = new Map<string, { kind: string; paths: string[] }>();
    for (const b of restored.broken) byObject.set(b.object, { kind: b.kind, paths: [...(byObject.get(b.object)?.paths ?? []), b.path] });
    for (const [object, { kind, paths }] of [...byObject].sort(([a], [b]) => (a < b ? -1 : 1))) {
      (kind === 'missing' ? missing : corrupt).push(object);
      problems.push(`${kind} ${object} (needed by ${[...new Set(paths)].join(', ')})`);
    }
    const unrestorable = [...new Set([...restored.skipped, ...restored.broken.map((b) => b.path)])].sort();
    const databases = Object.keys(manifest.databases).map((name) => {
      if (unrestorable.includes(name)) return { name, integrity: 'not restored' };
      let integrity: string;
      try {
        integrity = integrityCheck(join(scratch, 'state', name));
      } catch (err) {
        integrity = `does not open: ${(err as Error).message}`;
      }
      if (integrity !== 'ok') problems.push(`${name}: ${integrity}`);
      return { name, integrity };
    });
    let sessions = -1;
    for (const d of databases) {
      if (d.integrity === 'not restored') continue;
      const n = countSessions(join(scratch, 'state', d.name));
      if (n >= 0) sessions = Math.max(0, sessions) + n;
    }
    const restoredFiles = await listFiles(join(scratch, 'workspace'));
    const memoryFiles = restoredFiles.filter(isMemoryFile).length;
    const expected = Object.keys(manifest.files).length;
    if (restoredFiles.length !== expected) problems.push(`restored ${restoredFiles.length} files, snapshot lists ${expected}`);
    // Compare with the agent's own report for this snapshot when it has one, else with what the agent recorded in the snapshot.
    const sameSnapshot = lastSync?.snapshot === manifest.id;
    const reportedSessions = sameSnapshot ? (lastSync?.sessions ?? null) : manifest.stats.sessions;
    const reportedMemory = sameSnapshot ? (lastSync?.memoryFiles ?? null) : manifest.stats.memoryFiles;
    if (reportedSessions !== null && reportedSessions !== sessions) problems.push(`sessions: restored ${sessions}, agent reported ${reportedSessions}`);
    if (reportedMemory !== null && reportedMemory !== memoryFiles) problems.push(`memory files: restored ${memoryFiles}, agent reported ${reportedMemory}`);
    return {
      ok: problems.length === 0,
      snapshot: manifest.id,
      takenAt: new Date(manifest.createdAtMs).toISOString(),
      restoreMs,
      files: { expected, restored: restoredFiles.length },
      bytes: restored.bytes,
      databases,
      sessions: { restored: sessions, reported: reportedSessions },
      memoryFiles: { restored: memoryFiles, reported: reportedMemory },
      comparedWith: sameSnapshot ? "the agent's last heartbeat" : `the counts recorded in the snapshot (the agent last reported ${lastSync?.snapshot || 'no snapshot'})`,
      missing,
      corrupt,
      unrestorable,
      problems,
    };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function empty(id: string): Omit<VerifyReport, 'missing' | 'corrupt' | 'problems' | 'comparedWith'> {
  return {
    ok: false,
    snapshot: id,
    takenAt: '',
    restoreMs: 0,
    files: { expected: 0, restored: 0 },
    bytes: 0,
    databases: [],
    sessions: { restored: -1, reported: null },
    memoryFiles: { restored: 0, reported: null },
    unrestorable: [],
  };
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(rel ? join(root, rel) : root, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  };
  await walk('');
  return out;
}
