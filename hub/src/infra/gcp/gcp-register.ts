import type { Fleet } from '../../fleet.ts';
import type { HubContext } from '../../hub-context.ts';
import type { CompiledHubOptions } from '../../hub-options.ts';
import type { InstanceWatch } from '../instance-watch.ts';
import { createHubGcpProvider } from './gcp-hub.ts';

/**
 * Puts the gcp provider into a starting hub: registered beside local and
 * manual, its planes' instances listed every `driftIntervalMs`, per-secret
 * access kept current when a secret is written, and a Spot preemption that an
 * agent reports recorded in the audit log. Returns the closer.
 */
export function registerGcp(o: CompiledHubOptions, ctx: HubContext, fleet: Fleet, instances: InstanceWatch): () => Promise<void> {
  const gcp = o.gcp;
  if (!gcp) throw new Error('registerGcp without gcp options');
  const setup = createHubGcpProvider(gcp, ctx, fleet, { secretsProvider: o.secretsProvider, secretsApiEndpoint: o.secretsApiEndpoint, audience: o.instanceIdentityAudience });
  const provider = setup.provider;
  ctx.infra.register(provider);
  instances.start(gcp.driftIntervalMs);
  const log = ctx.log.child('gcp-infra');

  ctx.secrets.onWritten = (plane, agentName) => {
    const agent = ctx.agents.find(plane, agentName);
    if (!agent || ctx.planes.find(plane)?.spec.infraProvider !== 'gcp') return;
    provider.secretsChanged(agent.id).catch((err: unknown) => log.warn('could not grant the agent access to its secret', { plane, agent: agentName, error: err }));
  };

  const onEvent = (agentId: string, event: { kind: string; message: string }): void => {
    if (event.kind !== 'agentd.preempted') return;
    const agent = ctx.agents.findById(agentId);
    if (!agent) return;
    log.warn('Spot VM preempted', { plane: agent.plane, agent: agent.name });
    ctx.audit.record({ actor: `agent:${agent.id}`, action: 'agent.preempted', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { message: event.message } });
  };
  ctx.events.on('agentEvent', onEvent);

  return async () => {
    ctx.events.off('agentEvent', onEvent);
    await instances.stop();
    await setup.close();
  };
}
