import type { Static } from '@sinclair/typebox';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import type { RunRecord } from '../run-model.ts';
import type { SpendToDate } from '../cost/cost-ledger.ts';
import type { FleetRow, RunSummaryRow } from './console-schemas.ts';

export type Row = Static<typeof FleetRow>;
export type RunRow = Static<typeof RunSummaryRow>;

/** "2026.9.6" < "2026.10.1"; a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const [ma = '', pa] = a.split('-', 2);
  const [mb = '', pb] = b.split('-', 2);
  const x = ma.split('.').map(Number);
  const y = mb.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  return pa < pb ? -1 : 1;
}

export const runRow = (r: RunRecord): RunRow => ({
  id: r.id,
  plane: r.plane,
  kind: r.kind,
  actor: r.actor,
  state: r.state,
  createdAt: r.createdAt,
  finishedAt: r.finishedAt,
  summary: { ...r.summary },
});

const round = (n: number, places: number): number => Math.round(n * 10 ** places) / 10 ** places;

/**
 * Builds the fleet table's rows from the hub's own state: the agents, their
 * health as the API computes it (Fleet.view), the last heartbeat, spend this
 * month and the runs in progress. Spend is read from the ledger at most every
 * `spendTtlMs`: it only changes when the hub books costs.
 */
export class FleetRows {
  readonly #ctx: HubContext;
  readonly #fleet: Fleet;
  readonly #openRuns: () => RunRecord[];
  readonly #spendTtlMs: number;
  readonly #spend = new Map<string, { at: number; byAgent: Map<string, SpendToDate> }>();

  constructor(ctx: HubContext, fleet: Fleet, openRuns: () => RunRecord[], spendTtlMs = 10_000) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#openRuns = openRuns;
    this.#spendTtlMs = spendTtlMs;
  }

  #spendOf(plane: string, now: number): Map<string, SpendToDate> {
    const cached = this.#spend.get(plane);
    if (cached && now - cached.at < this.#spendTtlMs) return cached.byAgent;
    const byAgent = this.#ctx.ledger.monthToDate(plane, now);
    this.#spend.set(plane, { at: now, byAgent });
    return byAgent;
  }

  /** Every agent of every plane (or of one), and the runs in progress or waiting for agents' reports. */
  build(now = Date.now(), plane?: string): { rows: Row[]; runs: RunRow[] } {
    const runs = this.#openRuns().filter((r) => !plane || r.plane === plane);
    const pending = new Map<string, { id: string; kind: string; state: string }>();
    for (const r of runs) {
      // An `unknown` target is still open: the agent has yet to say whether its command ran.
      for (const t of r.targets) if (t.state === 'queued' || t.state === 'running' || t.state === 'unknown') pending.set(`${r.plane}/${t.agent}`, { id: r.id, kind: r.kind, state: t.state });
    }
    const views = this.#ctx.agents.list(plane).map((a) => this.#fleet.view(a, now));
    const newest = new Map<string, string>();
    const versionOf = (v: (typeof views)[number]): string | null => {
      const gw = v.heartbeat?.heartbeat.gateway;
      return (gw?.runtime === 'openclaw' && gw.version) || v.runtimeVersions['openclaw'] || null;
    };
    for (const v of views) {
      const ver = versionOf(v);
      const best = newest.get(v.plane);
      if (ver && (!best || compareVersions(ver, best) > 0)) newest.set(v.plane, ver);
    }
    const rows = views.map((v): Row => {
      const hb = v.heartbeat?.heartbeat;
      const gw = hb?.gateway;
      const ver = versionOf(v);
      const best = newest.get(v.plane);
      const spent = this.#spendOf(v.plane, now).get(v.name)?.totalUsd ?? 0;
      const cap = v.spec.budgetCap ?? null;
      return {
        plane: v.plane,
        name: v.name,
        owner: v.owner,
        group: v.spec.group ?? null,
        ou: v.spec.ou ?? null,
        health: v.health,
        connected: v.connected,
        paused: v.desiredState === 'paused' || hb?.paused === true,
        // A disconnected agent's last report says nothing of its gateway now.
        gateway: gw && v.connected ? gw.state.replace('GATEWAY_STATE_', '').toLowerCase() : null,
        runtime: gw?.runtime || null,
        version: ver,
        outdated: !!ver && !!best && compareVersions(ver, best) < 0,
        lastHeartbeatAt: v.heartbeat?.receivedAt ?? null,
        syncLagMs: hb?.sync ? Number(hb.sync.lagMs) : null,
        spendUsd: round(spent, 4),
        budgetUsd: cap,
        budgetPct: cap === null ? null : cap > 0 ? round((spent / cap) * 100, 1) : spent > 0 ? 100 : 0,
        breakerOpen: !!v.healing?.breakerOpenAt,
        run: pending.get(`${v.plane}/${v.name}`) ?? null,
      };
    });
    return { rows, runs: runs.map(runRow) };
  }
}
