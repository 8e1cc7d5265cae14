import type { BrainChunks } from './brain-chunks.ts';
import { type BrainHead, type BrainManifest, parseManifestId } from './brain-manifest.ts';
import { type Bucket, listAll } from './bucket.ts';

/** Which snapshots a brain keeps, and pruning the rest with the chunks only they used. */

export interface RetentionPolicy {
  /** Keep every snapshot younger than this. */
  keepWithinMs: number;
  /** Then the newest snapshot of each of this many hours ... */
  hourly: number;
  /** ... and of this many days. */
  daily: number;
  /** Snapshots made by `planes backup` are kept this long. */
  manualDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { keepWithinMs: 3600_000, hourly: 48, daily: 30, manualDays: 90 };

/** Unreferenced chunks younger than this may belong to a push in progress and are left alone. */
const GC_GRACE_MS = 3600_000;

/** Which snapshot ids a retention policy keeps (restic-style keep-within / hourly / daily, plus manual ones). */
export function retained(ids: string[], headId: string | null, policy: RetentionPolicy, now: number): Set<string> {
  const keep = new Set<string>();
  if (headId) keep.add(headId);
  const hours = new Set<number>();
  const days = new Set<number>();
  const parsed = ids.map((id) => ({ id, p: parseManifestId(id) })).filter((x) => x.p !== null);
  parsed.sort((a, b) => (b.p?.atMs ?? 0) - (a.p?.atMs ?? 0)); // newest first
  for (const { id, p } of parsed) {
    if (!p) continue;
    const age = now - p.atMs;
    if (age <= policy.keepWithinMs) keep.add(id);
    if (p.reason === 'manual' && age <= policy.manualDays * 86_400_000) keep.add(id);
    const hour = Math.floor(p.atMs / 3600_000);
    if (age <= policy.hourly * 3600_000 && !hours.has(hour)) {
      hours.add(hour);
      keep.add(id);
    }
    const day = Math.floor(p.atMs / 86_400_000);
    if (age <= policy.daily * 86_400_000 && !days.has(day)) {
      days.add(day);
      keep.add(id);
    }
  }
  return keep;
}

/** What pruning needs of a brain store (BrainStore is one). */
export interface PruneSource {
  readonly bucket: Bucket;
  readonly prefix: string;
  readonly chunks: BrainChunks;
  readHead(): Promise<BrainHead | null>;
  listSnapshots(): Promise<string[]>;
  readManifest(id: string): Promise<BrainManifest>;
}

/**
 * Applies the retention policy to snapshots, then deletes chunks no kept
 * snapshot references (older than a grace period, so a push in progress keeps
 * its chunks). Only the lease holder may call this.
 */
export async function pruneSnapshots(store: PruneSource, policy: RetentionPolicy = DEFAULT_RETENTION, now = Date.now()): Promise<{ snapshotsDeleted: number; chunksDeleted: number; snapshotsKept: number }> {
  const head = await store.readHead();
  const ids = await store.listSnapshots();
  const keep = retained(ids, head?.manifest ?? null, policy, now);
  let snapshotsDeleted = 0;
  for (const id of ids) {
    if (keep.has(id)) continue;
    await store.bucket.delete(`${store.prefix}manifests/${id}`);
    snapshotsDeleted++;
  }
  const referenced = new Set<string>();
  for (const id of keep) {
    const m = await store.readManifest(id);
    for (const e of [...Object.values(m.files), ...Object.values(m.databases)]) for (const c of e.chunks) referenced.add(c);
  }
  let chunksDeleted = 0;
  for await (const o of listAll(store.bucket, `${store.prefix}chunks/`)) {
    const name = o.name.slice(o.name.lastIndexOf('/') + 1);
    if (referenced.has(name) || now - o.updatedMs < GC_GRACE_MS) continue;
    await store.bucket.delete(o.name);
    store.chunks.forget(name);
    chunksDeleted++;
  }
  return { snapshotsDeleted, chunksDeleted, snapshotsKept: keep.size };
}
