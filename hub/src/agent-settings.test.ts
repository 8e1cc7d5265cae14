import { describe, expect, it } from 'vitest';
import { matchingPolicies, minimalDeclaration, resolveAgentSpec } from './agent-settings.ts';
import type { PlaneSpec } from './model.ts';

const plane: PlaneSpec = {
  infraProvider: 'local',
  identityProvider: 'none',
  secretsProvider: 'local',
  networkProvider: 'none',
  region: 'local',
  defaults: { machineType: 'e2-small', diskSizeGb: 20 },
  policies: [
    { match: { ou: '/Engineering' }, spec: { modelTier: 'sonnet', tools: ['email', 'github'], budgetCap: 100, machineType: 'e2-medium' } },
    { match: { group: 'Leads@Acme.com' }, spec: { budgetCap: 500, modelTier: 'opus' } },
    { match: { group: 'leads@acme.com', ou: '/Sales' }, spec: { tools: ['crm'] } },
  ],
};

describe('agent settings: defaults < policies (in order) < the agent', () => {
  it('gives an agent nothing matches the defaults', () => {
    expect(resolveAgentSpec(plane, {})).toEqual({ machineType: 'e2-small', diskSizeGb: 20, modelTier: 'sonnet', tools: [], channels: [] });
    expect(matchingPolicies(plane, {})).toEqual([]);
  });

  it('applies a policy over the defaults, and an OU policy to the OUs below it', () => {
    for (const ou of ['/Engineering', '/Engineering/Platform']) {
      expect(resolveAgentSpec(plane, { ou })).toMatchObject({ machineType: 'e2-medium', modelTier: 'sonnet', tools: ['email', 'github'], budgetCap: 100 });
    }
    expect(matchingPolicies(plane, { ou: '/EngineeringX' })).toEqual([]);
  });

  it('applies two matching policies in order, field by field: the later wins where both set a field', () => {
    const spec = resolveAgentSpec(plane, { ou: '/Engineering', groups: ['leads@acme.com'] });
    expect(matchingPolicies(plane, { ou: '/Engineering', groups: ['leads@acme.com'] })).toEqual([0, 1]);
    // budgetCap and modelTier from policy 1 (later), tools and machineType from policy 0 (only it sets them).
    expect(spec).toMatchObject({ machineType: 'e2-medium', modelTier: 'opus', tools: ['email', 'github'], budgetCap: 500 });
  });

  it('needs every key of a match to match', () => {
    expect(matchingPolicies(plane, { groups: ['leads@acme.com'] })).toEqual([1]);
    expect(matchingPolicies(plane, { groups: ['leads@acme.com'], ou: '/Sales/EMEA' })).toEqual([1, 2]);
  });

  it("lets the agent's own values win over every policy; null budgetCap means no cap", () => {
    const spec = resolveAgentSpec(plane, { ou: '/Engineering', groups: ['leads@acme.com'], modelTier: 'haiku', tools: [], budgetCap: null, machineType: 'e2-large' });
    expect(spec).toEqual({ machineType: 'e2-large', diskSizeGb: 20, modelTier: 'haiku', tools: [], channels: [], groups: ['leads@acme.com'], ou: '/Engineering' });
  });

  it('finds the smallest declaration that resolves to the same spec', () => {
    for (const decl of [{}, { ou: '/Engineering' }, { ou: '/Engineering', groups: ['leads@acme.com'], tools: [] as string[], budgetCap: null }, { modelTier: 'opus' as const, channels: ['slack'] }]) {
      const spec = resolveAgentSpec(plane, decl);
      const minimal = minimalDeclaration(plane, spec);
      expect(resolveAgentSpec(plane, minimal)).toEqual(spec);
    }
    expect(minimalDeclaration(plane, resolveAgentSpec(plane, { ou: '/Engineering', modelTier: 'sonnet' }))).toEqual({ ou: '/Engineering' });
  });
});
