import { randomBytes, createHash } from 'node:crypto';
import { constants as fsc, type Dirent, promises as fs } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { ErrorCode, PlaneError } from '../errors.ts';
import {
  BUCKET_MARKER,
  type Bucket,
  type BucketSetup,
  type ListPage,
  type SetUpOptions,
  missingBucketError,
  type ObjectInfo,
  type PutOptions,
  PreconditionFailedError,
  checkObjectName,
} from './bucket.ts';

const LOCK_STALE_MS = 30_000;

/**
 * A bucket in a local directory: the embedded default, and the shape of a
 * mounted filesystem. Each write goes to a temp file, is fsynced and renamed
 * into place, so a reader sees the old or the new object, never half of one.
 * The generation is the file's inode and change time; conditional writes take
 * a per-name lock file (with the holder's pid, broken when the holder is dead)
 * so two processes on this host cannot both win a compare-and-swap.
 *
 * The root directory is never created here except by setUp: directories are
 * made one level at a time below it, and every call checks the marker, so a
 * root that was moved away fails loudly instead of growing again empty.
 */
export class LocalBucket implements Bucket {
  readonly url: string;
  readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.url = `file://${root}`;
  }

  /** A bucket in a new or existing directory, set up (tests and tools; the hub uses setUp itself). */
  static async create(root: string): Promise<LocalBucket> {
    const b = new LocalBucket(root);
    await b.setUp({ createRoot: true, adoptEmpty: true });
    return b;
  }

  async setUp(options: SetUpOptions): Promise<BucketSetup> {
    const marker = join(this.root, BUCKET_MARKER);
    if (await isFile(marker)) return 'present';
    let created = false;
    if (!(await isDir(this.root))) {
      if (!options.createRoot) throw missingBucketError(this.url, `${this.root} does not exist`);
      await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
      created = true;
    } else if (!options.adoptEmpty) {
      const held = (await fs.readdir(this.root)).filter((n) => n !== '.tmp' && n !== '.locks');
      if (held.length === 0) throw missingBucketError(this.url, `${this.root} is empty and has no ${BUCKET_MARKER}`);
    }
    const body = Buffer.from(`${JSON.stringify({ createdAtMs: Date.now(), id: randomBytes(8).toString('hex') })}\n`);
    await fs.rename(await this.#writeTemp(marker, body), marker);
    return created ? 'created' : 'adopted';
  }

  async assertPresent(): Promise<void> {
    try {
      if ((await fs.stat(join(this.root, BUCKET_MARKER))).isFile()) return;
    } catch (err) {
      if (!isMissing(err)) throw this.#unavailable(err, BUCKET_MARKER);
    }
    throw missingBucketError(this.url, `no ${BUCKET_MARKER} in ${this.root}`);
  }

  /** Where an object's bytes are on disk (restore workers read chunks directly). */
  objectPath(name: string): string {
    checkObjectName(name);
    return join(this.root, ...name.split('/'));
  }

  #path(name: string): string {
    return this.objectPath(name);
  }

  async #stat(name: string): Promise<ObjectInfo | null> {
    try {
      const st = await fs.stat(this.#path(name), { bigint: true });
      if (!st.isFile()) return null;
      return { name, size: Number(st.size), generation: `${st.ino}.${st.ctimeNs}`, updatedMs: Number(st.mtimeMs) };
    } catch (err) {
      if (!isMissing(err)) throw this.#unavailable(err, name);
    }
    // Missing: an answer only while the bucket itself is there.
    await this.assertPresent();
    return null;
  }

  #unavailable(err: unknown, name: string): PlaneError {
    if (err instanceof PlaneError) return err;
    return new PlaneError(ErrorCode.Unavailable, `${this.url}: ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: name, cause: err });
  }

  async head(name: string): Promise<ObjectInfo | null> {
    return this.#stat(name);
  }

  async get(name: string): Promise<{ data: Buffer; generation: string } | null> {
    const path = this.#path(name);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      if (!isMissing(err)) throw this.#unavailable(err, name);
      await this.assertPresent();
      return null;
    }
    try {
      // Stat the open handle so the generation belongs to the bytes we read.
      const st = await fh.stat({ bigint: true });
      const data = await fh.readFile();
      return { data, generation: `${st.ino}.${st.ctimeNs}` };
    } catch (err) {
      throw this.#unavailable(err, name);
    } finally {
      await fh.close();
    }
  }

  async put(name: string, data: Buffer, options: PutOptions = {}): Promise<{ generation: string }> {
    const path = this.#path(name);
    await this.assertPresent();
    const write = async (): Promise<{ generation: string }> => {
      if (options.ifGenerationMatch !== undefined) {
        const current = (await this.#stat(name))?.generation ?? '0';
        if (current !== options.ifGenerationMatch) throw new PreconditionFailedError(this.url, name, options.ifGenerationMatch);
      }
      try {
        await fs.rename(await this.#writeTemp(path, data), path);
      } catch (err) {
        throw this.#unavailable(err, name);
      }
      const after = await this.#stat(name);
      return { generation: after?.generation ?? '0' };
    };
    if (options.ifGenerationMatch === '0') return this.#create(name, path, data);
    return options.ifGenerationMatch === undefined ? write() : this.#locked(name, write);
  }

  /**
   * Create-if-absent without a lock: link(2) of a finished temp file fails with
   * EEXIST when the name exists, atomically. (Every chunk and manifest is written
   * this way; a lock file per write cost a create and a delete each.)
   */
  async #create(name: string, path: string, data: Buffer): Promise<{ generation: string }> {
    let tmp = '';
    try {
      tmp = await this.#writeTemp(path, data);
      await fs.link(tmp, path).catch((err: unknown) => {
        throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? new PreconditionFailedError(this.url, name, '0') : err;
      });
    } catch (err) {
      throw this.#unavailable(err, name);
    } finally {
      if (tmp) await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
    const after = await this.#stat(name);
    return { generation: after?.generation ?? '0' };
  }

  /** Writes data to a fresh temp file (fsynced) and makes the object's directory; returns the temp path. */
  async #writeTemp(path: string, data: Buffer): Promise<string> {
    await this.#mkdirBelowRoot(dirname(path));
    const tmpDir = join(this.root, '.tmp');
    await this.#mkdirBelowRoot(tmpDir);
    const tmp = join(tmpDir, randomBytes(8).toString('hex'));
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await fh.close();
    return tmp;
  }

  /** mkdir -p, but never of the root itself: a missing root stays missing (ENOENT). */
  async #mkdirBelowRoot(dir: string): Promise<void> {
    if (dir === this.root) return;
    try {
      await fs.mkdir(dir, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'ENOENT') throw err;
      await this.#mkdirBelowRoot(dirname(dir));
      await fs.mkdir(dir, { mode: 0o700 }).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      });
    }
  }

  async delete(name: string, options: { ifGenerationMatch?: string } = {}): Promise<void> {
    const path = this.#path(name);
    await this.assertPresent();
    const remove = async (): Promise<void> => {
      if (options.ifGenerationMatch !== undefined) {
        const current = (await this.#stat(name))?.generation ?? '0';
        if (current !== options.ifGenerationMatch) throw new PreconditionFailedError(this.url, name, options.ifGenerationMatch);
      }
      try {
        await fs.rm(path, { force: true });
      } catch (err) {
        throw this.#unavailable(err, name);
      }
    };
    return options.ifGenerationMatch === undefined ? remove() : this.#locked(name, remove);
  }

  async listPage(prefix: string, options: { pageToken?: string; maxResults?: number } = {}): Promise<ListPage> {
    const max = options.maxResults ?? 1000;
    await this.assertPresent();
    const after = options.pageToken ? Buffer.from(options.pageToken, 'base64url').toString('utf8') : '';
    // Walk only the directory the prefix lives in.
    const cut = prefix.lastIndexOf('/');
    const baseRel = cut >= 0 ? prefix.slice(0, cut) : '';
    const base = baseRel ? join(this.root, ...baseRel.split('/')) : this.root;
    const names: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw this.#unavailable(err, prefix);
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        const rel = relative(this.root, full).split(sep).join('/');
        if (rel === '.tmp' || rel === '.locks' || rel === BUCKET_MARKER) continue;
        if (e.isDirectory()) {
          if ((rel + '/').startsWith(prefix) || prefix.startsWith(rel + '/')) await walk(full);
        } else if (e.isFile() && rel.startsWith(prefix) && rel > after) {
          names.push(rel);
        }
      }
    };
    await walk(base);
    // A directory that vanished mid-walk reads as empty: only an answer while the bucket is there.
    await this.assertPresent();
    names.sort();
    const pageNames = names.slice(0, max);
    const objects: ObjectInfo[] = [];
    for (const n of pageNames) {
      const info = await this.#stat(n);
      if (info) objects.push(info);
    }
    const last = pageNames.at(-1);
    return names.length > max && last !== undefined ? { objects, nextPageToken: Buffer.from(last, 'utf8').toString('base64url') } : { objects };
  }

  /** Runs fn holding this name's lock file; breaks locks whose holder died or that are older than 30 s. */
  async #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const dir = join(this.root, '.locks');
    await this.#mkdirBelowRoot(dir).catch((err: unknown) => {
      throw this.#unavailable(err, name);
    });
    const lock = join(dir, createHash('sha256').update(name).digest('hex').slice(0, 32));
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const fh = await fs.open(lock, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw this.#unavailable(err, name);
        if (await lockIsStale(lock)) {
          await fs.rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new PlaneError(ErrorCode.Unavailable, `${this.url}: ${name} is locked by another writer`, { where: name });
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}

async function lockIsStale(lock: string): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([fs.readFile(lock, 'utf8'), fs.stat(lock)]);
    if (Date.now() - st.mtimeMs > LOCK_STALE_MS) return true;
    const pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - st.mtimeMs > 1000;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  return fs.stat(path).then((st) => st.isFile(), () => false);
}

async function isDir(path: string): Promise<boolean> {
  return fs.stat(path).then((st) => st.isDirectory(), () => false);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
