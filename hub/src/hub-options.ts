import { type Static, Type } from '@sinclair/typebox';
import { resolve } from 'node:path';
import { validateDetailed } from 'node-cron';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { validate } from '../../common/src/validate.ts';
import { PriceTableOverrides } from './cost/price-table.ts';
import { GcpHubOptions } from './infra/gcp/gcp-options.ts';
import { BudgetEnforcement } from './model.ts';

/** Public options of a hub, with their defaults. Durations carry their unit in the name. */
export const HubOptionsSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1 }),
    grpcHost: Type.String({ default: '127.0.0.1' }),
    grpcPort: Type.Integer({ minimum: 0, maximum: 65535, default: 7443 }),
    apiHost: Type.String({ default: '127.0.0.1' }),
    apiPort: Type.Integer({ minimum: 0, maximum: 65535, default: 7480 }),
    /** PEM certificate (chain) and key: the API and console are served over HTTPS; required off loopback. */
    apiTlsCertFile: Type.Optional(Type.String({ minLength: 1 })),
    apiTlsKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** host:port written into enrollment bundles; defaults to grpcHost:<bound port>. */
    advertiseAddress: Type.Optional(Type.String({ pattern: '^[^\\s:]+:\\d+$' })),
    /** Extra DNS names / IPs for the server certificate. */
    tlsNames: Type.Array(Type.String(), { default: [] }),
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 5000 }),
    enrollmentTokenTtlMs: Type.Integer({ minimum: 1000, default: 24 * 3600_000 }),
    commandTtlMs: Type.Integer({ minimum: 1000, default: 3600_000 }),
    /** A log tail (no follow) an agent has not finished by then ends with an error line for it. */
    logsTailDeadlineMs: Type.Integer({ minimum: 100, default: 30_000 }),
    heartbeatFlushIntervalMs: Type.Integer({ minimum: 50, default: 1000 }),
    /** Environment added to local agentd processes (tests shorten intervals through it). */
    localAgentEnv: Type.Record(Type.String(), Type.String(), { default: {} }),
    /** What local agents supervise: the real OpenClaw gateway, or a placeholder child (fast tests). */
    localRuntime: Type.Union([Type.Literal('openclaw'), Type.Literal('placeholder')], { default: 'openclaw' }),
    /** Shared runtime root for local agents (default <dataDir>/runtime). */
    localRuntimeRoot: Type.Optional(Type.String({ minLength: 1 })),
    /** The OpenClaw release new local agents start on (default: agentd's pin); `planes upgrade` moves them. */
    localOpenclawVersion: Type.Optional(Type.String({ pattern: '^\\d{4}\\.\\d+\\.\\d+(-[0-9A-Za-z.]+)?$' })),
    localProbeIntervalMs: Type.Optional(Type.Integer({ minimum: 200 })),
    localRpcIntervalMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    /** Where agents' brains live: file:///abs/dir or gs://bucket[/prefix]; default file://<dataDir>/bucket. */
    bucketUrl: Type.Optional(Type.String({ pattern: '^(file:///|gs://)' })),
    /**
     * Make the bucket at start even though this data dir is not new: a missing local directory
     * is created and an empty location (no marker) taken. Otherwise only a hub's first start does.
     */
    createBucket: Type.Boolean({ default: false }),
    /** Sync settings written into local agents' agentd.json (tests shorten schedules through it). */
    localSyncSettings: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
    /** Tests only: a GCS JSON API stand-in on loopback, passed to agents with the bucket URL. */
    gcsApiEndpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Where agents' secrets live: 'local' (sealed in the hub's SQLite) or 'gcp-secret-manager:PROJECT'. */
    secretsProvider: Type.String({ pattern: '^(local|gcp-secret-manager:[a-z0-9-]{4,40})$', default: 'local' }),
    /** Tests only: a Secret Manager stand-in on loopback (host:port, plain gRPC, no credentials). */
    secretsApiEndpoint: Type.Optional(Type.String({ pattern: '^127\\.0\\.0\\.1:\\d+$' })),
    /**
     * Accept Enroll with a Compute Engine instance identity token (docs/image.md): an
     * instance named gceInstanceName(plane, agent) in the plane's project enrols as that
     * agent without a one-time token.
     */
    instanceIdentityEnrollment: Type.Boolean({ default: false }),
    /** The audience such a token must carry; default https://<advertised gRPC address>. */
    instanceIdentityAudience: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    /**
     * The gcp infra provider (a Compute Engine VM per agent), with the hub's own
     * Google identity. Its VMs enrol by instance identity, so this turns that on.
     */
    gcp: Type.Optional(GcpHubOptions),
    /** Google's JWK set; tests point it at a loopback stand-in. */
    googleCertsUrl: Type.String({ pattern: '^https?://', default: 'https://www.googleapis.com/oauth2/v3/certs' }),
    /** An agent whose brain has had unsynced changes this long turns yellow. */
    syncLagYellowMs: Type.Integer({ minimum: 1000, default: 120_000 }),
    /** Generated secrets (agent credential, gateway token) older than this are rotated by the schedule. */
    secretRotationDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90 }),
    /** When the hub looks for agents due for rotation (node-cron; default daily at 03:17). */
    secretRotationCron: Type.String({ default: '17 3 * * *' }),
    /** Restart agents that stay red through their infra provider (REQ-INFRA-05). */
    selfHealing: Type.Boolean({ default: true }),
    /** How long an agent must be red before a restart, and between restarts. */
    healRedAfterMs: Type.Integer({ minimum: 1000, default: 120_000 }),
    /** Restarts that did not bring the agent back before the circuit breaker stops trying. */
    healMaxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
    /** How often usage and machine time are folded into the cost ledger and budgets checked. */
    costIntervalMs: Type.Integer({ minimum: 100, default: 15_000 }),
    /** Prices over the built-in list prices (machine types, disk, models); a plane's costs.prices override these. */
    prices: Type.Optional(PriceTableOverrides),
    /** At 100 % of a budget: pause the agent, or only alert. A plane's costs.budgetEnforcement overrides it. */
    budgetEnforcement: Type.Optional(BudgetEnforcement),
    /** Budget alerts are also POSTed here as JSON. */
    budgetWebhook: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://' }),
          timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
          retries: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
          /** HMAC-SHA256 key for x-agents-plane-signature; from PLANES_BUDGET_WEBHOOK_SECRET in `hub serve`. */
          signingSecret: Type.Optional(Type.String({ minLength: 16 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type HubOptions = Partial<Omit<Static<typeof HubOptionsSchema>, 'gcp'>> & { dataDir: string; gcp?: Partial<GcpHubOptions> };
export type CompiledHubOptions = Readonly<Static<typeof HubOptionsSchema>>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Fills defaults, validates, rejects unknown keys, freezes. */
export function compileHubOptions(options: HubOptions): CompiledHubOptions {
  const copy = structuredClone(options) as Record<string, unknown>;
  const compiled = validate(HubOptionsSchema, copy, 'hub options');
  compiled.dataDir = resolve(compiled.dataDir);
  // gcp VMs carry no enrolment bundle: they enrol with the instance identity token.
  if (compiled.gcp) compiled.instanceIdentityEnrollment = true;
  const cron = validateDetailed(compiled.secretRotationCron);
  if (!cron.valid) {
    throw new PlaneError(ErrorCode.InvalidArgument, `secretRotationCron ${JSON.stringify(compiled.secretRotationCron)} is not a cron expression: ${cron.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid'}`, { where: 'secretRotationCron' });
  }
  if ((compiled.apiTlsCertFile === undefined) !== (compiled.apiTlsKeyFile === undefined)) {
    throw new PlaneError(ErrorCode.InvalidArgument, 'apiTlsCertFile and apiTlsKeyFile go together: give both or neither', { where: compiled.apiTlsCertFile ? 'apiTlsKeyFile' : 'apiTlsCertFile' });
  }
  if (!LOOPBACK.has(compiled.apiHost) && compiled.apiTlsCertFile === undefined) {
    // Bearer tokens and console cookies never cross a network in clear: off loopback, only over TLS.
    throw new PlaneError(ErrorCode.InvalidArgument, `apiHost ${compiled.apiHost} is not loopback; the API and console are served there only over TLS (give a certificate and key)`, { where: 'apiHost' });
  }
  return Object.freeze(compiled);
}
