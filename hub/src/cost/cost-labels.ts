import type { AgentRecord } from '../model.ts';

/** Cloud labels allow [a-z0-9_-], at most 63 characters, for keys and values. */
export function labelValue(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
}

/**
 * The labels an infra provider attaches to everything it creates for an agent
 * (machine, disk, service account where the cloud allows it), so the cloud bill
 * can be split per plane, agent, owner, group and model tier (REQ-INFRA-07).
 * Keys and values follow Google Cloud's label rules.
 */
export function costLabels(agent: Pick<AgentRecord, 'plane' | 'name' | 'owner' | 'spec'>): Record<string, string> {
  return {
    'agents-plane': labelValue(agent.plane),
    agent: labelValue(agent.name),
    owner: labelValue(agent.owner),
    'model-tier': agent.spec.modelTier,
    ...(agent.spec.group ? { group: labelValue(agent.spec.group) } : {}),
  };
}
