import type { Logger } from '../../../common/src/logger.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import { gatewayRpc } from './gateway-rpc.ts';
import { probe } from './openclaw-runtime.ts';

export interface ModelUsageTotals {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  totalTokens: number;
  totalCostUsd: number;
}

export interface UsageSnapshot extends Omit<ModelUsageTotals, 'model'> {
  byModel: ModelUsageTotals[];
  observedAtMs: number;
}

export interface GatewaySnapshot {
  live: boolean;
  ready: boolean;
  failing: string[];
  eventLoopDelayMs: number;
  rssBytes: number;
  /** "provider:fakeai (models.providers.fakeai.apiKey)": whose secret is missing. Never a value. */
  degradedSecretOwners: string[];
  version: string;
  usage: UsageSnapshot | undefined;
  rpcError: string;
  /** When the last RPC probe finished (0: none yet). Until then missing secrets are unknown. */
  rpcAtMs: number;
  /** Plugins the gateway's health RPC reports as failed to load. */
  pluginErrors: string[];
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);

function totals(model: string, t: Record<string, unknown>): ModelUsageTotals {
  return {
    model,
    inputTokens: num(t['input']),
    outputTokens: num(t['output']),
    cacheReadTokens: num(t['cacheRead']),
    cacheWriteTokens: num(t['cacheWrite']),
    totalTokens: num(t['totalTokens']),
    totalCostUsd: num(t['totalCost']),
  };
}

/** sessions.usage -> totals and a by-model breakdown ("provider/model"). */
export function parseUsage(payload: unknown, now = Date.now()): UsageSnapshot {
  const p = obj(payload);
  const { model: _m, ...all } = totals('', obj(p['totals']));
  const byModel = arr(obj(p['aggregates'])['byModel']).map((e) => {
    const o = obj(e);
    return totals(`${str(o['provider'], '?')}/${str(o['model'], '?')}`, obj(o['totals']));
  });
  return { ...all, byModel, observedAtMs: now };
}

/** status.degradedSecretOwners -> short strings naming owner and config path, never values. */
export function parseDegradedSecretOwners(statusPayload: unknown): string[] {
  return arr(obj(statusPayload)['degradedSecretOwners']).map((e) => {
    const o = obj(e);
    const paths = arr(o['paths']).map((x) => str(x, '?')).join(', ');
    return `${str(o['ownerKind'], 'owner')}:${str(o['ownerId'], '?')}${paths ? ` (${paths})` : ''}`;
  });
}

export interface GatewayProbeOptions {
  port: number;
  token: () => string;
  log: Logger;
  httpIntervalMs?: number;
  rpcIntervalMs?: number;
  onChange?: (s: GatewaySnapshot) => void;
}

/**
 * Watches a running gateway: HTTP probes every few seconds (no auth), and once
 * a minute a read-only RPC session for `status` (memory, missing secrets,
 * version) and `sessions.usage` (tokens and cost; OpenClaw caches it for about
 * 30 s, so figures can trail a turn by up to a minute).
 */
export class GatewayProbe {
  readonly #o: GatewayProbeOptions;
  #snapshot: GatewaySnapshot = { live: false, ready: false, failing: ['not probed yet'], eventLoopDelayMs: 0, rssBytes: 0, degradedSecretOwners: [], version: '', usage: undefined, rpcError: '', rpcAtMs: 0, pluginErrors: [] };
  #http: NodeJS.Timeout | undefined;
  #rpc: NodeJS.Timeout | undefined;
  #rpcRunning = false;

  constructor(options: GatewayProbeOptions) {
    this.#o = options;
  }

  get snapshot(): GatewaySnapshot {
    return this.#snapshot;
  }

  start(): void {
    this.stop();
    this.#http = setInterval(() => void this.probeHttp(), this.#o.httpIntervalMs ?? 5000);
    this.#rpc = setInterval(() => void this.probeRpc(), this.#o.rpcIntervalMs ?? 60_000);
    this.#http.unref();
    this.#rpc.unref();
    void this.probeHttp().then(() => this.probeRpc());
  }

  stop(): void {
    clearInterval(this.#http);
    clearInterval(this.#rpc);
    this.#http = undefined;
    this.#rpc = undefined;
  }

  #update(patch: Partial<GatewaySnapshot>): void {
    const next = { ...this.#snapshot, ...patch };
    const changed = (next.rpcAtMs > 0) !== (this.#snapshot.rpcAtMs > 0) || next.ready !== this.#snapshot.ready || next.live !== this.#snapshot.live || next.failing.join() !== this.#snapshot.failing.join() || next.degradedSecretOwners.join() !== this.#snapshot.degradedSecretOwners.join();
    this.#snapshot = next;
    if (changed) this.#o.onChange?.(next);
  }

  async probeHttp(): Promise<void> {
    const [health, ready] = await Promise.all([probe(this.#o.port, '/healthz'), probe(this.#o.port, '/readyz')]);
    if (!health && !ready) {
      this.#update({ live: false, ready: false, failing: ['gateway not answering'] });
      return;
    }
    const body = ready?.body ?? {};
    this.#update({
      live: health?.status === 200,
      ready: ready?.status === 200 && body['ready'] === true,
      failing: arr(body['failing']).map((x) => str(x, '?')),
      eventLoopDelayMs: num(obj(body['eventLoop'])['delayP99Ms']),
    });
  }

  async probeRpc(): Promise<void> {
    if (this.#rpcRunning) return;
    this.#rpcRunning = true;
    try {
      const [health, status, usage] = await gatewayRpc(this.#o.port, this.#o.token(), [
        { method: 'health' },
        { method: 'status' },
        { method: 'sessions.usage', params: { agentScope: 'all' } },
      ]);
      // health names plugins that failed to load; they degrade the gateway without failing /readyz.
      const pluginErrors = arr(obj(obj(health)['plugins'])['errors']).map((e) => `plugin:${str(obj(e)['id'] ?? obj(e)['name'] ?? e, '?')}`);
      this.#update({
        pluginErrors,
        rssBytes: num(obj(obj(status)['processMemory'])['rssBytes']),
        degradedSecretOwners: parseDegradedSecretOwners(status),
        version: str(obj(status)['runtimeVersion'], ''),
        usage: parseUsage(usage),
        rpcError: '',
        rpcAtMs: Date.now(),
      });
    } catch (err) {
      const message = PlaneError.from(err).message;
      if (message !== this.#snapshot.rpcError) this.#o.log.warn('gateway RPC probe failed', { reason: message });
      this.#update({ rpcError: message, rpcAtMs: Date.now() });
    } finally {
      this.#rpcRunning = false;
    }
  }
}
