import { ErrorCode, PlaneError } from '../errors.ts';
import { isValidName } from '../ids.ts';

/**
 * Secrets live in one namespace per agent: (plane, agent). Nothing in this
 * interface crosses namespaces, and nothing in it lists across a fleet.
 *
 * Providers hold values; they never log them, never put them in an error
 * message, and never return them from anything but get().
 */
export interface SecretScope {
  readonly plane: string;
  readonly agent: string;
}

/** generated: made by Agents Plane and regenerated on rotation; external: set by an admin, re-read on rotation. */
export type SecretKind = 'generated' | 'external';

/** What an admin may see about a secret: never its value. */
export interface SecretInfo {
  name: string;
  /** Increases by one on every set; rotation is a new version. */
  version: number;
  kind: SecretKind;
  createdAt: number;
  updatedAt: number;
}

export interface SecretValue {
  value: Buffer;
  version: number;
}

export interface SecretsProvider {
  /** 'local' or 'gcp-secret-manager'. */
  readonly name: string;
  /** The latest version, or null when the secret does not exist. Read by known name: no list call. */
  get(scope: SecretScope, name: string): Promise<SecretValue | null>;
  /** Adds a version (creating the secret when absent) and returns its metadata. */
  set(scope: SecretScope, name: string, value: Buffer, kind: SecretKind): Promise<SecretInfo>;
  /** Metadata of one secret, or null. */
  info(scope: SecretScope, name: string): Promise<SecretInfo | null>;
  /** Deletes the secret and every version of it; false when it did not exist. */
  delete(scope: SecretScope, name: string): Promise<boolean>;
  /** Metadata of every secret in the namespace, sorted by name. An admin operation. */
  list(scope: SecretScope): Promise<SecretInfo[]>;
  /** Deletes the whole namespace; returns how many secrets went. */
  deleteNamespace(scope: SecretScope): Promise<number>;
}

/** Key names: environment-variable-like, plus lower case and '-' (e.g. brain-data-key). */
export const SECRET_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,127}$';
const SECRET_NAME_RE = new RegExp(SECRET_NAME_PATTERN);
/** Values above this are refused (Secret Manager's own limit is 64 KiB per version). */
export const MAX_SECRET_BYTES = 64 * 1024;

export function checkSecretName(name: string, where = 'name'): void {
  if (!SECRET_NAME_RE.test(name)) {
    throw new PlaneError(ErrorCode.InvalidArgument, `secret name ${JSON.stringify(name.slice(0, 140))} is not valid: use letters, digits, '_' and '-', starting with a letter, at most 128 characters`, { where });
  }
}

export function checkSecretValue(value: Buffer, name: string): void {
  if (value.length === 0) throw new PlaneError(ErrorCode.InvalidArgument, `secret ${name}: the value is empty`, { where: 'value' });
  if (value.length > MAX_SECRET_BYTES) {
    throw new PlaneError(ErrorCode.InvalidArgument, `secret ${name}: the value is ${value.length} bytes; the limit is ${MAX_SECRET_BYTES} (64 KiB)`, { where: 'value' });
  }
}

/** Plane and agent names are DNS labels; anything else could escape a namespace prefix. */
export function checkSecretScope(scope: SecretScope): void {
  if (!isValidName(scope.plane)) throw new PlaneError(ErrorCode.InvalidArgument, `plane name ${JSON.stringify(scope.plane.slice(0, 60))} is not a DNS label`, { where: 'plane' });
  if (!isValidName(scope.agent)) throw new PlaneError(ErrorCode.InvalidArgument, `agent name ${JSON.stringify(scope.agent.slice(0, 60))} is not a DNS label`, { where: 'agent' });
}
