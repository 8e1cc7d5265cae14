import { Gauge, Registry } from 'prom-client';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';

function gauges(registry: Registry) {
  const gauge = (name: string, help: string, labelNames: string[]): Gauge => new Gauge({ name, help, labelNames, registers: [registry] });
  return {
    info: gauge('agentsplane_hub_info', 'Always 1; the hub version as a label', ['version']),
    agents: gauge('agentsplane_agents', 'Agents by plane and health colour', ['plane', 'health']),
    connected: gauge('agentsplane_agents_connected', 'Agents with a live stream to the hub', ['plane']),
    paused: gauge('agentsplane_agents_paused', 'Agents an admin or a budget paused', ['plane']),
    heartbeatAge: gauge('agentsplane_agent_heartbeat_age_seconds', "Seconds since the agent's last heartbeat", ['plane', 'agent']),
    syncLag: gauge('agentsplane_agent_sync_lag_seconds', 'Age of the oldest brain change not yet in the bucket, as the agent last reported it', ['plane', 'agent']),
    commands: gauge('agentsplane_commands', 'Stored commands by kind and state; the terminal states (succeeded, failed, rejected, expired, interrupted) only grow', ['kind', 'state']),
    cost: gauge('agentsplane_agent_cost_usd', "Spend this UTC month in USD (kind: infra or model), from the hub's cost ledger", ['plane', 'agent', 'kind']),
    budget: gauge('agentsplane_agent_budget_usd', 'Monthly budget cap in USD, for agents that have one', ['plane', 'agent']),
    healAttempts: gauge('agentsplane_agent_heal_restarts', 'Self-healing restarts since the agent was last green', ['plane', 'agent']),
    breaker: gauge('agentsplane_agent_heal_breaker_open', '1 while self-healing has given up on the agent and waits for a human', ['plane', 'agent']),
  };
}

/**
 * The hub's Prometheus metrics (text format 0.0.4), computed from fleet state
 * at scrape time: nothing is sampled in between, so a scrape always matches
 * what `planes status` and the cost report say at that moment. One registry
 * per hub (not prom-client's global one), so several hubs can share a process.
 */
export class HubMetrics {
  readonly #ctx: HubContext;
  readonly #fleet: Fleet;
  readonly #registry = new Registry();
  readonly #g: ReturnType<typeof gauges>;

  constructor(ctx: HubContext, fleet: Fleet) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#g = gauges(this.#registry);
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  async render(now = Date.now()): Promise<string> {
    for (const g of Object.values(this.#g)) g.reset();
    const g = this.#g;
    g.info.set({ version: this.#ctx.version }, 1);
    for (const plane of this.#ctx.planes.list()) {
      const counts = { green: 0, yellow: 0, red: 0 };
      let connected = 0;
      let paused = 0;
      const spend = this.#ctx.ledger.monthToDate(plane.name, now);
      for (const agent of this.#ctx.agents.list(plane.name)) {
        const v = this.#fleet.view(agent, now);
        const labels = { plane: plane.name, agent: agent.name };
        counts[v.health.color]++;
        if (v.connected) connected++;
        if (agent.desiredState === 'paused') paused++;
        if (v.heartbeat) g.heartbeatAge.set(labels, v.heartbeat.ageMs / 1000);
        const sync = v.heartbeat?.heartbeat.sync;
        if (sync) g.syncLag.set(labels, sync.lagMs / 1000);
        const s = spend.get(agent.name);
        g.cost.set({ ...labels, kind: 'infra' }, s?.infraUsd ?? 0);
        g.cost.set({ ...labels, kind: 'model' }, s?.modelUsd ?? 0);
        if (agent.spec.budgetCap !== undefined) g.budget.set(labels, agent.spec.budgetCap);
        g.healAttempts.set(labels, v.healing?.attempts ?? 0);
        g.breaker.set(labels, v.healing?.breakerOpenAt ? 1 : 0);
      }
      for (const [health, n] of Object.entries(counts)) g.agents.set({ plane: plane.name, health }, n);
      g.connected.set({ plane: plane.name }, connected);
      g.paused.set({ plane: plane.name }, paused);
    }
    const rows = this.#ctx.db.prepare('SELECT kind, state, COUNT(*) AS n FROM commands GROUP BY kind, state').all() as Array<{ kind: string; state: string; n: number }>;
    for (const r of rows) g.commands.set({ kind: r.kind, state: r.state }, r.n);
    return this.#registry.metrics();
  }
}
