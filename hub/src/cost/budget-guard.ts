import type { Logger } from '../../../common/src/logger.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import type { AgentRecord, BudgetEnforcement, PlaneRecord } from '../model.ts';
import { utcMonth } from './cost-ledger.ts';
import { postWebhook, type WebhookOptions } from './webhook.ts';

/** Percentages of a monthly budget that raise an alert (REQ-MAINT-07). */
export const BUDGET_THRESHOLDS = [80, 95, 100] as const;

export interface BudgetAlert {
  type: 'budget.threshold';
  plane: string;
  agent: string;
  owner: string;
  period: string;
  threshold: number;
  costUsd: number;
  capUsd: number;
  enforcement: BudgetEnforcement;
  /** What the hub did: "paused" at 100 % with enforcement "pause", else "none". */
  action: 'paused' | 'already-paused' | 'none';
  at: string;
}

export interface BudgetGuardOptions {
  enforcement: BudgetEnforcement;
  webhook?: WebhookOptions;
}

const round = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/**
 * Compares each agent's spend this UTC month with its `budgetCap` (USD per
 * month: machine time plus model spend, the same total the cost report shows).
 * Every threshold fires once per agent, month and cap (recorded in
 * `budget_alerts`, so a hub restart does not repeat it; a changed cap is a new
 * budget whose thresholds fire afresh): an audit event, and the webhook if one
 * is configured. At 100 % the agent is paused unless the plane or hub says
 * "alert-only". A human who resumes it is not overruled within the month.
 */
export class BudgetGuard {
  readonly #ctx: HubContext;
  readonly #fleet: Fleet;
  readonly #o: BudgetGuardOptions;
  readonly #log: Logger;
  readonly #deliveries = new Set<Promise<boolean>>();

  constructor(ctx: HubContext, fleet: Fleet, options: BudgetGuardOptions) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#o = options;
    this.#log = ctx.log.child('budget');
  }

  enforcementFor(plane: PlaneRecord): BudgetEnforcement {
    return plane.spec.costs?.budgetEnforcement ?? this.#o.enforcement;
  }

  check(now = Date.now()): BudgetAlert[] {
    const fired: BudgetAlert[] = [];
    for (const plane of this.#ctx.planes.list()) {
      const agents = this.#ctx.agents.list(plane.name).filter((a) => a.spec.budgetCap !== undefined);
      if (agents.length === 0) continue;
      const spend = this.#ctx.ledger.monthToDate(plane.name, now);
      for (const a of agents) {
        const cap = a.spec.budgetCap ?? 0;
        const cost = spend.get(a.name)?.totalUsd ?? 0;
        const pct = cap > 0 ? (cost / cap) * 100 : cost > 0 ? Infinity : 0;
        for (const t of BUDGET_THRESHOLDS) {
          if (pct < t) break;
          const alert = this.#fire(plane, a, t, cost, cap, now);
          if (alert) fired.push(alert);
        }
      }
    }
    return fired;
  }

  #fire(plane: PlaneRecord, a: AgentRecord, threshold: number, cost: number, cap: number, now: number): BudgetAlert | undefined {
    const period = utcMonth(now);
    const inserted = this.#ctx.db
      .prepare('INSERT OR IGNORE INTO budget_alerts (plane, agent, period, threshold, at, cost_usd, cap_usd) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.plane, a.name, period, threshold, now, cost, cap);
    if (inserted.changes === 0) return undefined;
    const enforcement = this.enforcementFor(plane);
    let action: BudgetAlert['action'] = 'none';
    let commandId: string | undefined;
    if (threshold === 100 && enforcement === 'pause') {
      if (this.#ctx.agents.getById(a.id).desiredState === 'paused') action = 'already-paused';
      else {
        commandId = this.#fleet.sendCommand(a.plane, a.name, 'pause', {}, 'hub:budget').id;
        action = 'paused';
      }
    }
    const alert: BudgetAlert = { type: 'budget.threshold', plane: a.plane, agent: a.name, owner: a.owner, period, threshold, costUsd: round(cost), capUsd: cap, enforcement, action, at: new Date(now).toISOString() };
    this.#ctx.audit.record({
      actor: 'hub:budget',
      action: 'budget.threshold',
      plane: a.plane,
      agent: a.name,
      outcome: 'ok',
      detail: { threshold, period, costUsd: alert.costUsd, capUsd: cap, enforcement, action, ...(commandId ? { commandId } : {}) },
    });
    this.#log[threshold === 100 ? 'warn' : 'info']('budget threshold reached', { plane: a.plane, agent: a.name, threshold, costUsd: alert.costUsd, capUsd: cap, action });
    if (this.#o.webhook) {
      const p = postWebhook(this.#o.webhook, alert, this.#log, this.#ctx.closing);
      this.#deliveries.add(p);
      void p.finally(() => this.#deliveries.delete(p));
    }
    return alert;
  }

  /** Waits for webhook deliveries still in flight (they give up when the hub closes). */
  async settle(): Promise<void> {
    await Promise.all([...this.#deliveries]);
  }
}
