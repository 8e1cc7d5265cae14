import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ErrorCode, PlaneError } from '../errors.ts';
import { checkBrainPath } from './brain-paths.ts';

/** The shape of a brain in the bucket: manifests, their entries and ids, and their encoding. No I/O here. */

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

/** A manifest as stored (before sealing): gzipped JSON. */
export function encodeManifest(m: BrainManifest): Buffer {
  return gzipSync(JSON.stringify(m), { level: 6 });
}

/** A manifest from its opened bytes, checked to be the one `name` should hold and to name only safe paths. */
export function decodeManifest(plain: Buffer, want: { name: string; id: string; plane: string; agent: string }): BrainManifest {
  const { name } = want;
  let m: BrainManifest;
  try {
    m = JSON.parse(gunzipSync(plain).toString('utf8')) as BrainManifest;
  } catch (cause) {
    throw new PlaneError(ErrorCode.FailedPrecondition, `${name}: not a readable manifest (${(cause as Error).message})`, { where: name, cause });
  }
  if (m.format !== 1 || m.plane !== want.plane || m.agent !== want.agent || m.id !== want.id) {
    throw new PlaneError(ErrorCode.FailedPrecondition, `${name}: manifest does not belong to ${want.plane}/${want.agent}`, { where: name });
  }
  for (const p of Object.keys(m.files)) checkBrainPath(p);
  for (const p of Object.keys(m.databases)) checkBrainPath(p);
  return m;
}
