import type { Logger } from '../../../common/src/logger.ts';
import type { AgentInstance } from './infra-provider.ts';
import type { InfraRegistry } from './infra-registry.ts';

/** Why a machine that changed outside the plane makes its agent red, or null when it did not. */
export function driftReason(inst: Pick<AgentInstance, 'state' | 'provider' | 'providerStatus'>): string | null {
  if (inst.state === 'missing') return `instance missing in ${inst.provider === 'gcp' ? 'GCP' : inst.provider}`;
  if (inst.state === 'stopped') return `instance ${inst.providerStatus ?? 'stopped'}`;
  return null;
}

export interface InstanceWatchDeps {
  infra: InfraRegistry;
  /** Planes and the provider each runs on. */
  planes(): Array<{ name: string; infraProvider: string }>;
  log: Logger;
}

/**
 * The machines of providers that report drift (`reportsDrift`), as last
 * listed: one listInstances call per plane each interval, so a VM deleted or
 * stopped in a console is seen without a call per agent. Health reads it; a
 * provision or removal updates it at once.
 */
export class InstanceWatch {
  readonly #d: InstanceWatchDeps;
  readonly #log: Logger;
  readonly #byAgent = new Map<string, AgentInstance>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: InstanceWatchDeps) {
    this.#d = deps;
    this.#log = deps.log.child('instance-watch');
  }

  get(agentId: string): AgentInstance | undefined {
    return this.#byAgent.get(agentId);
  }

  record(inst: AgentInstance): void {
    this.#byAgent.set(inst.agentId, inst);
  }

  forget(agentId: string): void {
    this.#byAgent.delete(agentId);
  }

  /** Lists every drift-reporting plane once; a plane whose listing fails keeps what was seen before. */
  refresh(): Promise<void> {
    this.#running ??= this.#refresh().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #refresh(): Promise<void> {
    for (const plane of this.#d.planes()) {
      if (!this.#d.infra.has(plane.infraProvider)) continue;
      const provider = this.#d.infra.get(plane.infraProvider);
      if (!provider.reportsDrift) continue;
      try {
        for (const inst of await provider.listInstances(plane.name)) this.#byAgent.set(inst.agentId, inst);
      } catch (err) {
        this.#log.warn('could not list instances; keeping the last listing', { plane: plane.name, error: err });
      }
    }
  }

  start(intervalMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
    void this.refresh();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
