import type { Heartbeat__Output } from '../../proto/index.ts';
import type { AgentRecord, Health } from './model.ts';

export interface HealthInput {
  agent: Pick<AgentRecord, 'enrolledAt' | 'desiredState' | 'lastDisconnectedAt'>;
  connected: boolean;
  heartbeat: { receivedAt: number; heartbeat: Heartbeat__Output } | undefined;
  heartbeatIntervalMs: number;
  /** Unsynced brain changes older than this turn the agent yellow. */
  syncLagYellowMs?: number;
  /** The machine changed outside the plane (deleted, stopped): why, e.g. "instance missing in GCP". */
  drift?: string | null | undefined;
  now: number;
}

const secondsAgo = (now: number, t: number): string => `${Math.max(0, Math.round((now - t) / 1000))}s`;

/**
 * Health of one agent, with the reason a human needs:
 *  red    — not connected, no heartbeat for 3 intervals, or a gateway that will not be restarted;
 *  yellow — connected but degraded: paused, gateway not ready or restarting, heartbeats late;
 *  green  — connected, heartbeat fresh, gateway running and ready.
 * An agent whose last heartbeat says it runs the placeholder child says so in
 * every reason, so nobody takes a green placeholder for a working gateway.
 */
export function evaluateHealth(input: HealthInput): Health {
  const health = evaluate(input);
  if (input.heartbeat?.heartbeat.gateway?.runtime !== 'placeholder') return health;
  const reason = health.reason.replace(/^gateway /, 'placeholder child ');
  return { color: health.color, reason: `${reason} (${reason.startsWith('placeholder child') ? '' : 'placeholder child, '}not an OpenClaw gateway)` };
}

function evaluate(input: HealthInput): Health {
  const { agent, connected, heartbeat, heartbeatIntervalMs: interval, now } = input;
  // A live stream proves the machine runs; a listing that says otherwise is older than the stream.
  if (input.drift && !connected) return { color: 'red', reason: input.drift };
  if (agent.enrolledAt === null) return { color: 'red', reason: 'not enrolled yet' };
  if (!connected) {
    const since = agent.lastDisconnectedAt ?? heartbeat?.receivedAt;
    return { color: 'red', reason: since ? `disconnected for ${secondsAgo(now, since)}` : 'not connected' };
  }
  if (!heartbeat) return { color: 'yellow', reason: 'connected, waiting for the first heartbeat' };
  const age = now - heartbeat.receivedAt;
  if (age >= 3 * interval) return { color: 'red', reason: `no heartbeat for ${secondsAgo(now, heartbeat.receivedAt)}` };
  const gw = heartbeat.heartbeat.gateway;
  const state = gw?.state ?? 'GATEWAY_STATE_UNSPECIFIED';
  if (state === 'GATEWAY_STATE_FAILED') return { color: 'red', reason: `gateway failed: ${gw?.lastError || 'no reason reported'}` };
  if (heartbeat.heartbeat.paused || state === 'GATEWAY_STATE_PAUSED') return { color: 'yellow', reason: 'paused' };
  if (state === 'GATEWAY_STATE_INSTALLING') return { color: 'yellow', reason: gw?.lastError || 'installing the runtime' };
  if (state !== 'GATEWAY_STATE_RUNNING') {
    const label = state.replace('GATEWAY_STATE_', '').toLowerCase();
    return { color: 'yellow', reason: `gateway ${label}${gw?.lastError ? `: ${gw.lastError}` : ''}` };
  }
  if (!gw?.ready) return { color: 'yellow', reason: `gateway not ready${gw?.failing.length ? `: ${gw.failing.join(', ')}` : ''}` };
  // OpenClaw stays "ready" without its model key; only its degraded secret owners say so.
  if (gw.degradedSecretOwners.length > 0) return { color: 'yellow', reason: `secret missing: ${gw.degradedSecretOwners.join('; ')}` };
  const sync = heartbeat.heartbeat.sync;
  if (sync?.state === 'stale') return { color: 'yellow', reason: `brain sync stopped: ${sync.lastError || 'writer lease lost'}` };
  if (sync && sync.lagMs > (input.syncLagYellowMs ?? 120_000)) {
    return { color: 'yellow', reason: `brain sync lag ${Math.round(sync.lagMs / 1000)}s (${sync.pendingChanges} pending)${sync.lastError ? `: ${sync.lastError}` : ''}` };
  }
  if (sync?.state === 'error') return { color: 'yellow', reason: `brain sync failing: ${sync.lastError}` };
  if (age > 2 * interval) return { color: 'yellow', reason: `heartbeat late (${secondsAgo(now, heartbeat.receivedAt)})` };
  return { color: 'green', reason: 'ok' };
}
