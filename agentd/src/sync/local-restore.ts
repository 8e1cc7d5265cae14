import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMemoryFile } from '../../../common/src/brain/brain-paths.ts';
import { type BrainHead, type BrainManifest, BrokenChunkError, chunksOf, entriesOf, parseManifestId } from '../../../common/src/brain/brain-manifest.ts';
import type { BrainStore } from '../../../common/src/brain/brain-store.ts';
import { chooseRestore, unrestoredPaths } from '../../../common/src/brain/restore-plan.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { RestoreFallback } from '../../../proto/index.ts';
import { clearRestored, displace } from './displace.ts';

// Restores onto this machine: at boot (bootRestore) and on the restore command (restoreChosen).

/** The snapshot this machine's brain is on, in <stateDir>/sync/state.json: written after each push and restore. */
interface LocalState {
  snapshot: string;
  keyId: string;
}

export function readLocalSnapshot(syncDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(syncDir, 'state.json'), 'utf8')) as LocalState).snapshot ?? null;
  } catch {
    return null;
  }
}

export function writeLocalSnapshot(syncDir: string, snapshot: string, keyId: string): void {
  writeFileAtomic(join(syncDir, 'state.json'), JSON.stringify({ snapshot, keyId } satisfies LocalState));
}

/** At most this many paths are named in a fallback report; the count has them all. */
const UNRESTORED_LISTED = 50;
/** A restore that keeps meeting corrupt chunks gives up after this many tries. */
const MAX_ATTEMPTS = 8;

export type BootOutcome =
  | { kind: 'none' }
  | { kind: 'keep-local'; base: BrainManifest | null }
  | { kind: 'restored'; current: BrainManifest; restored: BrainManifest; fallback: RestoreFallback | null; displacedTo?: string };

export interface BootRestoreInput {
  store: BrainStore;
  fence: number | undefined;
  head: BrainHead | null;
  /** The snapshot this machine last pushed or restored, when it still has its workspace. */
  local: string | null;
  /** The workspace directory exists (with or without a record of its snapshot). */
  haveWorkspace: boolean;
  /** False for a gateway already running on its local brain: never swap files under it. */
  restore: boolean;
  workspace: string;
  dbDir: string;
  syncDir: string;
  log: Logger;
  onProgress?: (message: string) => void;
}

/**
 * Brings a machine to its brain at boot. The local brain is kept when the
 * machine is on the current snapshot, or when it is newer than anything the
 * bucket can restore in full (HEAD deleted, chunks gone): then the store is
 * untrusted and the next push uploads everything again. Otherwise the newest
 * restorable snapshot is restored (see chooseRestore) after moving local
 * files aside; a fallback is committed again as a `restore` snapshot, so HEAD
 * names a complete snapshot, and reported with what it could not bring back.
 */
export async function bootRestore(o: BootRestoreInput): Promise<BootOutcome> {
  const { store } = o;
  if (!o.head && (await store.listSnapshots()).length === 0) return { kind: 'none' };
  if ((o.local !== null && o.head?.manifest === o.local) || (!o.restore && o.haveWorkspace)) {
    if (!o.head) store.distrust('HEAD is missing');
    const id = o.head?.manifest ?? o.local;
    return { kind: 'keep-local', base: id ? await readOrDistrust(store, id) : null };
  }
  const bad = new Set<string>();
  let displaced = false;
  let displacedTo: string | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const choice = await chooseRestore(store, o.head?.manifest ?? null, bad);
    if (!choice) return { kind: 'none' };
    if (choice.fallback && !displaced && o.local !== null && atMs(o.local) >= atMs(choice.manifest.id)) {
      o.log.warn('keeping the local brain: it is newer than anything the bucket can restore in full; every chunk is uploaded again', { local: o.local, reason: choice.fallback.reason });
      store.distrust(`the newest snapshot cannot be restored in full (${choice.fallback.reason})`);
      return { kind: 'keep-local', base: await readOrDistrust(store, o.local) };
    }
    if (!displaced) {
      displacedTo = await displace({ syncDir: o.syncDir, workspace: o.workspace, dbDir: o.dbDir, databases: Object.keys(choice.manifest.databases), log: o.log });
      displaced = true;
      ensureDir(o.workspace, 0o700);
    }
    const m = choice.manifest;
    const total = Object.keys(m.files).length + Object.keys(m.databases).length;
    o.onProgress?.(`restoring brain: 0/${total} files`);
    let leftOut: string[];
    try {
      const r = await store.restore(m, { workspaceDir: o.workspace, databaseDir: o.dbDir }, {
        ...(choice.fallback ? { skipChunks: choice.fallback.skipChunks } : {}),
        onProgress: (p) => o.onProgress?.(`restoring brain: ${p.done}/${p.total} files, ${Math.round(p.bytes / 1048576)} MiB`),
      });
      leftOut = r.skipped;
    } catch (err) {
      if (!(err instanceof BrokenChunkError)) throw err;
      o.log.warn('a chunk did not restore; choosing again without it', { reason: err.message });
      bad.add(err.chunk);
      await clearRestored(o.workspace, o.dbDir, Object.keys(m.databases));
      continue;
    }
    if (!choice.fallback) return { kind: 'restored', current: m, restored: m, fallback: null, ...(displacedTo ? { displacedTo } : {}) };
    const current = o.fence ? await store.commit(restoredDraft(m, leftOut), o.fence) : m;
    const unrestored = unrestoredPaths(choice.newestManifest, m, leftOut);
    const fallback: RestoreFallback = {
      newest: o.head?.manifest ?? '',
      used: m.id,
      reason: choice.fallback.reason,
      unrestored: unrestored.slice(0, UNRESTORED_LISTED),
      unrestoredCount: unrestored.length,
      atMs: Date.now(),
    };
    o.log.error('restored an older snapshot: the newest could not be restored in full', { ...fallback, unrestored: fallback.unrestored?.join(', ') });
    return { kind: 'restored', current, restored: m, fallback, ...(displacedTo ? { displacedTo } : {}) };
  }
  throw new PlaneError(ErrorCode.FailedPrecondition, `restoring ${store.plane}/${store.agent}: ${bad.size} corrupt chunks found, giving up after ${MAX_ATTEMPTS} attempts`);
}

/** A restored snapshot as a new one, without what was left out, with its counts redone. */
function restoredDraft(m: BrainManifest, leftOut: readonly string[]): Parameters<BrainStore['commit']>[0] {
  const skip = new Set(leftOut);
  const files = Object.fromEntries(Object.entries(m.files).filter(([p]) => !skip.has(p)));
  const databases = Object.fromEntries(Object.entries(m.databases).filter(([p]) => !skip.has(p)));
  let bytes = 0;
  for (const [, e] of entriesOf({ files, databases: {} })) bytes += e.size;
  const memoryFiles = Object.keys(files).filter(isMemoryFile).length;
  return { reason: 'restore', files, databases, tombstones: m.tombstones, stats: { ...m.stats, files: Object.keys(files).length, bytes, memoryFiles } };
}

async function readOrDistrust(store: BrainStore, id: string): Promise<BrainManifest | null> {
  const m = await store.readManifestOrWhy(id);
  if (!(m instanceof PlaneError)) return m;
  store.distrust(`snapshot ${id} does not open (${m.message})`);
  return null;
}

function atMs(id: string): number {
  return parseManifestId(id)?.atMs ?? -1;
}

/**
 * The restore command (the gateway is stopped): refuses an incomplete snapshot
 * before anything local is moved aside, then moves the current brain aside,
 * restores the snapshot and makes it current again as a new `restore`
 * snapshot, so history stays linear.
 */
export async function restoreChosen(o: { store: BrainStore; id: string; fence: number; workspace: string; dbDir: string; syncDir: string; log: Logger; onProgress?: (message: string) => void }): Promise<{ manifest: BrainManifest; current: BrainManifest; displacedTo?: string }> {
  const { store } = o;
  const manifest = await store.readManifest(o.id);
  const present = await store.chunks.present();
  const missing = new Set([...chunksOf(manifest)].filter((c) => !present.has(c)));
  if (missing.size > 0) {
    await store.bucket.assertPresent();
    const paths = entriesOf(manifest).filter(([, e]) => e.chunks.some((c) => missing.has(c))).map(([p]) => p);
    throw new PlaneError(
      ErrorCode.FailedPrecondition,
      `snapshot ${o.id} cannot be restored: ${missing.size} chunk(s) missing from the bucket, needed by ${paths.slice(0, 10).join(', ')}${paths.length > 10 ? ` and ${paths.length - 10} more` : ''}; nothing was changed`,
    );
  }
  const displacedTo = await displace({ syncDir: o.syncDir, workspace: o.workspace, dbDir: o.dbDir, databases: Object.keys(manifest.databases), log: o.log });
  ensureDir(o.workspace, 0o700);
  await store.restore(manifest, { workspaceDir: o.workspace, databaseDir: o.dbDir }, { onProgress: (p) => o.onProgress?.(`restoring ${p.done}/${p.total}`) });
  const current = await store.commit({ reason: 'restore', files: manifest.files, databases: manifest.databases, tombstones: manifest.tombstones, stats: manifest.stats }, o.fence);
  return { manifest, current, ...(displacedTo ? { displacedTo } : {}) };
}
