import { Logger } from '../../../common/src/logger.ts';
import { type GcpHubOptions, type GcpSetup, createGcpProvider } from '../../../hub/src/infra/gcp/gcp-options.ts';
import type { GcpAgentRef, GcpPlaneRef } from '../../../hub/src/infra/gcp/gcp-refs.ts';
import { GoogleStandin } from './google-standin.ts';

export const PROJECT = 'acme-prod';
export const REGION = 'us-east4';
export const ZONE = 'us-east4-b';
export const CA = '-----BEGIN CERTIFICATE-----\nMIIBstandin\n-----END CERTIFICATE-----\n';

/**
 * The gcp provider on its own, its hub-side dependencies played by maps, with
 * the real Google clients talking to a GoogleStandin. For provider tests; the
 * drill runs it inside a real hub.
 */
export class ProviderHarness {
  readonly google = new GoogleStandin();
  readonly planes = new Map<string, GcpPlaneRef>();
  readonly agents = new Map<string, GcpAgentRef>();
  readonly audit: Array<{ action: string; agent: string; outcome: string; detail: Record<string, unknown> }> = [];
  readonly synced: string[] = [];
  readonly gated: string[] = [];
  secretIds = new Map<string, string[]>();
  setup!: GcpSetup;

  async start(options: Partial<GcpHubOptions> = {}, secrets?: { project: string; apiEndpoint: string }): Promise<this> {
    await this.google.start();
    this.google.catalog.addImage(PROJECT, 'agents-plane-agentd-20261201-000000', 'agents-plane-agentd');
    this.google.compute.latencyMs = { insert: 30, delete: 10, stop: 10, start: 10, reset: 5, setMachineType: 5, setLabels: 5, resize: 5 };
    this.google.ops.waitCapMs = 1000;
    this.planes.set('acme', { project: PROJECT, region: REGION, zone: ZONE, network: 'default' });
    this.setup = createGcpProvider(
      {
        apiEndpoint: this.google.url,
        insertsPerSecond: 50,
        callTimeoutMs: 10_000,
        operationDeadlineMs: 20_000,
        maxAttempts: 5,
        retryInitialDelayMs: 20,
        retryMaxDelayMs: 200,
        healthGateMs: 5000,
        driftIntervalMs: 1000,
        ...options,
      },
      {
        log: new Logger('test', { sink: () => undefined }),
        plane: (n) => this.planes.get(n),
        agent: (id) => this.agents.get(id),
        agents: (plane) => [...this.agents.values()].filter((a) => a.plane === plane),
        hub: () => ({ address: 'hub.internal:7443', caPem: CA }),
        finalSync: async (id) => void this.synced.push(id),
        healthGate: async (id) => void this.gated.push(id),
        audit: (e) => void this.audit.push(e),
        ...(secrets ? { secrets: { ...secrets, ids: async (plane: string, agent: string) => this.secretIds.get(`${plane}/${agent}`) ?? [] } } : {}),
      },
    );
    return this;
  }

  get provider(): GcpSetup['provider'] {
    return this.setup.provider;
  }

  /** An agent the "hub" knows, and the spec the fleet would provision it with. */
  agent(name: string, owner = `${name}@acme.example`, extra: { spot?: boolean; machineType?: string } = {}) {
    const ref: GcpAgentRef = { agentId: `ag_${name}`, plane: 'acme', agent: name, owner };
    this.agents.set(ref.agentId, ref);
    return {
      agentId: ref.agentId,
      plane: 'acme',
      agentName: name,
      machineType: extra.machineType ?? 'e2-small',
      region: REGION,
      diskSizeGb: 20,
      labels: { 'agents-plane': 'acme', agent: name, owner: owner.replace(/[^a-z0-9_-]/g, '_'), 'model-tier': 'sonnet' },
      bootstrap: { enrollmentBundle: 'apb1.must-not-be-used' },
      owner,
      ...(extra.spot ? { spot: true } : {}),
    };
  }

  async close(): Promise<void> {
    await this.setup.close();
    await this.google.close();
  }
}
