import { createHash } from 'node:crypto';
import { delay, type ComputeCatalog, MACHINE_TYPES } from './compute-catalog.ts';
import { type OperationBook, type OperationFailure, operationFailure, quotaError } from './compute-operations.ts';
import { GoogleError, type GoogleHttpServer, invalid, notFound, PolicyStore, str } from './google-http.ts';

export type VmStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

export interface StandinVm {
  project: string;
  zone: string;
  region: string;
  name: string;
  id: string;
  status: VmStatus;
  machineType: string;
  diskSizeGb: number;
  labels: Record<string, string>;
  labelFingerprint: string;
  metadata: Record<string, string>;
  serviceAccount: string;
  spot: boolean;
  terminationAction: string | undefined;
  /** The body as inserted (for assertions on what the provider asked for). */
  body: Record<string, unknown>;
}

/** What happens inside a VM: the drill boots a real agentd here. Each step settles before the operation is DONE. */
export interface VmLifecycle {
  boot(vm: StandinVm): Promise<void>;
  /** Guest shutdown: a stop, a delete, or a Spot preemption (after its notice). */
  halt(vm: StandinVm, why: 'stop' | 'delete' | 'preempt'): Promise<void>;
  /** Hard reset: power cycle without a clean shutdown. */
  reset(vm: StandinVm): Promise<void>;
  /** The instance (and its boot disk) is gone. */
  destroyed(vm: StandinVm): Promise<void>;
}

const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const fingerprint = (labels: Record<string, string>, n: number): string =>
  createHash('sha256').update(`${n}:${JSON.stringify(Object.entries(labels).sort())}`).digest('base64').slice(0, 12);

/**
 * Compute Engine instances on the stand-in server, as `@google-cloud/compute`
 * calls them over REST: insert (validated: name, zone, machine type, image,
 * service account, the region's CPUS quota answered as Google does, a write
 * rate past which it answers 429, requestId deduplication), get, list by
 * label, delete, stop, start, reset, setMachineType (only when TERMINATED),
 * setLabels (only with the current fingerprint, else 412), instance IAM with
 * etags, boot disk resize, and Spot preemption. Each mutation is an
 * operation that is RUNNING for its latency, then DONE.
 */
export class ComputeStandin {
  readonly vms = new Map<string, StandinVm>();
  readonly iam = new PolicyStore();
  readonly #ops: OperationBook;
  readonly #catalog: ComputeCatalog;
  readonly #requestIds = new Map<string, unknown>();
  readonly #insertTimes: number[] = [];
  #seq = 0;
  #fingerprints = 0;
  lifecycle: VmLifecycle = { boot: async () => undefined, halt: async () => undefined, reset: async () => undefined, destroyed: async () => undefined };
  /** Operation latencies (ms) by kind; an insert in real life takes 10-30 s. */
  latencyMs: Record<string, number> = { insert: 20, delete: 20, stop: 20, start: 20, reset: 10, setMachineType: 10, setLabels: 5, resize: 5 };
  /** Inserts a second past which Compute answers 429 rateLimitExceeded (unset: no limit). */
  insertsPerSecond: number | undefined;
  /** The next operations of a kind end with this error (quota, bad image, capacity). */
  readonly failNextOperation = new Map<string, OperationFailure[]>();
  /** Does IAM know this service account? (A missing one is refused at insert, as Google does.) */
  serviceAccountExists: (email: string) => boolean = () => true;
  /** Inserts that carried a requestId seen before (answered with the first operation). */
  duplicateInserts = 0;

  constructor(ops: OperationBook, catalog: ComputeCatalog) {
    this.#ops = ops;
    this.#catalog = catalog;
    catalog.cpusInUse = (region) =>
      [...this.vms.values()].filter((v) => v.region === region && v.status !== 'TERMINATED').reduce((n, v) => n + (MACHINE_TYPES[v.machineType]?.guestCpus ?? 0), 0);
  }

  key(project: string, zone: string, name: string): string {
    return `${project}/${zone}/${name}`;
  }

  #vm(project: string, zone: string, name: string): StandinVm {
    const vm = this.vms.get(this.key(project, zone, name));
    if (!vm) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    return vm;
  }

  #view(vm: StandinVm): Record<string, unknown> {
    return {
      ...vm.body,
      kind: 'compute#instance',
      id: vm.id,
      name: vm.name,
      status: vm.status,
      zone: `https://www.googleapis.com/compute/v1/projects/${vm.project}/zones/${vm.zone}`,
      machineType: `https://www.googleapis.com/compute/v1/projects/${vm.project}/zones/${vm.zone}/machineTypes/${vm.machineType}`,
      selfLink: `https://www.googleapis.com/compute/v1/projects/${vm.project}/zones/${vm.zone}/instances/${vm.name}`,
      labels: vm.labels,
      labelFingerprint: vm.labelFingerprint,
    };
  }

  #failure(kind: string): OperationFailure | undefined {
    return this.failNextOperation.get(kind)?.shift();
  }

  /** A mutation as an operation: its latency, an injected failure, then `work`. */
  #mutate(kind: string, vm: StandinVm, work: () => Promise<void>): unknown {
    return this.#ops.start(kind, `projects/${vm.project}/zones/${vm.zone}/instances/${vm.name}`, vm.zone, async () => {
      await delay(this.latencyMs[kind] ?? 10);
      const f = this.#failure(kind);
      if (f) throw operationFailure(f);
      await work();
    });
  }

  async #boot(vm: StandinVm): Promise<void> {
    vm.status = 'STAGING';
    vm.metadata['instance/preempted'] = 'FALSE';
    await this.lifecycle.boot(vm);
    vm.status = 'RUNNING';
  }

  async #halt(vm: StandinVm, why: 'stop' | 'delete' | 'preempt'): Promise<void> {
    if (vm.status === 'TERMINATED') return;
    vm.status = 'STOPPING';
    await this.lifecycle.halt(vm, why);
    vm.status = 'TERMINATED';
  }

  async #destroy(vm: StandinVm): Promise<void> {
    await this.#halt(vm, 'delete');
    this.vms.delete(this.key(vm.project, vm.zone, vm.name));
    this.iam.delete(`projects/${vm.project}/zones/${vm.zone}/instances/${vm.name}`);
    await this.lifecycle.destroyed(vm);
  }

  #insert(project: string, zone: string, body: Record<string, unknown>, requestId: string | null): unknown {
    if (requestId) {
      const seen = this.#requestIds.get(requestId);
      if (seen) {
        this.duplicateInserts++;
        return seen;
      }
    }
    if (this.insertsPerSecond !== undefined) {
      const now = Date.now();
      while ((this.#insertTimes[0] ?? now) < now - 1000) this.#insertTimes.shift();
      if (this.#insertTimes.length >= this.insertsPerSecond) throw new GoogleError(429, 'rateLimitExceeded', "Quota exceeded for quota metric 'Queries' and limit 'Queries per second' of service 'compute.googleapis.com'.");
      this.#insertTimes.push(now);
    }
    const name = str(body['name']);
    if (!NAME.test(name)) throw invalid(`Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`);
    const region = this.#catalog.regionOf(zone);
    const mt = /^zones\/([^/]+)\/machineTypes\/([^/]+)$/.exec(str(body['machineType']));
    if (!mt || mt[1] !== zone || !MACHINE_TYPES[mt[2] as string]) throw invalid(`Invalid value for field 'resource.machineType': '${String(body['machineType'])}'. Machine type with name '${mt?.[2] ?? ''}' does not exist in zone '${zone}'.`);
    const machineType = mt[2] as string;
    const disks = (body['disks'] ?? []) as Array<{ boot?: boolean; initializeParams?: { sourceImage?: string; diskSizeGb?: string } }>;
    const boot = disks.find((d) => d.boot);
    if (!boot?.initializeParams?.sourceImage) throw invalid("Invalid value for field 'resource.disks': ''. Boot disk must be specified.");
    this.#catalog.resolveImage(boot.initializeParams.sourceImage);
    const sa = ((body['serviceAccounts'] ?? []) as Array<{ email?: string }>)[0]?.email ?? '';
    if (sa && !this.serviceAccountExists(sa)) {
      throw invalid(`Invalid value for field 'resource.serviceAccounts[0].email': '${sa}'. The user does not have access to service account '${sa}'.  User: 'hub'.  Ask a project owner to grant you the iam.serviceAccountUser role on the service account`);
    }
    if (this.vms.has(this.key(project, zone, name))) throw new GoogleError(409, 'alreadyExists', `The resource 'projects/${project}/zones/${zone}/instances/${name}' already exists`);
    const limit = this.#catalog.cpuLimit.get(region) ?? 24;
    const cpus = MACHINE_TYPES[machineType]?.guestCpus ?? 0;
    if (this.#catalog.cpusInUse(region) + cpus > limit) throw quotaError('CPUS', limit, region);
    const scheduling = (body['scheduling'] ?? {}) as { provisioningModel?: string; instanceTerminationAction?: string };
    if (scheduling.provisioningModel === 'SPOT' && !scheduling.instanceTerminationAction) throw invalid('Spot VMs need scheduling.instanceTerminationAction.');
    const labels = (body['labels'] ?? {}) as Record<string, string>;
    const items = ((body['metadata'] as { items?: Array<{ key: string; value: string }> } | undefined)?.items ?? []);
    const vm: StandinVm = {
      project,
      zone,
      region,
      name,
      id: String(4_000_000_000 + ++this.#seq),
      status: 'PROVISIONING',
      machineType,
      diskSizeGb: Number(boot.initializeParams.diskSizeGb ?? 10),
      labels,
      labelFingerprint: fingerprint(labels, ++this.#fingerprints),
      metadata: Object.fromEntries(items.map((i) => [i.key, i.value])),
      serviceAccount: sa,
      spot: scheduling.provisioningModel === 'SPOT',
      terminationAction: scheduling.instanceTerminationAction,
      body,
    };
    this.vms.set(this.key(project, zone, name), vm);
    const op = this.#ops.start('insert', `projects/${project}/zones/${zone}/instances/${name}`, zone, async () => {
      await delay(this.latencyMs['insert'] ?? 20);
      const f = this.#failure('insert');
      if (f) {
        // A failed insert leaves no instance behind (Google rolls it back).
        this.vms.delete(this.key(project, zone, name));
        throw operationFailure(f);
      }
      await this.#boot(vm);
    });
    if (requestId) this.#requestIds.set(requestId, op);
    return op;
  }

  register(http: GoogleHttpServer): void {
    const Z = '^/compute/v1/projects/([^/]+)/zones/([^/]+)';
    const I = `${Z}/instances/([^/]+)`;
    const vm = (p: string[]): StandinVm => this.#vm(p[0] as string, p[1] as string, p[2] as string);
    http.route('POST', new RegExp(`${Z}/instances$`), (req, [project, zone]) => this.#insert(project as string, zone as string, req.body, req.query.get('requestId')));
    http.route('GET', new RegExp(`${Z}/instances$`), (req, [project, zone]) => {
      const filter = req.query.get('filter') ?? '';
      const m = filter ? /^labels\.([a-z0-9_-]+)\s*=\s*"?([a-z0-9_-]*)"?$/.exec(filter) : null;
      if (filter && !m) throw invalid(`The stand-in does not understand the filter ${JSON.stringify(filter)}.`);
      const items = [...this.vms.values()].filter((v) => v.project === project && v.zone === zone && (!m || v.labels[m[1] as string] === m[2]));
      return { kind: 'compute#instanceList', items: items.map((v) => this.#view(v)) };
    });
    http.route('GET', new RegExp(`${I}$`), (_r, p) => this.#view(vm(p)));
    http.route('DELETE', new RegExp(`${I}$`), (_r, p) => {
      const v = vm(p);
      return this.#mutate('delete', v, () => this.#destroy(v));
    });
    http.route('POST', new RegExp(`${I}/stop$`), (_r, p) => {
      const v = vm(p);
      return this.#mutate('stop', v, () => this.#halt(v, 'stop'));
    });
    http.route('POST', new RegExp(`${I}/start$`), (_r, p) => {
      const v = vm(p);
      return this.#mutate('start', v, async () => {
        if (v.status === 'TERMINATED') await this.#boot(v);
      });
    });
    http.route('POST', new RegExp(`${I}/reset$`), (_r, p) => {
      const v = vm(p);
      if (v.status !== 'RUNNING') throw new GoogleError(400, 'resourceNotReady', `The resource 'projects/${v.project}/zones/${v.zone}/instances/${v.name}' is not ready`);
      return this.#mutate('reset', v, () => this.lifecycle.reset(v));
    });
    http.route('POST', new RegExp(`${I}/setMachineType$`), (req, p) => {
      const v = vm(p);
      if (v.status !== 'TERMINATED') throw new GoogleError(400, 'resourceNotReady', `Instance '${v.name}' is ${v.status}; it must be stopped (TERMINATED) to change its machine type.`);
      const mt = /machineTypes\/([^/]+)$/.exec(str(req.body['machineType']))?.[1];
      if (!mt || !MACHINE_TYPES[mt]) throw invalid(`Invalid value for field 'resource.machineType': '${String(req.body['machineType'])}'.`);
      return this.#mutate('setMachineType', v, async () => {
        v.machineType = mt;
      });
    });
    http.route('POST', new RegExp(`${I}/setLabels$`), (req, p) => {
      const v = vm(p);
      if (req.body['labelFingerprint'] !== v.labelFingerprint) throw new GoogleError(412, 'conditionNotMet', 'Labels fingerprint either invalid or resource labels have changed');
      const labels = (req.body['labels'] ?? {}) as Record<string, string>;
      v.labelFingerprint = fingerprint(labels, ++this.#fingerprints);
      return this.#mutate('setLabels', v, async () => {
        v.labels = labels;
      });
    });
    http.route('GET', new RegExp(`${I}/getIamPolicy$`), (_r, p) => this.iam.get(`projects/${vm(p).project}/zones/${p[1]}/instances/${p[2]}`));
    http.route('POST', new RegExp(`${I}/setIamPolicy$`), (req, p) => this.iam.set(`projects/${vm(p).project}/zones/${p[1]}/instances/${p[2]}`, (req.body['policy'] ?? {})));
    http.route('POST', new RegExp(`${Z}/disks/([^/]+)/resize$`), (req, p) => {
      const v = vm(p);
      const size = Number(req.body['sizeGb']);
      if (!(size > v.diskSizeGb)) throw invalid(`Requested disk size cannot be smaller than the current size (${v.diskSizeGb} GB).`);
      return this.#mutate('resize', v, async () => {
        v.diskSizeGb = size;
      });
    });
  }

  /** Google takes a Spot VM back: `instance/preempted` turns TRUE, the guest gets its notice, then it is stopped (or deleted). */
  async preempt(project: string, zone: string, name: string): Promise<void> {
    const v = this.#vm(project, zone, name);
    if (!v.spot) throw new Error(`${name} is not a Spot VM`);
    v.metadata['instance/preempted'] = 'TRUE';
    if (v.terminationAction === 'DELETE') await this.#destroy(v);
    else await this.#halt(v, 'preempt');
  }

  /** Someone deletes or stops an instance in the console (drift). */
  async deleteOutside(project: string, zone: string, name: string): Promise<void> {
    await this.#destroy(this.#vm(project, zone, name));
  }

  async stopOutside(project: string, zone: string, name: string): Promise<void> {
    await this.#halt(this.#vm(project, zone, name), 'stop');
  }
}
