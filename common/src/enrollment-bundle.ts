import { ErrorCode, PlaneError } from './errors.ts';

/**
 * Everything an agent needs for its first contact with the hub, in one string:
 * where the hub is, the CA to pin, who the agent is, and a one-time token.
 * Encoded as "apb1.<base64url(JSON)>". It carries a credential: write it 0600,
 * never log it, and delete it once enrolment succeeds.
 */
export interface EnrollmentBundle {
  v: 1;
  /** host:port of the hub's gRPC endpoint */
  hub: string;
  /** PEM of the hub CA the agent must trust */
  caPem: string;
  plane: string;
  agent: string;
  token: string;
  expiresAt: number;
}

const PREFIX = 'apb1.';

export function encodeBundle(bundle: EnrollmentBundle): string {
  return PREFIX + Buffer.from(JSON.stringify(bundle), 'utf8').toString('base64url');
}

export function decodeBundle(text: string, where = 'enrollment bundle'): EnrollmentBundle {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) throw new PlaneError(ErrorCode.InvalidArgument, `${where} does not start with "${PREFIX}"`, { where });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(trimmed.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${where} is not valid base64url JSON`, { where, cause });
  }
  const b = value as Partial<EnrollmentBundle>;
  for (const field of ['hub', 'caPem', 'plane', 'agent', 'token'] as const) {
    if (typeof b[field] !== 'string' || b[field] === '') {
      throw new PlaneError(ErrorCode.InvalidArgument, `${where}: field '${field}' is missing`, { where: `${where}.${field}` });
    }
  }
  if (b.v !== 1) throw new PlaneError(ErrorCode.InvalidArgument, `${where}: unsupported version ${String(b.v)}`, { where: `${where}.v` });
  return b as EnrollmentBundle;
}
