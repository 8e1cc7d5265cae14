/**
 * What `planes apply` would do: the difference between a planes.yaml document
 * and what the hub holds, per agent (create / change with the fields that
 * change / remove) and for the plane. Pure: the same file against the same
 * state gives the same plan, and the same fingerprint.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, matchingPolicies, resolveAgentSpec } from './agent-settings.ts';
import { resolveAgentRuntimeSpec } from './agent-runtime-spec.ts';
import type { AgentRecord, AgentSpec, PlaneRecord, PlaneSpec } from './model.ts';
import { declarationOf, type PlanesFile, planeSpecOf } from './planes-file.ts';

export interface FieldChange {
  /** The setting, e.g. "modelTier" or "defaults.machineType"; "model" is the model a tier resolves to. */
  field: string;
  /** Where it is in planes.yaml, e.g. "spec.agents[2].modelTier". */
  path: string;
  from: unknown;
  to: unknown;
}

export interface AgentPlanEntry {
  name: string;
  action: 'create' | 'change' | 'remove';
  /** Path of the agent's entry in the file (absent for a removal). */
  path: string | null;
  /** For create: every setting (from null); for change: what differs; for remove: none. */
  changes: FieldChange[];
  /** Indexes of the file's policies that apply to this agent, in the order they apply. */
  policies: number[];
}

export interface PlanIssue {
  path: string;
  message: string;
}

export interface PlanePlan {
  plane: string;
  planeAction: 'create' | 'change' | 'none';
  planeChanges: FieldChange[];
  agents: AgentPlanEntry[];
  /** Agents in the file that already match it. */
  unchanged: string[];
  /** Agents in the plane but not in the file; kept because the plan was made without prune. */
  unmanaged: string[];
  /** Changes the hub refuses (a plane's infra provider, a shrinking disk): nothing is applied while there are any. */
  errors: PlanIssue[];
  summary: { create: number; change: number; remove: number };
  empty: boolean;
  /** Hash of the plan; apply with it refuses to run if the plane changed since. */
  fingerprint: string;
}

/** The desired agent: owner and resolved spec. */
export interface DesiredAgent {
  name: string;
  owner: string;
  spec: AgentSpec;
  path: string;
}

export function desiredAgents(doc: PlanesFile, plane: PlaneSpec): DesiredAgent[] {
  return doc.spec.agents.map((a, i) => ({ name: a.name, owner: a.owner, spec: resolveAgentSpec(plane, declarationOf(a)), path: `spec.agents[${i}]` }));
}

const AGENT_FIELDS = ['machineType', 'diskSizeGb', 'modelTier', 'budgetCap', 'tools', 'channels', 'configOverrides', 'groups', 'ou', 'spot'] as const;

/** Plane settings: where each lives in the file, and whether an existing plane may change it. */
const PLANE_FIELDS: ReadonlyArray<{ field: string; path: string; get: (s: PlaneSpec) => unknown; immutable?: string }> = [
  { field: 'infraProvider', path: 'spec.infrastructure.provider', get: (s) => s.infraProvider, immutable: 'machines cannot move between infra providers; create a new plane' },
  { field: 'region', path: 'spec.infrastructure.region', get: (s) => s.region, immutable: 'machines cannot move between regions; create a new plane' },
  { field: 'project', path: 'spec.infrastructure.project', get: (s) => s.project, immutable: 'machines cannot move between projects; create a new plane' },
  { field: 'zone', path: 'spec.infrastructure.zone', get: (s) => s.zone, immutable: 'machines cannot move between zones; create a new plane' },
  { field: 'network', path: 'spec.infrastructure.network', get: (s) => s.network, immutable: 'machines cannot move between networks; create a new plane' },
  { field: 'subnetwork', path: 'spec.infrastructure.subnetwork', get: (s) => s.subnetwork, immutable: 'machines cannot move between subnetworks; create a new plane' },
  { field: 'secretsProvider', path: 'spec.secrets.provider', get: (s) => s.secretsProvider, immutable: 'secrets cannot move between providers by editing the file' },
  { field: 'secretsProject', path: 'spec.secrets.project', get: (s) => s.secretsProject, immutable: 'secrets cannot move between projects by editing the file' },
  { field: 'identityProvider', path: 'spec.identity.provider', get: (s) => s.identityProvider },
  { field: 'identity', path: 'spec.identity', get: (s) => s.identity },
  { field: 'networkProvider', path: 'spec.networking.provider', get: (s) => s.networkProvider },
  { field: 'egressPolicy', path: 'spec.networking.egressPolicy', get: (s) => s.egressPolicy },
  { field: 'costs', path: 'spec.costs', get: (s) => s.costs },
  { field: 'defaults.machineType', path: 'spec.infrastructure.defaults.machineType', get: (s) => s.defaults.machineType },
  { field: 'defaults.diskSizeGb', path: 'spec.infrastructure.defaults.diskSizeGb', get: (s) => s.defaults.diskSizeGb },
  { field: 'defaults.image', path: 'spec.infrastructure.defaults.image', get: (s) => s.defaults.image },
  { field: 'defaults.spot', path: 'spec.infrastructure.defaults.spot', get: (s) => s.defaults.spot },
  { field: 'models', path: 'spec.models', get: (s) => s.models },
  { field: 'policies', path: 'spec.policies', get: (s) => s.policies },
];

const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The changes between two values as readable lines: objects (and lists of
 * objects, such as policies) are compared key by key down to what differs;
 * scalars and lists of scalars are shown whole.
 */
function leafChanges(field: string, path: string, from: unknown, to: unknown): FieldChange[] {
  if (same(from, to)) return [];
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])];
    return keys.flatMap((k) => leafChanges(`${field}.${k}`, `${path}.${k}`, from[k], to[k]));
  }
  if (Array.isArray(from) && Array.isArray(to) && [...(from as unknown[]), ...(to as unknown[])].every(isObject)) {
    return Array.from({ length: Math.max(from.length, to.length) }, (_, i) => leafChanges(`${field}[${i}]`, `${path}[${i}]`, from[i], to[i])).flat();
  }
  return [{ field, path, from: from ?? null, to: to ?? null }];
}

export function computePlan(doc: PlanesFile, current: { plane: PlaneRecord | undefined; agents: AgentRecord[] }, options: { prune: boolean }): PlanePlan {
  const name = doc.metadata.name;
  const want = planeSpecOf(doc);
  const errors: PlanIssue[] = [];
  const planeChanges: FieldChange[] = [];
  if (current.plane) {
    for (const f of PLANE_FIELDS) {
      const from = f.get(current.plane.spec);
      const to = f.get(want);
      if (same(from, to)) continue;
      planeChanges.push(...leafChanges(f.field, f.path, from, to));
      if (f.immutable) errors.push({ path: f.path, message: `cannot change ${f.field} of plane '${name}' from ${JSON.stringify(from ?? null)} to ${JSON.stringify(to ?? null)}: ${f.immutable}` });
    }
  }
  const wantPlane: PlaneRecord = { name, spec: want, createdAt: 0, updatedAt: 0 };
  const have = new Map(current.agents.map((a) => [a.name, a]));
  const agents: AgentPlanEntry[] = [];
  const unchanged: string[] = [];
  for (const d of desiredAgents(doc, want)) {
    const policies = matchingPolicies(want, d.spec);
    const existing = have.get(d.name);
    if (!existing) {
      const changes: FieldChange[] = [{ field: 'owner', path: `${d.path}.owner`, from: null, to: d.owner }];
      for (const f of AGENT_FIELDS) if (d.spec[f] !== undefined) changes.push({ field: f, path: `${d.path}.${f}`, from: null, to: d.spec[f] });
      agents.push({ name: d.name, action: 'create', path: d.path, changes, policies });
      continue;
    }
    const changes: FieldChange[] = [];
    if (existing.owner !== d.owner) changes.push({ field: 'owner', path: `${d.path}.owner`, from: existing.owner, to: d.owner });
    for (const f of AGENT_FIELDS) {
      if (!same(existing.spec[f], d.spec[f])) changes.push({ field: f, path: `${d.path}.${f}`, from: existing.spec[f] ?? null, to: d.spec[f] ?? null });
    }
    if (current.plane && existing.spec.modelTier === d.spec.modelTier) {
      // A plane-level models change reaches agents through the model their (unchanged) tier resolves to.
      const before = resolveAgentRuntimeSpec(current.plane, existing).model;
      const after = resolveAgentRuntimeSpec(wantPlane, { ...existing, owner: d.owner, spec: d.spec }).model;
      if (before !== after) changes.push({ field: 'model', path: 'spec.models', from: before, to: after });
    }
    if (existing.spec.diskSizeGb > d.spec.diskSizeGb) {
      errors.push({ path: `${d.path}.diskSizeGb`, message: `cannot shrink the disk of agent '${d.name}' from ${existing.spec.diskSizeGb} to ${d.spec.diskSizeGb} GB; a disk can only grow` });
    }
    if (changes.length > 0) agents.push({ name: d.name, action: 'change', path: d.path, changes, policies });
    else unchanged.push(d.name);
  }
  const inFile = new Set(doc.spec.agents.map((a) => a.name));
  const extra = current.agents.filter((a) => !inFile.has(a.name)).map((a) => a.name);
  if (options.prune) for (const n of extra) agents.push({ name: n, action: 'remove', path: null, changes: [], policies: [] });
  const count = (action: AgentPlanEntry['action']): number => agents.filter((a) => a.action === action).length;
  const summary = { create: count('create'), change: count('change'), remove: count('remove') };
  const planeAction = current.plane ? (planeChanges.length > 0 ? 'change' : 'none') : 'create';
  const body = { plane: name, planeAction, planeChanges, agents, errors } as const;
  return {
    ...body,
    unchanged,
    unmanaged: options.prune ? [] : extra,
    summary,
    empty: planeAction === 'none' && agents.length === 0,
    fingerprint: createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 32),
  };
}
