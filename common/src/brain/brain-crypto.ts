import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, PlaneError } from '../errors.ts';

const MAGIC = Buffer.from('APB1');
const NONCE = 12;
const TAG = 16;
export const DATA_KEY_BYTES = 32;

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
  readonly #enc: KeyObject;
  readonly #mac: KeyObject;
  readonly #raw: Buffer;
  /** Short public id of the key (HMAC of a constant), to tell keys apart without revealing them. */
  readonly keyId: string;

  constructor(dataKey: Buffer) {
    if (dataKey.length !== DATA_KEY_BYTES) throw new PlaneError(ErrorCode.InvalidArgument, `data key must be ${DATA_KEY_BYTES} bytes, got ${dataKey.length}`);
    this.#raw = Buffer.from(dataKey);
    this.#enc = createSecretKey(Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'agents-plane brain enc v1', 32)));
    this.#mac = createSecretKey(Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'agents-plane brain name v1', 32)));
    this.keyId = createHmac('sha256', this.#mac).update('key-id').digest('hex').slice(0, 16);
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
    return createHmac('sha256', this.#mac).update(plain).digest('hex');
  }

  seal(objectName: string, plain: Buffer): Buffer {
    const nonce = randomBytes(NONCE);
    const c = createCipheriv('aes-256-gcm', this.#enc, nonce);
    c.setAAD(Buffer.from(objectName, 'utf8'));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([MAGIC, nonce, body, c.getAuthTag()]);
  }

  open(objectName: string, sealed: Buffer): Buffer {
    if (sealed.length < MAGIC.length + NONCE + TAG || !sealed.subarray(0, 4).equals(MAGIC)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: not a sealed brain object`, { where: objectName });
    }
    const nonce = sealed.subarray(4, 4 + NONCE);
    const tag = sealed.subarray(sealed.length - TAG);
    const d = createDecipheriv('aes-256-gcm', this.#enc, nonce);
    d.setAAD(Buffer.from(objectName, 'utf8'));
    d.setAuthTag(tag);
    try {
      const plain = d.update(sealed.subarray(4 + NONCE, sealed.length - TAG));
      d.final(); // GCM returns nothing here; it checks the tag
      return plain;
    } catch {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: does not decrypt with this agent's data key (wrong key, or the object was altered)`, { where: objectName });
    }
  }

  /** Opens a content-addressed chunk and checks its plaintext against its name. */
  openChunk(objectName: string, chunkName: string, sealed: Buffer): Buffer {
    const plain = this.open(objectName, sealed);
    const actual = Buffer.from(this.nameOf(plain), 'hex');
    const expected = Buffer.from(chunkName, 'hex');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${objectName}: content does not match its hash`, { where: objectName });
    }
    return plain;
  }
}
