import { randomBytes } from 'node:crypto';
import { ErrorCode, PlaneError } from '../errors.ts';

/** The shape of a brain in the bucket: manifests, their entries, ids and retention. No I/O here. */

export interface FileEntry {
  size: number;
  /** Permission bits only. */
  mode: number;
  mtimeMs: number;
  /** Content names of the chunks, in order. */
  chunks: string[];
}

export interface DatabaseEntry {
  size: number;
  chunks: string[];
  takenAtMs: number;
}

export interface BrainStats {
  files: number;
  bytes: number;
  /** Markdown files under memory/ plus MEMORY.md. */
  memoryFiles: number;
  /** Rows in the agent database's sessions table at snapshot time (-1 when unknown). */
  sessions: number;
}

export type ManifestReason = 'push' | 'snapshot' | 'manual' | 'shutdown' | 'restore' | 'clone' | 'claim' | 'repair';

export interface BrainManifest {
  format: 1;
  plane: string;
  agent: string;
  id: string;
  createdAtMs: number;
  fence: number;
  parent: string | null;
  reason: ManifestReason;
  /** Workspace files by relative path. */
  files: Record<string, FileEntry>;
  /** Consistent SQLite snapshots by path relative to OpenClaw's state dir. */
  databases: Record<string, DatabaseEntry>;
  /** Recently deleted workspace paths and when they went; kept for 30 days. */
  tombstones: Record<string, number>;
  stats: BrainStats;
}

export type ManifestDraft = Pick<BrainManifest, 'files' | 'databases' | 'tombstones' | 'stats' | 'reason'>;

export interface BrainHead {
  manifest: string;
  fence: number;
  updatedAtMs: number;
}

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

export interface RestoreTargets {
  workspaceDir: string;
  /** Where database paths are rooted (OpenClaw's state dir). */
  databaseDir: string;
}

export interface RestoreProgress {
  done: number;
  total: number;
  bytes: number;
}

/** A chunk a snapshot needs that is not in the bucket, or is there but does not open (altered, truncated). */
export class BrokenChunkError extends PlaneError {
  readonly chunk: string;
  readonly kind: 'missing' | 'corrupt';
  constructor(object: string, chunk: string, kind: 'missing' | 'corrupt', detail?: string) {
    super(ErrorCode.FailedPrecondition, kind === 'missing' ? `snapshot is missing chunk ${object}` : `snapshot chunk ${object} is corrupt: ${detail ?? 'does not open'}`, { where: object });
    this.chunk = chunk;
    this.kind = kind;
  }
}

export function manifestId(now: number, reason: ManifestReason, fence: number): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, '');
  return `${t}-${reason}-f${fence}-${randomBytes(3).toString('hex')}`;
}

/** When a manifest was made and why, from its id alone (no download). */
export function parseManifestId(id: string): { atMs: number; reason: string } | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-([a-z]+)-f\d+-[0-9a-f]+$/.exec(id);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, ms, reason] = m;
  return { atMs: Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms)), reason: reason as string };
}

/** Every file and database of a manifest, by path (databases after files). */
export function entriesOf(m: Pick<BrainManifest, 'files' | 'databases'>): [string, FileEntry | DatabaseEntry][] {
  return [...Object.entries(m.files), ...Object.entries(m.databases)];
}

/** The distinct chunk names a manifest references. */
export function chunksOf(m: Pick<BrainManifest, 'files' | 'databases'>): Set<string> {
  const out = new Set<string>();
  for (const [, e] of entriesOf(m)) for (const c of e.chunks) out.add(c);
  return out;
}

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

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: Error | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err instanceof Error ? err : new Error(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
