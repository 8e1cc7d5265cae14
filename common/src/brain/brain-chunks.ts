import { constants as fsc, promises as fs } from 'node:fs';
import type { BrainKey } from './brain-crypto.ts';
import { BrokenChunkError } from './brain-manifest.ts';
import { type Bucket, isPreconditionFailure, listAll } from './bucket.ts';

/** Files are cut into chunks of this size; a snapshot of a big database re-uploads only the chunks that changed. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * One brain's content chunks, `<prefix>chunks/<hh>/<name>`: sealed, named by
 * the HMAC of their plaintext, written once and never changed. Remembers which
 * chunks it uploaded or downloaded intact so a push skips them; the store
 * forgets them all when the bucket may have lost them (see BrainStore.distrust).
 */
export class BrainChunks {
  readonly #bucket: Bucket;
  readonly #prefix: string;
  readonly #key: () => BrainKey;
  readonly #known = new Set<string>();

  constructor(bucket: Bucket, prefix: string, key: () => BrainKey) {
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.#key = key;
  }

  objectName(name: string): string {
    return `${this.#prefix}chunks/${name.slice(0, 2)}/${name}`;
  }

  /** Takes these chunks as present in the bucket (seen there, or just restored from it). */
  remember(names: Iterable<string>): void {
    for (const c of names) this.#known.add(c);
  }

  forget(name: string): void {
    this.#known.delete(name);
  }

  forgetAll(): void {
    this.#known.clear();
  }

  /** Uploads one chunk unless it is known to be there; returns its content name. */
  async put(plain: Buffer): Promise<string> {
    const key = this.#key();
    const name = key.nameOf(plain);
    if (this.#known.has(name)) return name;
    const object = this.objectName(name);
    try {
      await this.#bucket.put(object, key.seal(object, plain), { ifGenerationMatch: '0' });
    } catch (err) {
      if (!isPreconditionFailure(err)) throw err; // already there: same name, same content
    }
    this.#known.add(name);
    return name;
  }

  /** Uploads a local file as chunks, reading it in CHUNK_BYTES pieces. */
  async putFile(path: string, size?: number): Promise<{ chunks: string[]; size: number }> {
    const fh = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const total = size ?? (await fh.stat()).size;
      const chunks: string[] = [];
      let offset = 0;
      let read = 0;
      const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(total, 1)));
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        chunks.push(await this.put(Buffer.from(buf.subarray(0, bytesRead))));
        offset += bytesRead;
        read += bytesRead;
        if (bytesRead < buf.length) break;
      }
      return { chunks, size: read };
    } finally {
      await fh.close();
    }
  }

  /** A chunk's plaintext, authenticated and checked against its name. */
  async read(name: string): Promise<Buffer> {
    const object = this.objectName(name);
    const got = await this.#bucket.get(object);
    if (!got) throw new BrokenChunkError(object, name, 'missing');
    try {
      return this.#key().openChunk(object, name, got.data);
    } catch (err) {
      throw new BrokenChunkError(object, name, 'corrupt', (err as Error).message);
    }
  }

  /** Which chunks are in the bucket, by listing (a request per 1000 chunks, not one per chunk). */
  async present(): Promise<Set<string>> {
    const out = new Set<string>();
    for await (const o of listAll(this.#bucket, `${this.#prefix}chunks/`)) out.add(o.name.slice(o.name.lastIndexOf('/') + 1));
    return out;
  }
}
