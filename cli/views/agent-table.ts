import { type Agent, heartbeatOf } from '../api.ts';
import { ago, bytes, colour, table } from '../format.ts';

/**
 * "Up" for waiting loops: the gateway is running and ready. Green, or yellow only
 * because a secret is missing (a fresh agent without its model key is up).
 */
export function isUp(a: Pick<Agent, 'health'>): boolean {
  return a.health.color === 'green' || a.health.reason.startsWith('secret missing');
}

export function agentTable(agents: Agent[], tty: boolean): string {
  const rows = agents.map((a) => {
    const hb = heartbeatOf(a);
    const gw = hb?.gateway;
    const res = hb?.resources;
    const usage = hb?.usage;
    const state = gw?.state ? gw.state.replace('GATEWAY_STATE_', '').toLowerCase() : '-';
    const runtime = gw?.runtime ? (gw.runtime === 'placeholder' ? 'placeholder (no OpenClaw)' : `${gw.runtime} ${gw.version ?? ''}`.trim()) : '-';
    return [
      a.plane,
      a.name,
      a.owner,
      colour(a.health.color, tty),
      a.health.reason,
      runtime,
      state,
      String(gw?.restartCount ?? '-'),
      a.heartbeat ? ago(a.heartbeat.ageMs) : '-',
      res?.cpuPercent !== undefined ? `${res.cpuPercent.toFixed(1)}%` : '-',
      bytes(res?.agentdRssBytes),
      usage ? String(usage.totalTokens ?? 0) : '-',
      usage ? `$${(usage.totalCostUsd ?? 0).toFixed(4)}` : '-',
    ];
  });
  // Cloud agents get a column with where their VM runs and its status; local-only tables stay as they were.
  if (agents.some((a) => a.instance)) {
    const where = agents.map((a) => (a.instance ? `${a.instance.location ?? '-'} ${a.instance.status ?? a.instance.state}` : '-'));
    return table(['PLANE', 'AGENT', 'OWNER', 'HEALTH', 'REASON', 'INSTANCE', 'RUNTIME', 'GATEWAY', 'RESTARTS', 'HEARTBEAT', 'CPU', 'RSS', 'TOKENS', 'COST'], rows.map((r, i) => [...r.slice(0, 5), where[i] ?? '-', ...r.slice(5)]));
  }
  return table(['PLANE', 'AGENT', 'OWNER', 'HEALTH', 'REASON', 'RUNTIME', 'GATEWAY', 'RESTARTS', 'HEARTBEAT', 'CPU', 'RSS', 'TOKENS', 'COST'], rows);
}
