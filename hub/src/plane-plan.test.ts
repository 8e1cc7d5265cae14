import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AgentRecord, PlaneRecord } from './model.ts';
import { computePlan, desiredAgents } from './plane-plan.ts';
import { parsePlanesFile, planeSpecOf } from './planes-file.ts';

const example = readFileSync(new URL('../../examples/planes.yaml', import.meta.url), 'utf8');

/** The hub's state after the example was applied. */
function applied(text = example): { plane: PlaneRecord; agents: AgentRecord[] } {
  const f = parsePlanesFile(text, 'planes.yaml');
  const spec = planeSpecOf(f);
  const agents = desiredAgents(f, spec).map(
    (d): AgentRecord => ({ id: `ag_${d.name}`, plane: f.metadata.name, name: d.name, owner: d.owner, spec: d.spec, desiredState: 'running', enrolledAt: null, bootId: null, agentdVersion: null, runtimeVersions: {}, capabilities: [], lastConnectedAt: null, lastDisconnectedAt: null, createdAt: 0, updatedAt: 0 }),
  );
  return { plane: { name: f.metadata.name, spec, createdAt: 0, updatedAt: 0 }, agents };
}

const plan = (text: string, prune = false) => computePlan(parsePlanesFile(text, 'planes.yaml'), applied(), { prune });

describe('plan', () => {
  it('is empty for the state it describes, with a stable fingerprint', () => {
    const a = plan(example);
    expect(a).toMatchObject({ empty: true, planeAction: 'none', agents: [], errors: [], unchanged: ['alice-agent', 'bob-agent', 'carol-agent'] });
    expect(plan(example).fingerprint).toBe(a.fingerprint);
    expect(plan(example.replace('budgetCap: 25', 'budgetCap: 26')).fingerprint).not.toBe(a.fingerprint);
  });

  it('shows a model table change as the model each agent with that tier gets', () => {
    const p = plan(example.replace('  agents:\n', '  models:\n    tiers: { sonnet: anthropic/claude-sonnet-4-5 }\n  agents:\n'));
    expect(p.planeChanges).toEqual([{ field: 'models', path: 'spec.models', from: null, to: { tiers: { sonnet: 'anthropic/claude-sonnet-4-5' } } }]);
    // Only bob runs the sonnet tier.
    expect(p.agents).toEqual([{ name: 'bob-agent', action: 'change', path: 'spec.agents[1]', policies: [1], changes: [{ field: 'model', path: 'spec.models', from: 'anthropic/claude-sonnet-4-6', to: 'anthropic/claude-sonnet-4-5' }] }]);
  });

  it('shows an added policy by its index, and what it changes for the agents it matches', () => {
    const p = plan(example.trimEnd() + '\n\n    - match: { ou: /Sales/EMEA }\n      spec: { machineType: e2-large }\n');
    expect(p.planeChanges).toEqual([{ field: 'policies[2]', path: 'spec.policies[2]', from: null, to: { match: { ou: '/Sales/EMEA' }, spec: { machineType: 'e2-large' } } }]);
    expect(p.agents.map((a) => [a.name, a.policies, a.changes.map((c) => `${c.field}: ${String(c.from)} -> ${String(c.to)}`)])).toEqual([['carol-agent', [1, 2], ['machineType: e2-small -> e2-large']]]);
  });

  it('refuses what a plane keeps for life, and a shrinking disk, with the path of each', () => {
    const p = plan(example.replace('provider: local\n    region: local', 'provider: manual\n    region: local').replace('      machineType: e2-medium', '      machineType: e2-medium\n      diskSizeGb: 10'));
    expect(p.errors.map((e) => e.path)).toEqual(['spec.infrastructure.provider', 'spec.agents[0].diskSizeGb']);
    expect(p.errors[1]?.message).toBe("cannot shrink the disk of agent 'alice-agent' from 20 to 10 GB; a disk can only grow");
  });

  it('keeps agents that left the file unless pruning, then removes them', () => {
    const without = example.replace(/ {4}- name: carol-agent[\s\S]*?channels: \[email\]\n/, '');
    expect(plan(without)).toMatchObject({ empty: true, unmanaged: ['carol-agent'] });
    expect(plan(without, true)).toMatchObject({ empty: false, unmanaged: [], summary: { create: 0, change: 0, remove: 1 }, agents: [{ name: 'carol-agent', action: 'remove' }] });
  });
});
