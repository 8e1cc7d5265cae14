import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';
import { isConcurrencyConflict } from './gcp-errors.ts';

/** An IAM allow policy as every Google API sends it (JSON). */
export interface IamCondition {
  title: string;
  expression: string;
  description?: string;
}
export interface IamBinding {
  role: string;
  members: string[];
  condition?: IamCondition | null;
}
export interface IamPolicy {
  version?: number | null;
  etag?: string | null;
  bindings?: IamBinding[] | null;
  auditConfigs?: unknown;
}

export interface Grant {
  role: string;
  member: string;
  condition?: IamCondition;
}

const sameCondition = (a: IamCondition | null | undefined, b: IamCondition | null | undefined): boolean =>
  (a?.expression ?? '') === (b?.expression ?? '') && (a?.title ?? '') === (b?.title ?? '');

/** Adds the member to the binding of that role and condition; false when it was there already. Other bindings are untouched. */
export function addGrant(policy: IamPolicy, g: Grant): boolean {
  const bindings = (policy.bindings ??= []);
  const b = bindings.find((x) => x.role === g.role && sameCondition(x.condition, g.condition));
  if (b?.members.includes(g.member)) return false;
  if (b) b.members.push(g.member);
  else bindings.push({ role: g.role, members: [g.member], ...(g.condition ? { condition: g.condition } : {}) });
  // Conditions need policy version 3 on every write, or Google drops them.
  if (g.condition) policy.version = 3;
  return true;
}

/** Removes the member from the binding of that role and condition; empty bindings go. False when it was not there. */
export function removeGrant(policy: IamPolicy, g: Grant): boolean {
  let changed = false;
  for (const b of policy.bindings ?? []) {
    if (b.role !== g.role || !sameCondition(b.condition, g.condition)) continue;
    const before = b.members.length;
    b.members = b.members.filter((m) => m !== g.member);
    changed ||= b.members.length !== before;
  }
  if (changed) policy.bindings = (policy.bindings ?? []).filter((b) => b.members.length > 0);
  if ((policy.bindings ?? []).some((b) => b.condition)) policy.version = 3;
  return changed;
}

export function hasGrant(policy: IamPolicy, g: Grant): boolean {
  return (policy.bindings ?? []).some((b) => b.role === g.role && sameCondition(b.condition, g.condition) && b.members.includes(g.member));
}

/**
 * Read, change, write back with the etag read: if someone else wrote the
 * policy in between, Google refuses (409 ABORTED, or 412) and we read again,
 * so another member's binding added meanwhile is never lost. `mutate` returns
 * false when nothing needs writing.
 */
export async function readModifyWrite(
  io: { get: () => Promise<IamPolicy>; set: (policy: IamPolicy) => Promise<unknown> },
  mutate: (policy: IamPolicy) => boolean,
  what: string,
  attempts = 5,
): Promise<boolean> {
  for (let i = 1; ; i++) {
    const policy = await io.get();
    if (!mutate(policy)) return false;
    try {
      await io.set(policy);
      return true;
    } catch (err) {
      if (!isConcurrencyConflict(err)) throw err;
      if (i >= attempts) throw new PlaneError(ErrorCode.Aborted, `gcp: the IAM policy of ${what} kept changing under us (${attempts} attempts)`, { cause: err });
    }
  }
}
