import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';
import type { Logger } from '../../../../common/src/logger.ts';
import type { AgentComputeSpec, AgentInstance, AgentStatus, InfraProvider, InstanceState } from '../infra-provider.ts';
import type { GcpCalls } from './gcp-calls.ts';
import { isConcurrencyConflict, isNotFound, toPlaneError } from './gcp-errors.ts';
import { ensurePlaneFirewalls } from './firewalls.ts';
import { gceInstanceName, instanceLabels, serviceAccountEmail, serviceAccountId } from './gcp-names.ts';
import type { Instance } from './instance-resource.ts';
import { operationName } from './operations.ts';
import { type AccessAudit, OwnerAccess, type OwnerTarget } from './owner-access.ts';
import { provisionAgent } from './provision.ts';
import { gcpPreflight, type PreflightInput, type PreflightReport } from './preflight.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { SecretAccess } from './secret-access.ts';
import type { GcpAgentRef, GcpPlaneRef } from './gcp-refs.ts';

export type { GcpAgentRef, GcpPlaneRef };
import { ServiceAccounts } from './service-accounts.ts';

/** The provider's narrow view of the hub, passed in; it never reads the hub's store itself. */
export interface GcpProviderDeps {
  calls: GcpCalls;
  log: Logger;
  plane(name: string): GcpPlaneRef | undefined;
  agent(agentId: string): GcpAgentRef | undefined;
  agents(plane: string): GcpAgentRef[];
  /** host:port agents dial, the CA they pin, and the identity-token audience when it is not the default. */
  hub(): { address: string; caPem: string; audience?: string | undefined };
  /** The agent's brain, synced now if it is connected; resolves when done or given up. */
  finalSync(agentId: string): Promise<void>;
  /** Resolves when the agent is green again; rejects when it is not within `timeoutMs`. */
  healthGate(agentId: string, timeoutMs: number): Promise<void>;
  /** Grants and revokes, as audit events. */
  audit: AccessAudit;
  /** Per-secret access (when the hub keeps secrets in Secret Manager), and the secret ids of an agent. */
  secrets?: { access: SecretAccess; ids(plane: string, agent: string): Promise<string[]> } | undefined;
  /** Inserts wait for this limiter, so a big fan-out stays under Compute's write rate. */
  insertLimiter: RateLimiter;
  /** How long resize waits for the agent to turn green again. */
  healthGateMs: number;
}

/** An agent's instance and service account, as named from its plane and name. */
interface Where {
  plane: GcpPlaneRef;
  agent: GcpAgentRef;
  instance: string;
  sa: string;
}

const STATE: Record<string, InstanceState> = {
  PROVISIONING: 'provisioning',
  STAGING: 'provisioning',
  REPAIRING: 'provisioning',
  RUNNING: 'running',
  STOPPING: 'stopped',
  SUSPENDING: 'stopped',
  SUSPENDED: 'stopped',
  TERMINATED: 'stopped',
};

/**
 * The `gcp` infra provider: one Compute Engine VM per agent, from the golden
 * image, with its own service account, no external IP, Shielded VM, OS Login,
 * reachable by its owner only through IAP. Everything goes through the real
 * Google clients (GcpCalls: one retry classifier, rate-limited inserts).
 */
export class GcpProvider implements InfraProvider {
  readonly name = 'gcp';
  readonly canRestart = true;
  readonly reportsDrift = true;
  /** Inserts are rate-limited by GcpCalls; 50 agents wait on Google together, not in turn. */
  readonly provisionConcurrency = 50;
  readonly #d: GcpProviderDeps;
  readonly #log: Logger;
  readonly #accounts: ServiceAccounts;
  readonly #access: OwnerAccess;
  /** What the provider is doing to an agent right now: the instance may look missing or stopped meanwhile, and that is no drift. */
  readonly #busy = new Map<string, { verb: string; done: Promise<unknown> }>();
  readonly #firewalls = new Map<string, Promise<unknown>>();

  constructor(deps: GcpProviderDeps) {
    this.#d = deps;
    this.#log = deps.log.child('gcp-infra');
    this.#accounts = new ServiceAccounts(deps.calls);
    this.#access = new OwnerAccess(deps.calls, this.#accounts, deps.audit);
  }

  #where(agentId: string): Where {
    const agent = this.#d.agent(agentId);
    const plane = agent && this.#d.plane(agent.plane);
    if (!agent || !plane) throw new PlaneError(ErrorCode.NotFound, `gcp: no agent ${agentId} in a gcp plane`);
    return { plane, agent, instance: gceInstanceName(agent.plane, agent.agent), sa: serviceAccountEmail(plane.project, serviceAccountId(agent.plane, agent.agent)) };
  }

  #target(w: Where): OwnerTarget {
    return { project: w.plane.project, zone: w.plane.zone, instance: w.instance, serviceAccountEmail: w.sa, plane: w.agent.plane, agent: w.agent.agent };
  }

  async #busyWith<T>(agentId: string, verb: string, fn: () => Promise<T>): Promise<T> {
    const done = fn();
    const entry = { verb, done };
    this.#busy.set(agentId, entry);
    try {
      return await done;
    } finally {
      if (this.#busy.get(agentId) === entry) this.#busy.delete(agentId);
    }
  }

  /** The plane network's firewall rules, made once per hub process and network. */
  #ensureFirewalls(plane: GcpPlaneRef): Promise<unknown> {
    const key = `${plane.project}/${plane.network}`;
    let p = this.#firewalls.get(key);
    if (!p) {
      p = ensurePlaneFirewalls(this.#d.calls, plane.project, plane.network).then((done) => {
        if (done.length > 0) this.#log.info('plane network firewall rules', { project: plane.project, network: plane.network, done });
      });
      // A failure is retried by the next provision.
      p.catch(() => this.#firewalls.delete(key));
      this.#firewalls.set(key, p);
    }
    return p;
  }

  checkPlane(spec: { region: string; project?: string | undefined; zone?: string | undefined }): void {
    if (!spec.project) throw new PlaneError(ErrorCode.InvalidArgument, 'a gcp plane needs a project (--project, spec.infrastructure.project)', { where: 'project' });
    if (spec.region === 'local') throw new PlaneError(ErrorCode.InvalidArgument, 'a gcp plane needs a region (--region, spec.infrastructure.region), e.g. us-east4', { where: 'region' });
    if (spec.zone && !spec.zone.startsWith(`${spec.region}-`)) throw new PlaneError(ErrorCode.InvalidArgument, `zone ${spec.zone} is not in region ${spec.region}`, { where: 'zone' });
  }

  async provision(spec: AgentComputeSpec): Promise<AgentInstance> {
    const w = this.#where(spec.agentId);
    const owner = spec.owner ?? w.agent.owner;
    return this.#busyWith(spec.agentId, 'provisioning', async () => {
      await this.#ensureFirewalls(w.plane);
      const hub = this.#d.hub();
      const instance = await provisionAgent(
        { calls: this.#d.calls, accounts: this.#accounts, access: this.#access, secrets: this.#d.secrets, insertLimiter: this.#d.insertLimiter, log: this.#log },
        {
          agentId: spec.agentId,
          plane: w.plane,
          planeName: w.agent.plane,
          agent: w.agent.agent,
          owner,
          instance: w.instance,
          accountId: serviceAccountId(w.agent.plane, w.agent.agent),
          machineType: spec.machineType,
          diskSizeGb: spec.diskSizeGb,
          spot: spec.spot ?? false,
          labels: instanceLabels({ plane: w.agent.plane, agent: w.agent.agent, owner, costLabels: spec.labels }),
          hub,
          ...(spec.startupScript ? { startupScript: spec.startupScript } : {}),
        },
      );
      return this.#view(w.agent, w.plane, instance);
    });
  }

  async deprovision(agentId: string): Promise<void> {
    const w = this.#where(agentId);
    const { project, zone } = w.plane;
    await this.#busyWith(agentId, 'deprovisioning', async () => {
      await this.#d.finalSync(agentId);
      try {
        const op = await this.#d.calls.run('instances.delete', () => this.#d.calls.clients.instances.delete({ project, zone, instance: w.instance }, this.#d.calls.call));
        await this.#d.calls.wait({ project, zone, name: operationName(op) });
      } catch (err) {
        if (!isNotFound(err)) throw toFailure(err, `deleting instance ${w.instance}`);
      }
      await this.#access.revoke(this.#target(w), w.agent.owner);
      if (this.#d.secrets) await this.#d.secrets.access.revoke(await this.#d.secrets.ids(w.agent.plane, w.agent.agent), w.sa);
      await this.#accounts.delete(project, w.sa);
      this.#log.info('deprovisioned', { plane: w.agent.plane, agent: w.agent.agent, instance: w.instance, zone });
    });
  }

  async #get(w: Where): Promise<Instance | undefined> {
    try {
      const [inst] = await this.#d.calls.run('instances.get', () => this.#d.calls.clients.instances.get({ project: w.plane.project, zone: w.plane.zone, instance: w.instance }, this.#d.calls.call));
      return inst;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toFailure(err, `reading instance ${w.instance}`);
    }
  }

  async #op(kind: 'start' | 'stop' | 'reset', w: Where): Promise<void> {
    const { project, zone } = w.plane;
    const c = this.#d.calls;
    try {
      const op = await c.run(`instances.${kind}`, () => c.clients.instances[kind]({ project, zone, instance: w.instance }, c.call));
      await c.wait({ project, zone, name: operationName(op) });
    } catch (err) {
      throw toFailure(err, `${kind} of instance ${w.instance}`);
    }
  }

  /** A running instance is reset; a stopped one (a preempted Spot VM) started. A missing one is a reprovision, not a restart. */
  async restart(agentId: string): Promise<void> {
    const w = this.#where(agentId);
    // A restart asked for while the machine is being changed (a resize stops it) waits for the change:
    // starting it in the middle would break the change, and afterwards it runs anyway.
    const busy = this.#busy.get(agentId);
    if (busy) {
      await busy.done.catch(() => undefined);
      if (String((await this.#get(w))?.status) === 'RUNNING') return;
    }
    await this.#busyWith(agentId, 'restarting', async () => {
      const inst = await this.#get(w);
      if (!inst) throw new PlaneError(ErrorCode.NotFound, `instance missing in GCP (${w.instance} in ${w.plane.zone}); reprovision the agent`);
      await this.#op(String(inst.status) === 'RUNNING' ? 'reset' : 'start', w);
    });
  }

  async stop(agentId: string): Promise<void> {
    const w = this.#where(agentId);
    await this.#busyWith(agentId, 'stopping', async () => {
      await this.#d.finalSync(agentId);
      await this.#op('stop', w);
    });
  }

  async start(agentId: string): Promise<void> {
    const w = this.#where(agentId);
    await this.#busyWith(agentId, 'starting', () => this.#op('start', w));
  }

  async status(agentId: string): Promise<AgentStatus> {
    const w = this.#where(agentId);
    const busy = this.#busy.get(agentId);
    if (busy) return { agentId, state: 'provisioning', detail: `${busy.verb} in ${w.plane.zone}`, location: w.plane.zone };
    const inst = await this.#get(w);
    if (!inst) return { agentId, state: 'missing', detail: 'instance missing in GCP', location: w.plane.zone };
    const st = String(inst.status);
    return { agentId, state: STATE[st] ?? 'unknown', detail: `instance ${st}`, location: w.plane.zone, providerStatus: st };
  }

  /** One list call per plane (by label), for every agent of the plane; an agent with no instance is `missing`. */
  async listInstances(plane: string): Promise<AgentInstance[]> {
    const p = this.#d.plane(plane);
    if (!p) return [];
    const c = this.#d.calls;
    const [found] = await c.run('instances.list', () => c.clients.instances.list({ project: p.project, zone: p.zone, filter: `labels.plane=${plane}`, maxResults: 500 }, { ...c.call, autoPaginate: true }));
    const byName = new Map(found.map((i) => [i.name ?? '', i]));
    return this.#d.agents(plane).map((a) => {
      const inst = byName.get(gceInstanceName(a.plane, a.agent));
      const busy = this.#busy.get(a.agentId);
      if (busy) return { ...this.#view(a, p, inst), state: 'provisioning' as const, providerStatus: busy.verb };
      return this.#view(a, p, inst);
    });
  }

  #view(a: GcpAgentRef, p: GcpPlaneRef, inst: Instance | undefined): AgentInstance {
    const st = inst ? String(inst.status) : 'MISSING';
    return {
      agentId: a.agentId,
      plane: a.plane,
      agentName: a.agent,
      provider: this.name,
      instanceRef: inst?.selfLink ?? `projects/${p.project}/zones/${p.zone}/instances/${gceInstanceName(a.plane, a.agent)}`,
      state: inst ? (STATE[st] ?? 'unknown') : 'missing',
      machineType: inst?.machineType?.split('/').at(-1) ?? '',
      labels: inst?.labels ?? {},
      location: p.zone,
      providerStatus: st,
    };
  }

  /**
   * Labels: setLabels with the fingerprint read (a 412 means someone changed
   * them meanwhile: read again). Machine type: final brain sync, stop,
   * setMachineType, start, then the health gate. Disk: grown in place.
   */
  async resize(agentId: string, spec: Partial<Pick<AgentComputeSpec, 'machineType' | 'diskSizeGb' | 'labels'>>): Promise<void> {
    const w = this.#where(agentId);
    const { project, zone } = w.plane;
    const c = this.#d.calls;
    if (spec.labels) await this.#setLabels(w, instanceLabels({ plane: w.agent.plane, agent: w.agent.agent, owner: w.agent.owner, costLabels: spec.labels }));
    if (spec.diskSizeGb !== undefined) {
      const size = spec.diskSizeGb;
      const op = await c.run('disks.resize', () => c.clients.disks.resize({ project, zone, disk: w.instance, disksResizeRequestResource: { sizeGb: String(size) } }, c.call)).catch((err: unknown) => {
        throw toFailure(err, `growing the disk of ${w.instance}`);
      });
      await c.wait({ project, zone, name: operationName(op) });
    }
    if (spec.machineType === undefined) return;
    const machineType = spec.machineType;
    await this.#busyWith(agentId, 'resizing', async () => {
      await this.#d.finalSync(agentId);
      await this.#op('stop', w);
      try {
        const op = await c.run('instances.setMachineType', () =>
          c.clients.instances.setMachineType({ project, zone, instance: w.instance, instancesSetMachineTypeRequestResource: { machineType: `zones/${zone}/machineTypes/${machineType}` } }, c.call),
        );
        await c.wait({ project, zone, name: operationName(op) });
      } catch (err) {
        // Start it again on its old machine type rather than leave it stopped.
        await this.#op('start', w).catch(() => undefined);
        throw toFailure(err, `changing ${w.instance} to ${machineType}`);
      }
      await this.#op('start', w);
    });
    await this.#d.healthGate(agentId, this.#d.healthGateMs);
  }

  async #setLabels(w: Where, labels: Record<string, string>): Promise<void> {
    const { project, zone } = w.plane;
    const c = this.#d.calls;
    for (let attempt = 1; ; attempt++) {
      const inst = await this.#get(w);
      if (!inst) throw new PlaneError(ErrorCode.NotFound, `instance missing in GCP (${w.instance} in ${zone})`);
      try {
        const op = await c.run('instances.setLabels', () =>
          c.clients.instances.setLabels({ project, zone, instance: w.instance, instancesSetLabelsRequestResource: { labels, labelFingerprint: inst.labelFingerprint ?? '' } }, c.call),
        );
        await c.wait({ project, zone, name: operationName(op) });
        return;
      } catch (err) {
        if (!isConcurrencyConflict(err) || attempt >= 5) throw toFailure(err, `labelling ${w.instance}`);
      }
    }
  }

  async setOwner(agentId: string, from: string, to: string): Promise<void> {
    const w = this.#where(agentId);
    const t = this.#target(w);
    await this.#access.grant(t, to);
    await this.#access.revoke(t, from);
  }

  /** `planes gcp preflight`: what the project lacks for this provider, asked with the hub's own identity. */
  async preflight(input: PreflightInput): Promise<PreflightReport> {
    const identity = input.identity ?? (await this.#d.calls.clients.identity());
    return gcpPreflight(this.#d.calls, { ...input, ...(identity ? { identity } : {}) });
  }

  async secretsChanged(agentId: string): Promise<void> {
    const s = this.#d.secrets;
    if (!s) return;
    const w = this.#where(agentId);
    await s.access.grant(await s.ids(w.agent.plane, w.agent.agent), w.sa);
  }
}

/** Google's reason in one sentence, with the code that says what to do about it. */
const toFailure = (err: unknown, what: string): PlaneError => toPlaneError(err, what);
