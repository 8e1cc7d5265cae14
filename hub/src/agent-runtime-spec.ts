import { type AgentRuntimeSpec, DEFAULT_MODEL_TIERS } from '../../common/src/agent-spec.ts';
import type { AgentRecord, PlaneRecord } from './model.ts';

/**
 * Resolves what an agent should run from its plane and its own settings: the
 * tier picks the model from the plane's table (or the defaults), and only the
 * providers that model needs travel with it.
 */
export function resolveAgentRuntimeSpec(plane: PlaneRecord, agent: AgentRecord): AgentRuntimeSpec {
  const tiers = { ...DEFAULT_MODEL_TIERS, ...plane.spec.models?.tiers };
  const model = tiers[agent.spec.modelTier];
  const providerName = model.split('/')[0] ?? '';
  const provider = plane.spec.models?.providers?.[providerName];
  return {
    plane: plane.name,
    agent: agent.name,
    owner: agent.owner,
    modelTier: agent.spec.modelTier,
    model,
    providers: provider ? { [providerName]: provider } : {},
    tools: agent.spec.tools,
    channels: agent.spec.channels,
    agentHeartbeatEvery: '30m',
    configOverrides: agent.spec.configOverrides ?? {},
  };
}
