import { type Static, Type } from '@sinclair/typebox';
import { GcpCalls } from './gcp-calls.ts';
import { createGcpClients } from './gcp-clients.ts';
import { GcpProvider, type GcpProviderDeps } from './gcp-provider.ts';
import { RateLimiter } from './rate-limiter.ts';
import { SecretAccess } from './secret-access.ts';

/** The hub's `gcp` options: on when present. Durations carry their unit. */
export const GcpHubOptions = Type.Object(
  {
    /** Tests only: a plain-HTTP stand-in on loopback for every Google REST API the provider calls. */
    apiEndpoint: Type.Optional(Type.String({ pattern: '^http://127\\.0\\.0\\.1:\\d+$' })),
    /** Inserts a second across the hub (Compute allows about 20 writes a second per project by default). */
    insertsPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 10 }),
    callTimeoutMs: Type.Integer({ minimum: 100, default: 60_000 }),
    operationDeadlineMs: Type.Integer({ minimum: 100, default: 600_000 }),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 6 }),
    retryInitialDelayMs: Type.Integer({ minimum: 1, default: 1000 }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, default: 30_000 }),
    /** After a resize, how long the agent has to turn green again. */
    healthGateMs: Type.Integer({ minimum: 1000, default: 300_000 }),
    /** How often the hub lists each gcp plane's instances to see drift. */
    driftIntervalMs: Type.Integer({ minimum: 100, default: 60_000 }),
  },
  { additionalProperties: false },
);
export type GcpHubOptions = Static<typeof GcpHubOptions>;

export interface GcpSetup {
  provider: GcpProvider;
  calls: GcpCalls;
  close(): Promise<void>;
}

/**
 * Builds the gcp provider with real clients. `secrets` is given when the hub
 * keeps secrets in Secret Manager: then each agent's service account gets
 * read access to its own secrets.
 */
export function createGcpProvider(
  options: GcpHubOptions,
  deps: Omit<GcpProviderDeps, 'calls' | 'insertLimiter' | 'healthGateMs' | 'secrets'> & {
    secrets?: { project: string; apiEndpoint?: string | undefined; ids(plane: string, agent: string): Promise<string[]> } | undefined;
    signal?: AbortSignal;
  },
): GcpSetup {
  const clients = createGcpClients({ apiEndpoint: options.apiEndpoint });
  const calls = new GcpCalls(
    clients,
    { callTimeoutMs: options.callTimeoutMs, operationDeadlineMs: options.operationDeadlineMs, maxAttempts: options.maxAttempts, initialRetryDelayMs: options.retryInitialDelayMs, maxRetryDelayMs: options.retryMaxDelayMs },
    deps.log.child('gcp'),
    deps.signal,
  );
  const access = deps.secrets ? new SecretAccess(calls, { project: deps.secrets.project, apiEndpoint: deps.secrets.apiEndpoint }) : undefined;
  const { secrets, signal: _signal, ...rest } = deps;
  const provider = new GcpProvider({
    ...rest,
    calls,
    insertLimiter: new RateLimiter(options.insertsPerSecond),
    healthGateMs: options.healthGateMs,
    secrets: access && secrets ? { access, ids: (plane, agent) => secrets.ids(plane, agent) } : undefined,
  });
  return {
    provider,
    calls,
    async close() {
      await access?.close();
      await clients.close();
    },
  };
}
