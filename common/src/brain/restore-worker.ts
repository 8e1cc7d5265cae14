/**
 * A restore worker thread for a local-directory bucket: reads sealed chunks
 * straight from disk, opens and checks them, writes each file to a temp name
 * and renames it into place, all with synchronous calls (two of these beat the
 * async path by about 2x on 10,000 small files: the cost there is main-thread
 * work per async call, not the disk).
 */
import { closeSync, constants as fsc, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, utimesSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { BrainKey } from './brain-crypto.ts';
import { BUCKET_MARKER } from './bucket.ts';

export interface RestoreJob {
  /** The path inside the brain (for reports). */
  rel: string;
  path: string;
  chunks: string[];
  size: number;
  mode: number;
  mtimeMs?: number;
  db: boolean;
}

export interface RestoreWorkerData {
  key: Uint8Array;
  /** The local bucket's directory. */
  root: string;
  chunkPrefix: string;
  jobs: RestoreJob[];
  /** Leave out files with broken chunks and report them all, instead of stopping at the first. */
  collect?: boolean;
}

type Broken = { path: string; object: string; chunk: string; kind: 'missing' | 'corrupt' };

export type RestoreWorkerMessage =
  | { done: number; bytes: number; final?: boolean; broken?: Broken[] }
  | { error: string; broken?: { object: string; chunk: string; kind: 'missing' | 'corrupt' }; bucketMissing?: boolean };

class WorkerFailure extends Error {
  readonly detail: Omit<Extract<RestoreWorkerMessage, { error: string }>, 'error'>;
  constructor(message: string, detail: WorkerFailure['detail']) {
    super(message);
    this.detail = detail;
  }
}

/** One chunk, opened and checked; a missing or altered one throws WorkerFailure saying which. */
function readChunk(data: RestoreWorkerData, key: BrainKey, c: string): Buffer {
  const object = `${data.chunkPrefix}${c.slice(0, 2)}/${c}`;
  let sealed: Buffer;
  try {
    sealed = readFileSync(join(data.root, ...object.split('/')), { flag: fsc.O_RDONLY | fsc.O_NOFOLLOW });
  } catch {
    // A chunk is missing only while the bucket itself is there.
    if (!existsSync(join(data.root, BUCKET_MARKER))) throw new WorkerFailure(`the bucket at ${data.root} is missing`, { bucketMissing: true });
    throw new WorkerFailure(`snapshot is missing chunk ${object}`, { broken: { object, chunk: c, kind: 'missing' } });
  }
  try {
    return key.openChunk(object, c, sealed);
  } catch (err) {
    throw new WorkerFailure((err as Error).message, { broken: { object, chunk: c, kind: 'corrupt' } });
  }
}

function run(data: RestoreWorkerData): void {
  const key = new BrainKey(Buffer.from(data.key));
  const made = new Set<string>();
  const broken: Broken[] = [];
  let done = 0;
  let bytes = 0;
  for (const job of data.jobs) {
    const dir = dirname(job.path);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      made.add(dir);
    }
    const tmp = `${job.path}.apb-${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, (job.mode & 0o777) | 0o600);
    let written = 0;
    let bad = 0;
    try {
      for (const c of job.chunks) {
        let plain: Buffer;
        try {
          plain = readChunk(data, key, c);
        } catch (err) {
          if (!data.collect || !(err instanceof WorkerFailure) || !err.detail.broken) throw err;
          broken.push({ path: job.rel, ...err.detail.broken });
          bad++;
          continue;
        }
        if (bad === 0) writeSync(fd, plain);
        written += plain.length;
      }
      if (bad === 0 && written !== job.size) throw new Error(`${job.path}: restored ${written} bytes, snapshot says ${job.size}`);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    done++;
    if (bad > 0) {
      rmSync(tmp, { force: true });
      continue;
    }
    if (job.mtimeMs !== undefined) utimesSync(tmp, new Date(job.mtimeMs), new Date(job.mtimeMs));
    renameSync(tmp, job.path);
    if (job.db) for (const s of ['-wal', '-shm', '-journal']) rmSync(job.path + s, { force: true });
    bytes += job.size;
    if (done % 250 === 0) parentPort?.postMessage({ done, bytes } satisfies RestoreWorkerMessage);
  }
  parentPort?.postMessage({ done, bytes, final: true, broken } satisfies RestoreWorkerMessage);
}

try {
  run(workerData as RestoreWorkerData);
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message, ...(err instanceof WorkerFailure ? err.detail : {}) } satisfies RestoreWorkerMessage);
}
