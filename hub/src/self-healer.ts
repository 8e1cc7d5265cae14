import { PlaneError } from '../../common/src/errors.ts';
import type { Logger } from '../../common/src/logger.ts';
import type { HubContext } from './hub-context.ts';
import type { InfraProvider } from './infra/infra-provider.ts';
import type { AgentRecord, Health } from './model.ts';

export interface SelfHealerOptions {
  /** Red this long (and this long after each restart) before the next restart. */
  redAfterMs: number;
  /** Restarts without the agent turning green before the breaker opens. */
  maxAttempts: number;
  /**
   * A fresh machine for the agent (same brain). Used instead of a restart when
   * a provider that reports drift says the machine is missing or stopped.
   */
  reprovision?: (agent: AgentRecord) => Promise<void>;
}

/**
 * REQ-INFRA-05: an agent that stays red is restarted through its infra provider
 * (for a local agent: its agentd process; for a VM: the machine). The hub's
 * health watch hands every agent's health to `observe`.
 *
 * - red for `redAfterMs` → restart #1; still red `redAfterMs` after that restart
 *   returned → restart #2; ... up to `maxAttempts`.
 * - red after the last attempt → the circuit breaker opens: no more restarts,
 *   an `agent.heal.breaker-open` audit event, and the agent's health reason says
 *   so until a human resets it (`planes heal --reset`, `planes restart-agent`,
 *   `planes reprovision`) or the agent turns green by itself.
 * - green → attempts are forgotten (`agent.heal.recovered` if there were any).
 * - paused agents, agents that never enrolled (their first boot is a provisioning
 *   matter) and providers that cannot restart machines (manual) are left alone.
 */
export class SelfHealer {
  readonly #ctx: HubContext;
  readonly #o: SelfHealerOptions;
  readonly #log: Logger;
  readonly #redSince = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(ctx: HubContext, options: SelfHealerOptions) {
    this.#ctx = ctx;
    this.#o = options;
    this.#log = ctx.log.child('self-heal');
  }

  observe(agent: AgentRecord, health: Health, now = Date.now()): void {
    const healing = this.#ctx.healing;
    const state = healing.get(agent.id);
    // Never enrolled: the first boot is still running or provisioning failed. A restart
    // could spend the one-time enrolment token mid-redemption; that is for a human (reprovision).
    if (health.color !== 'red' || agent.desiredState === 'paused' || agent.enrolledAt === null) {
      this.#redSince.delete(agent.id);
      if (health.color === 'green' && state && (state.attempts > 0 || state.breakerOpenAt !== null) && healing.reset(agent.id)) {
        this.#log.info('agent recovered', { plane: agent.plane, agent: agent.name, restarts: state.attempts });
        this.#ctx.audit.record({ actor: 'hub:self-heal', action: 'agent.heal.recovered', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { restarts: state.attempts, breakerWasOpen: state.breakerOpenAt !== null } });
      }
      return;
    }
    if (this.#inFlight.has(agent.id)) return;
    const redSince = this.#redSince.get(agent.id) ?? now;
    this.#redSince.set(agent.id, redSince);
    if (state?.breakerOpenAt) return;
    const plane = this.#ctx.planes.find(agent.plane);
    if (!plane || !this.#ctx.infra.has(plane.spec.infraProvider)) return;
    const provider = this.#ctx.infra.get(plane.spec.infraProvider);
    if (!provider.canRestart) return;
    if (now - Math.max(redSince, state?.lastAttemptAt ?? 0) < this.#o.redAfterMs) return;

    const attempts = state?.attempts ?? 0;
    if (attempts >= this.#o.maxAttempts) {
      const reason = `${attempts} restart${attempts === 1 ? '' : 's'} through the ${provider.name} provider did not bring it back (last: ${state?.lastError ?? health.reason})`;
      healing.openBreaker(agent.id, reason, now);
      this.#log.error('self-healing stopped: circuit breaker open', { plane: agent.plane, agent: agent.name, reason });
      this.#ctx.audit.record({ actor: 'hub:self-heal', action: 'agent.heal.breaker-open', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { restarts: attempts, health: health.reason } });
      return;
    }
    healing.recordAttempt(agent.id, now);
    this.#log.warn('restarting a red agent', { plane: agent.plane, agent: agent.name, attempt: attempts + 1, of: this.#o.maxAttempts, reason: health.reason });
    this.#ctx.audit.record({ actor: 'hub:self-heal', action: 'agent.heal.restart', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { attempt: attempts + 1, of: this.#o.maxAttempts, provider: provider.name, health: health.reason } });
    const run = this.#heal(agent, provider)
      .then(
        () => {
          healing.recordAttemptDone(agent.id, Date.now(), null);
        },
        (err: unknown) => {
          const message = PlaneError.from(err).message;
          healing.recordAttemptDone(agent.id, Date.now(), message);
          this.#log.warn('self-healing restart failed', { plane: agent.plane, agent: agent.name, attempt: attempts + 1, error: message });
          this.#ctx.audit.record({ actor: 'hub:self-heal', action: 'agent.heal.restart', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { attempt: attempts + 1, error: message } });
        },
      )
      .finally(() => this.#inFlight.delete(agent.id));
    this.#inFlight.set(agent.id, run);
  }

  /**
   * A restart through the provider; but a machine deleted or stopped outside
   * the plane (drift) gets a fresh one, counted against the same breaker.
   */
  async #heal(agent: AgentRecord, provider: InfraProvider): Promise<void> {
    const reprovision = this.#o.reprovision;
    if (reprovision && provider.reportsDrift) {
      const st = await provider.status(agent.id);
      if (st.state === 'missing' || st.state === 'stopped') {
        this.#log.warn('reprovisioning an agent whose machine is gone or stopped', { plane: agent.plane, agent: agent.name, detail: st.detail });
        this.#ctx.audit.record({ actor: 'hub:self-heal', action: 'agent.heal.reprovision', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { provider: provider.name, instance: st.detail } });
        return reprovision(agent);
      }
    }
    return provider.restart(agent.id);
  }

  /** Waits for restarts still running. */
  async settle(): Promise<void> {
    await Promise.all([...this.#inFlight.values()]);
  }
}
