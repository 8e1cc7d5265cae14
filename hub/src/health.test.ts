import { describe, expect, it } from 'vitest';
import type { Heartbeat__Output } from '../../proto/index.ts';
import { evaluateHealth, type HealthInput } from './health.ts';

const interval = 1000;
const now = 100_000;

function hb(gateway: Partial<NonNullable<Heartbeat__Output['gateway']>>, extra: Partial<Heartbeat__Output> = {}): Heartbeat__Output {
  return {
    seq: 1,
    sentAtMs: now,
    gateway: { state: 'GATEWAY_STATE_RUNNING', ready: true, failing: [], runtime: 'openclaw', version: 'v', restartCount: 0, lastError: '', eventLoopDelayMs: 0, rssBytes: 0, degradedSecretOwners: [], pid: 1, startedAtMs: 0, ...gateway },
    resources: null,
    sync: null,
    secretsVersion: '',
    usage: null,
    paused: false,
    ...extra,
  };
}

function input(over: Partial<HealthInput>): HealthInput {
  return {
    agent: { enrolledAt: 1, desiredState: 'running', lastDisconnectedAt: null },
    connected: true,
    heartbeat: { receivedAt: now - 100, heartbeat: hb({}) },
    heartbeatIntervalMs: interval,
    now,
    ...over,
  };
}

describe('evaluateHealth', () => {
  it('is green when connected, fresh and ready', () => {
    expect(evaluateHealth(input({}))).toEqual({ color: 'green', reason: 'ok' });
  });

  it('says plainly when the supervised child is only a placeholder', () => {
    expect(evaluateHealth(input({ heartbeat: { receivedAt: now, heartbeat: hb({ runtime: 'placeholder' }) } }))).toEqual({ color: 'green', reason: 'ok (placeholder child, not an OpenClaw gateway)' });
  });

  it('says it in every reason a placeholder agent can show, not only when green', () => {
    const p = (gateway: Partial<NonNullable<Heartbeat__Output['gateway']>>, extra: Partial<Heartbeat__Output> = {}, receivedAt = now): HealthInput['heartbeat'] => ({
      receivedAt,
      heartbeat: hb({ runtime: 'placeholder', ...gateway }, extra),
    });
    const sync = { state: 'idle', lastSuccessMs: now, lagMs: 0, pendingChanges: 0, lastError: '', snapshot: 's', lastDbSnapshotMs: now, memoryFiles: 0, sessions: -1, files: 1, skippedFiles: 0, fence: 1, skippedByReason: {}, restoreFallback: null, lastCheckMs: 0, untrusted: '' };
    const reasons = [
      input({ connected: false, agent: { enrolledAt: 1, desiredState: 'running', lastDisconnectedAt: now - 5000 }, heartbeat: p({}, {}, now - 6000) }),
      input({ heartbeat: p({}, {}, now - 3 * interval) }),
      input({ heartbeat: p({ state: 'GATEWAY_STATE_FAILED', lastError: 'exit 78: configuration error' }) }),
      input({ heartbeat: p({ state: 'GATEWAY_STATE_STOPPED' }, { paused: true }) }),
      input({ heartbeat: p({ state: 'GATEWAY_STATE_BACKOFF', lastError: 'crashed (signal SIGKILL)' }) }),
      input({ heartbeat: p({ state: 'GATEWAY_STATE_STARTING' }) }),
      input({ heartbeat: p({ ready: false, failing: ['first probe pending'] }) }),
      input({ heartbeat: p({}, { sync: { ...sync, state: 'stale', lastError: 'lease lost' } }) }),
      input({ heartbeat: p({}, { sync: { ...sync, state: 'error', lastError: 'bucket unreachable' } }) }),
      input({ heartbeat: p({}, { sync: { ...sync, lagMs: 200_000, pendingChanges: 3 } }) }),
      input({ heartbeat: p({}, {}, now - 2500) }),
      input({ heartbeat: p({}) }),
    ].map((i) => evaluateHealth(i).reason);
    expect(reasons).toEqual([
      'disconnected for 5s (placeholder child, not an OpenClaw gateway)',
      'no heartbeat for 3s (placeholder child, not an OpenClaw gateway)',
      'placeholder child failed: exit 78: configuration error (not an OpenClaw gateway)',
      'paused (placeholder child, not an OpenClaw gateway)',
      'placeholder child backoff: crashed (signal SIGKILL) (not an OpenClaw gateway)',
      'placeholder child starting (not an OpenClaw gateway)',
      'placeholder child not ready: first probe pending (not an OpenClaw gateway)',
      'brain sync stopped: lease lost (placeholder child, not an OpenClaw gateway)',
      'brain sync failing: bucket unreachable (placeholder child, not an OpenClaw gateway)',
      'brain sync lag 200s (3 pending) (placeholder child, not an OpenClaw gateway)',
      'heartbeat late (3s) (placeholder child, not an OpenClaw gateway)',
      'ok (placeholder child, not an OpenClaw gateway)',
    ]);
    // Before the first heartbeat nothing says which runtime it is: the reason cannot tell.
    expect(evaluateHealth(input({ heartbeat: undefined })).reason).toBe('connected, waiting for the first heartbeat');
  });

  it('is red when never enrolled, disconnected, or silent for 3 intervals', () => {
    expect(evaluateHealth(input({ agent: { enrolledAt: null, desiredState: 'running', lastDisconnectedAt: null } })).color).toBe('red');
    expect(evaluateHealth(input({ connected: false, agent: { enrolledAt: 1, desiredState: 'running', lastDisconnectedAt: now - 5000 } }))).toEqual({ color: 'red', reason: 'disconnected for 5s' });
    expect(evaluateHealth(input({ heartbeat: { receivedAt: now - 3 * interval, heartbeat: hb({}) } })).color).toBe('red');
  });

  it('is red when the gateway failed for good, with its reason', () => {
    expect(evaluateHealth(input({ heartbeat: { receivedAt: now, heartbeat: hb({ state: 'GATEWAY_STATE_FAILED', lastError: 'exit 78: configuration error' }) } }))).toEqual({
      color: 'red',
      reason: 'gateway failed: exit 78: configuration error',
    });
  });

  it('is yellow when degraded: paused, restarting, not ready, or heartbeats late', () => {
    const y = (h: HealthInput['heartbeat']): string => `${evaluateHealth(input({ heartbeat: h })).color}: ${evaluateHealth(input({ heartbeat: h })).reason}`;
    expect(y({ receivedAt: now, heartbeat: hb({ state: 'GATEWAY_STATE_STOPPED' }, { paused: true }) })).toBe('yellow: paused');
    expect(y({ receivedAt: now, heartbeat: hb({ state: 'GATEWAY_STATE_BACKOFF', lastError: 'crashed (signal SIGKILL)' }) })).toBe('yellow: gateway backoff: crashed (signal SIGKILL)');
    expect(y({ receivedAt: now, heartbeat: hb({ ready: false, failing: ['channels'] }) })).toBe('yellow: gateway not ready: channels');
    expect(y({ receivedAt: now - 2500, heartbeat: hb({}) })).toBe('yellow: heartbeat late (3s)');
    expect(y({ receivedAt: now, heartbeat: hb({ degradedSecretOwners: ['provider:anthropic (models.providers.anthropic.apiKey)'] }) })).toBe(
      'yellow: secret missing: provider:anthropic (models.providers.anthropic.apiKey)',
    );
    expect(y({ receivedAt: now, heartbeat: hb({ state: 'GATEWAY_STATE_INSTALLING', ready: false, lastError: 'installing openclaw@2026.9.6' }) })).toBe('yellow: installing openclaw@2026.9.6');
  });
});

describe('brain sync in health', () => {
  const sync = (over: Partial<NonNullable<Heartbeat__Output['sync']>>): NonNullable<Heartbeat__Output['sync']> => ({
    state: 'idle', lastSuccessMs: now, lagMs: 0, pendingChanges: 0, lastError: '', snapshot: 's', lastDbSnapshotMs: now, memoryFiles: 0, sessions: 0, files: 1, skippedFiles: 0, fence: 1, skippedByReason: {}, restoreFallback: null, lastCheckMs: 0, untrusted: '', ...over,
  });
  const withSync = (s: NonNullable<Heartbeat__Output['sync']>): HealthInput => input({ heartbeat: { receivedAt: now - 100, heartbeat: hb({}, { sync: s }) }, syncLagYellowMs: 60_000 });

  it('stays green while the brain is in sync, turns yellow on lag, failure or a lost lease', () => {
    expect(evaluateHealth(withSync(sync({}))).color).toBe('green');
    expect(evaluateHealth(withSync(sync({ lagMs: 59_000, pendingChanges: 2 }))).color).toBe('green');
    expect(evaluateHealth(withSync(sync({ lagMs: 61_000, pendingChanges: 2, state: 'error', lastError: 'bucket down' })))).toEqual({ color: 'yellow', reason: 'brain sync lag 61s (2 pending): bucket down' });
    expect(evaluateHealth(withSync(sync({ state: 'error', lastError: 'refusing to delete 30 of 40 workspace files' })))).toEqual({ color: 'yellow', reason: 'brain sync failing: refusing to delete 30 of 40 workspace files' });
    expect(evaluateHealth(withSync(sync({ state: 'stale', lastError: 'stale writer: lease 1 < 2' })))).toEqual({ color: 'yellow', reason: 'brain sync stopped: stale writer: lease 1 < 2' });
  });
});
