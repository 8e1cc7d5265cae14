import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random id with a readable prefix, e.g. "ag_5f3k..." (base32-ish, url-safe). */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

/** A high-entropy secret for tokens and credentials (256 bits). */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Hash for high-entropy secrets (tokens, credentials). These are random 256-bit
 * values, so a fast hash is enough; a password KDF would only slow lookups.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** DNS-label names for planes and agents: they become directory names, labels and hostnames. */
export const NAME_PATTERN = '^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$';
const NAME_RE = new RegExp(NAME_PATTERN);

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}
