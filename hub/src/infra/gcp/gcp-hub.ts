import { secretId } from '../../../../common/src/secrets/gcp-secret-manager-provider.ts';
import type { Fleet } from '../../fleet.ts';
import type { HubContext } from '../../hub-context.ts';
import type { PlaneRecord } from '../../model.ts';
import { type GcpHubOptions, type GcpSetup, createGcpProvider } from './gcp-options.ts';
import type { GcpPlaneRef } from './gcp-refs.ts';

/** How long a deprovision or resize waits for the agent's last brain push. */
const FINAL_SYNC_MS = 30_000;

/** A gcp plane's settings with the defaults filled in: zone <region>-b, network "default". */
export function gcpPlaneRef(plane: PlaneRecord): GcpPlaneRef | undefined {
  const s = plane.spec;
  if (s.infraProvider !== 'gcp' || !s.project) return undefined;
  return { project: s.project, region: s.region, zone: s.zone ?? `${s.region}-b`, network: s.network ?? 'default', subnetwork: s.subnetwork, image: s.defaults.image };
}

/**
 * The gcp provider wired to a hub: the one place that maps the hub's context
 * to the provider's narrow dependencies (planes and agents by name, the final
 * sync and health gate through the fleet, audit, and per-secret access when
 * the hub keeps secrets in Secret Manager).
 */
export function createHubGcpProvider(
  options: GcpHubOptions,
  ctx: HubContext,
  fleet: Fleet,
  hub: { secretsProvider: string; secretsApiEndpoint?: string | undefined; audience?: string | undefined },
): GcpSetup {
  const secretsProject = hub.secretsProvider.startsWith('gcp-secret-manager:') ? hub.secretsProvider.slice('gcp-secret-manager:'.length) : undefined;
  const ref = (id: string): { agentId: string; plane: string; agent: string; owner: string } | undefined => {
    const a = ctx.agents.findById(id);
    return a && { agentId: a.id, plane: a.plane, agent: a.name, owner: a.owner };
  };
  return createGcpProvider(options, {
    log: ctx.log,
    signal: ctx.closing,
    plane: (name) => {
      const p = ctx.planes.find(name);
      return p && gcpPlaneRef(p);
    },
    agent: ref,
    agents: (plane) => ctx.agents.list(plane).map((a) => ({ agentId: a.id, plane: a.plane, agent: a.name, owner: a.owner })),
    hub: () => ({ address: ctx.grpcAddress(), caPem: ctx.caPem(), audience: hub.audience }),
    finalSync: (id) => fleet.finalSync(id, FINAL_SYNC_MS, 'hub:gcp'),
    healthGate: (id, ms) => fleet.waitGreen(id, ms),
    audit: (e) => ctx.audit.record({ actor: 'hub:gcp', ...e }),
    secrets: secretsProject
      ? {
          project: secretsProject,
          apiEndpoint: hub.secretsApiEndpoint,
          // From the hub's own index: no Secret Manager list call.
          ids: async (plane, agent) => (ctx.secrets.manifest(plane, agent).entries ?? []).flatMap((s) => (s.name ? [secretId({ plane, agent }, s.name)] : [])),
        }
      : undefined,
  });
}
