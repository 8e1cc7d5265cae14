import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, PlaneError } from '../errors.ts';

const MAGIC = Buffer.from('APB1');
const NONCE = 12;
const TAG = 16;
export const DATA_KEY_BYTES = 32;
/** The data key's name in the agent's secret namespace. */
export const BRAIN_KEY_SECRET = 'brain-data-key';

/**
 * The per-agent data key, split by HKDF into an encryption key (AES-256-GCM)
 * and a naming key (HMAC-SHA256). Content-addressed objects are named by the
 * HMAC of their plaintext, not a bare hash, so the bucket cannot be used to
 * confirm a guess of what a file contains.
 *
 * Sealed object: "APB1" | 12-byte random nonce | ciphertext | 16-byte tag, with
 * the object's name as additional data, so a sealed object moved or renamed in
 * the bucket no longer opens. Lose the data key and the brain is unreadable:
 * there is no escrow and no back door.
 */
export class BrainKey {
  // KeyObjects, not Buffers: each createHmac/createDecipheriv with a raw key re-imports it
  // (a third of a 10,000-file restore went there).
  /** The key new objects are sealed and named with, then older ones still being rotated out. */
  readonly #keys: { enc: KeyObject; mac: KeyObject }[];
  readonly #raw: Buffer;
  /** Short public id of the current key (HMAC of a constant), to tell keys apart without revealing them. */
  readonly keyId: string;

  /**
   * One 32-byte data key, or a key ring during a rotation: the new key, then the
   * old one(s), concatenated. New objects use the first; opening tries each in turn.
   */
  constructor(dataKey: Buffer) {
    if (dataKey.length === 0 || dataKey.length % DATA_KEY_BYTES !== 0 || dataKey.length > 4 * DATA_KEY_BYTES) {
      throw new PlaneError(ErrorCode.InvalidArgument, `data key must be ${DATA_KEY_BYTES} bytes (or a ring of up to 4 such keys), got ${dataKey.length}`);
    }
    this.#raw = Buffer.from(dataKey);
    this.#keys = [];
    for (let i = 0; i < dataKey.length; i += DATA_KEY_BYTES) {
      const k = dataKey.subarray(i, i + DATA_KEY_BYTES);
      this.#keys.push({
        enc: createSecretKey(Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), 'agents-plane brain enc v1', 32))),
        mac: createSecretKey(Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), 'agents-plane brain name v1', 32))),
      });
    }
    this.keyId = BrainKey.idOf(this.#current.mac);
  }

  get #current(): { enc: KeyObject; mac: KeyObject } {
    return this.#keys[0] as { enc: KeyObject; mac: KeyObject };
  }

  private static idOf(mac: KeyObject): string {
    return createHmac('sha256', mac).update('key-id').digest('hex').slice(0, 16);
  }

  /** The id of a raw 32-byte data key, as `keyId` would report it. */
  static keyIdOf(dataKey: Buffer): string {
    return new BrainKey(dataKey.subarray(0, DATA_KEY_BYTES)).keyId;
  }

  /** How many keys this ring holds (1 outside a rotation). */
  get ringSize(): number {
    return this.#keys.length;
  }

  /** Only the current key: what remains once every object is sealed with it. */
  currentOnly(): BrainKey {
    return new BrainKey(this.#raw.subarray(0, DATA_KEY_BYTES));
  }

  /** The data key itself, only to hand to a restore worker thread of this process. */
  forWorkerThread(): Buffer {
    return Buffer.from(this.#raw);
  }

  static generate(): Buffer {
    return randomBytes(DATA_KEY_BYTES);
  }

  /** Content name of a plaintext chunk (hex HMAC-SHA256). */
  nameOf(plain: Buffer): string {
    return createHmac('sha256', this.#current.mac).update(plain).digest('hex');
  }

  seal(objectName: string, plain: Buffer): Buffer {
    const nonce = randomBytes(NONCE);
    const c = createCipheriv('aes-256-gcm', this.#current.enc, nonce);
    c.setAAD(Buffer.from(objectName, 'utf8'));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([MAGIC, nonce, body, c.getAuthTag()]);
  }

  open(objectName: string, sealed: Buffer): Buffer {
    return this.openWithIndex(objectName, sealed).plain;
  }

  /** Opens an object; `index` says which key of the ring did (0: the current one). */
  openWithIndex(objectName: string, sealed: Buffer): { plain: Buffer; index: number } {
    if (sealed.length < MAGIC.length + NONCE + TAG || !sealed.subarray(0, 4).equals(MAGIC)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: not a sealed brain object`, { where: objectName });
    }
    const nonce = sealed.subarray(4, 4 + NONCE);
    const tag = sealed.subarray(sealed.length - TAG);
    for (const [index, k] of this.#keys.entries()) {
      const d = createDecipheriv('aes-256-gcm', k.enc, nonce);
      d.setAAD(Buffer.from(objectName, 'utf8'));
      d.setAuthTag(tag);
      try {
        const plain = d.update(sealed.subarray(4 + NONCE, sealed.length - TAG));
        d.final(); // GCM returns nothing here; it checks the tag
        return { plain, index };
      } catch {
        // not this key (or altered): try the next one
      }
    }
    throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: does not decrypt with this agent's data key (wrong key, or the object was altered)`, { where: objectName });
  }

  /** Opens a content-addressed chunk and checks its plaintext against its name. */
  openChunk(objectName: string, chunkName: string, sealed: Buffer): Buffer {
    return this.openChunkWithIndex(objectName, chunkName, sealed).plain;
  }

  /** openChunk, saying which key of the ring sealed and named it. */
  openChunkWithIndex(objectName: string, chunkName: string, sealed: Buffer): { plain: Buffer; index: number } {
    const { plain, index } = this.openWithIndex(objectName, sealed);
    const mac = this.#keys[index]?.mac as KeyObject;
    const actual = Buffer.from(createHmac('sha256', mac).update(plain).digest('hex'), 'hex');
    const expected = Buffer.from(chunkName, 'hex');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: content does not match its hash`, { where: objectName });
    }
    return { plain, index };
  }
}
