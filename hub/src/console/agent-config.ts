import type { Static } from '@sinclair/typebox';
import { resolveAgentRuntimeSpec } from '../agent-runtime-spec.ts';
import { canonicalJson, matchingPolicies, minimalDeclaration } from '../agent-settings.ts';
import type { HubContext } from '../hub-context.ts';
import type { Policy } from '../model.ts';
import { TERMINAL_COMMAND_STATES } from '../model.ts';
import type { AgentConfigBody } from './console-schemas.ts';

const POLICY_FIELDS = ['machineType', 'diskSizeGb', 'modelTier', 'budgetCap', 'tools', 'channels'] as const;
/** How many of an agent's latest commands are searched for its last reconfigure. */
const COMMANDS_SEARCHED = 500;

/**
 * An agent's settings as the console shows them: what the hub wants (and which
 * default, policy or the agent's own value each comes from), and what the agent
 * last confirmed by running a `reconfigure` command successfully.
 */
export function agentConfig(ctx: HubContext, planeName: string, name: string): Static<typeof AgentConfigBody> {
  const plane = ctx.planes.get(planeName);
  const agent = ctx.agents.get(planeName, name);
  const own = minimalDeclaration(plane.spec, agent.spec) as Record<string, unknown>;
  const matched = matchingPolicies(plane.spec, agent.spec);
  const policies = plane.spec.policies ?? [];
  const fields: Array<{ field: string; desired: unknown; source: string }> = POLICY_FIELDS.map((field) => {
    let source = field in own ? 'agent' : 'default';
    if (source === 'default') {
      for (const i of matched) if ((policies[i] as Policy).spec[field] !== undefined) source = `policy ${i}`;
    }
    return { field, desired: agent.spec[field] ?? null, source };
  });
  for (const field of ['groups', 'ou', 'group', 'configOverrides'] as const) {
    if (agent.spec[field] !== undefined) fields.push({ field, desired: agent.spec[field], source: 'agent' });
  }

  const desired = resolveAgentRuntimeSpec(plane, agent) as unknown as Record<string, unknown>;
  const recent = ctx.commands.listFor(agent.id, COMMANDS_SEARCHED).filter((c) => c.kind === 'reconfigure');
  const confirmedCmd = recent.find((c) => c.state === 'succeeded');
  const pendingCmd = recent.find((c) => !TERMINAL_COMMAND_STATES.has(c.state) && (!confirmedCmd || c.createdAt > confirmedCmd.createdAt));
  const confirmed = (confirmedCmd?.args['spec'] as Record<string, unknown> | undefined) ?? null;
  return {
    desired: agent.spec,
    fields,
    policies: matched.map((index) => ({ index, policy: policies[index] as Policy })),
    runtime: {
      desired,
      confirmed,
      confirmedAt: confirmedCmd?.completedAt ?? null,
      pending: pendingCmd ? { commandId: pendingCmd.id, state: pendingCmd.state } : null,
      // No reconfigure since provisioning: the agent runs what it was provisioned with, which was the desired spec then.
      inSync: !pendingCmd && (confirmed === null ? recent.length === 0 : canonicalJson(confirmed) === canonicalJson(desired)),
    },
  };
}
