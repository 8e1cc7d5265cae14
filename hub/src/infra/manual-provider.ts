import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { AgentComputeSpec, AgentInstance, AgentStatus, InfraProvider } from './infra-provider.ts';

interface ManualRecord {
  plane: string;
  agentName: string;
  machineType: string;
  labels: Record<string, string>;
}

/**
 * Machines the operator runs (self-hosted, air-gapped, or a load generator):
 * provisioning writes the one-time enrollment bundle to
 * <root>/<plane>/<agent>.bundle (0600, on the hub host) for the operator to
 * deliver; the hub never sees the machine except through agentd's stream.
 */
export class ManualProvider implements InfraProvider {
  readonly name = 'manual';
  readonly canRestart = false;
  readonly #root: string;
  readonly #log: Logger;
  readonly #agents = new Map<string, ManualRecord>();

  constructor(root: string, log: Logger) {
    this.#root = root;
    this.#log = log.child('manual-infra');
    ensureDir(root, 0o700);
    // The record of which agents exist lives beside the bundles, so it survives a hub restart.
    for (const plane of readdirSync(root)) {
      for (const f of readdirSync(join(root, plane)).filter((n) => n.endsWith('.json'))) {
        const rec = JSON.parse(readFileSync(join(root, plane, f), 'utf8')) as ManualRecord & { agentId: string };
        this.#agents.set(rec.agentId, rec);
      }
    }
  }

  #recordPath(plane: string, agentName: string): string {
    return join(this.#root, plane, `${agentName}.json`);
  }

  bundlePath(plane: string, agentName: string): string {
    return join(this.#root, plane, `${agentName}.bundle`);
  }

  async provision(spec: AgentComputeSpec): Promise<AgentInstance> {
    ensureDir(join(this.#root, spec.plane), 0o700);
    writeFileAtomic(this.bundlePath(spec.plane, spec.agentName), `${spec.bootstrap.enrollmentBundle}\n`, 0o600);
    const rec: ManualRecord = { plane: spec.plane, agentName: spec.agentName, machineType: spec.machineType, labels: spec.labels };
    writeFileAtomic(this.#recordPath(spec.plane, spec.agentName), `${JSON.stringify({ agentId: spec.agentId, ...rec })}\n`, 0o600);
    this.#agents.set(spec.agentId, rec);
    this.#log.info('wrote enrollment bundle for a manually run agent', { plane: spec.plane, agent: spec.agentName, file: this.bundlePath(spec.plane, spec.agentName) });
    return { agentId: spec.agentId, plane: spec.plane, agentName: spec.agentName, provider: this.name, instanceRef: 'manual', state: 'unknown', machineType: spec.machineType, labels: spec.labels };
  }

  async deprovision(agentId: string): Promise<void> {
    const a = this.#agents.get(agentId);
    if (a) {
      rmSync(this.bundlePath(a.plane, a.agentName), { force: true });
      rmSync(this.#recordPath(a.plane, a.agentName), { force: true });
    }
    this.#agents.delete(agentId);
  }

  #refuse(verb: string): never {
    throw new PlaneError(ErrorCode.FailedPrecondition, `the manual provider cannot ${verb} a machine it does not run; ask its operator (a connected agent can still restart its gateway)`);
  }

  async restart(): Promise<void> {
    this.#refuse('restart');
  }

  async stop(): Promise<void> {
    this.#refuse('stop');
  }

  async start(): Promise<void> {
    this.#refuse('start');
  }

  async status(agentId: string): Promise<AgentStatus> {
    return { agentId, state: 'unknown', detail: 'run by its operator; see the agent connection for liveness' };
  }

  async listInstances(plane: string): Promise<AgentInstance[]> {
    return [...this.#agents.entries()]
      .filter(([, a]) => a.plane === plane)
      .map(([agentId, a]) => ({ agentId, plane, agentName: a.agentName, provider: this.name, instanceRef: 'manual', state: 'unknown' as const, machineType: a.machineType, labels: a.labels }));
  }

  async resize(): Promise<void> {
    this.#refuse('resize');
  }

  /** Bundles still waiting to be picked up (for operators and tests). */
  pendingBundles(plane: string): string[] {
    const dir = join(this.#root, plane);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bundle')) : [];
  }
}
