/**
 * How an agent's settings come about: built-in defaults, then the plane's
 * infrastructure defaults, then every matching policy in the order the plane
 * lists them (a later policy over an earlier one, field by field), then the
 * agent's own values. Lists replace; they are not merged.
 */
import type { AgentSpec, PlaneSpec, Policy } from './model.ts';

/** The values an agent declares itself (a planes.yaml entry, a REST body). `budgetCap: null` means "no cap", even where a policy sets one. */
export interface AgentDeclaration {
  machineType?: string | undefined;
  diskSizeGb?: number | undefined;
  modelTier?: AgentSpec['modelTier'] | undefined;
  budgetCap?: number | null | undefined;
  tools?: string[] | undefined;
  channels?: string[] | undefined;
  configOverrides?: Record<string, unknown> | undefined;
  groups?: string[] | undefined;
  ou?: string | undefined;
  /** The team the agent is billed to (cost-report --by group); not used for policy matching. */
  group?: string | undefined;
  spot?: boolean | undefined;
}

/** Settings every agent gets unless the plane, a policy or the agent says otherwise. */
export const BUILTIN_AGENT_DEFAULTS = Object.freeze({ modelTier: 'sonnet' as const, tools: [] as string[], channels: [] as string[] });

const POLICY_FIELDS = ['machineType', 'diskSizeGb', 'modelTier', 'budgetCap', 'tools', 'channels', 'spot'] as const;
type PolicyField = (typeof POLICY_FIELDS)[number];

function ouMatches(policyOu: string, agentOu: string | undefined): boolean {
  if (agentOu === undefined) return false;
  if (policyOu === '/') return true;
  return agentOu === policyOu || agentOu.startsWith(`${policyOu}/`);
}

function policyMatches(p: Policy, member: { groups?: string[] | undefined; ou?: string | undefined }): boolean {
  const { group, ou } = p.match;
  if (group !== undefined && !(member.groups ?? []).some((g) => g.toLowerCase() === group.toLowerCase())) return false;
  if (ou !== undefined && !ouMatches(ou, member.ou)) return false;
  return group !== undefined || ou !== undefined;
}

/** Indexes (in the plane's order) of the policies that match an agent. */
export function matchingPolicies(plane: PlaneSpec, member: { groups?: string[] | undefined; ou?: string | undefined }): number[] {
  return (plane.policies ?? []).flatMap((p, i) => (policyMatches(p, member) ? [i] : []));
}

/** Defaults, then matching policies in order; what an agent gets before its own values. */
function inherited(plane: PlaneSpec, member: { groups?: string[] | undefined; ou?: string | undefined }): Pick<AgentSpec, PolicyField> {
  const out: Pick<AgentSpec, PolicyField> = {
    machineType: plane.defaults.machineType,
    diskSizeGb: plane.defaults.diskSizeGb,
    modelTier: BUILTIN_AGENT_DEFAULTS.modelTier,
    tools: [...BUILTIN_AGENT_DEFAULTS.tools],
    channels: [...BUILTIN_AGENT_DEFAULTS.channels],
    ...(plane.defaults.spot ? { spot: true } : {}),
  };
  const policies = plane.policies ?? [];
  for (const i of matchingPolicies(plane, member)) {
    const s = (policies[i] as Policy).spec;
    for (const f of POLICY_FIELDS) if (s[f] !== undefined) (out as Record<string, unknown>)[f] = s[f];
  }
  return out;
}

/** The agent spec a declaration resolves to in a plane. */
export function resolveAgentSpec(plane: PlaneSpec, decl: AgentDeclaration): AgentSpec {
  const base = inherited(plane, decl);
  const budgetCap = decl.budgetCap === null ? undefined : (decl.budgetCap ?? base.budgetCap);
  // Only `spot: true` is stored: agents made before the setting existed keep resolving to the same spec.
  const spot = decl.spot ?? base.spot ?? false;
  return {
    machineType: decl.machineType ?? base.machineType,
    diskSizeGb: decl.diskSizeGb ?? base.diskSizeGb,
    modelTier: decl.modelTier ?? base.modelTier,
    ...(budgetCap !== undefined ? { budgetCap } : {}),
    tools: decl.tools ?? base.tools,
    channels: decl.channels ?? base.channels,
    ...(decl.configOverrides !== undefined && Object.keys(decl.configOverrides).length > 0 ? { configOverrides: decl.configOverrides } : {}),
    ...(decl.groups !== undefined && decl.groups.length > 0 ? { groups: decl.groups } : {}),
    ...(decl.ou !== undefined ? { ou: decl.ou } : {}),
    ...(decl.group !== undefined ? { group: decl.group } : {}),
    ...(spot ? { spot: true } : {}),
  };
}

/**
 * The smallest declaration that resolves to `spec` in this plane: only values
 * that differ from what defaults and policies give. `export` writes these.
 */
export function minimalDeclaration(plane: PlaneSpec, spec: AgentSpec): AgentDeclaration {
  const base = inherited(plane, spec);
  const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
  const out: AgentDeclaration = {};
  if (spec.groups !== undefined && spec.groups.length > 0) out.groups = spec.groups;
  if (spec.ou !== undefined) out.ou = spec.ou;
  if (spec.group !== undefined) out.group = spec.group;
  for (const f of POLICY_FIELDS) {
    if (f === 'budgetCap') continue;
    if (f === 'spot') {
      if (Boolean(spec.spot) !== Boolean(base.spot)) out.spot = Boolean(spec.spot);
      continue;
    }
    if (!same(spec[f], base[f])) (out as Record<string, unknown>)[f] = spec[f];
  }
  if (spec.budgetCap !== base.budgetCap) out.budgetCap = spec.budgetCap ?? null;
  if (spec.configOverrides !== undefined && Object.keys(spec.configOverrides).length > 0) out.configOverrides = spec.configOverrides;
  return out;
}

/** JSON with object keys sorted: equal values give equal strings. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  ) ?? 'undefined';
}
