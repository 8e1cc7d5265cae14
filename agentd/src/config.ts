import { type Static, Type } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { NAME_PATTERN } from '../../common/src/ids.ts';
import { validate } from '../../common/src/validate.ts';
import { validateDetailed } from 'node-cron';

function validateCron(expr: string): string | null {
  const r = validateDetailed(expr);
  return r.valid ? null : r.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid';
}

/** agentd's config file (YAML or JSON). Unknown keys are errors: a typo must not be silently ignored. */
export const AgentdConfigSchema = Type.Object(
  {
    plane: Type.String({ pattern: NAME_PATTERN }),
    agent: Type.String({ pattern: NAME_PATTERN }),
    /** Where agentd keeps its credential, journal and runtime state (0700). */
    stateDir: Type.String({ minLength: 1 }),
    /** First boot only: the one-time bundle from the hub; deleted after enrolment. */
    enrollmentBundleFile: Type.Optional(Type.String({ minLength: 1 })),
    runtime: Type.Object(
      {
        /** "openclaw": the real gateway. "placeholder": a stand-in child, for tests and dry runs. */
        kind: Type.Union([Type.Literal('openclaw'), Type.Literal('placeholder')]),
        /** Where pinned Node and OpenClaw versions are installed; may be shared by agents on one host. */
        root: Type.Optional(Type.String({ minLength: 1 })),
        nodeVersion: Type.Optional(Type.String({ pattern: '^24\\.\\d+\\.\\d+$' })),
        openclawVersion: Type.Optional(Type.String({ pattern: '^\\d{4}\\.\\d+\\.\\d+(-[0-9A-Za-z.]+)?$' })),
        /** The agent's workspace, one fixed absolute path (OpenClaw keys setup state by it). */
        workspaceDir: Type.Optional(Type.String({ minLength: 1 })),
        gatewayPort: Type.Integer({ minimum: 1024, maximum: 65535, default: 18789 }),
        probeIntervalMs: Type.Integer({ minimum: 200, maximum: 60_000, default: 5000 }),
        rpcIntervalMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
      },
      { additionalProperties: false },
    ),
    /** How long SIGTERM may take in total: drain the gateway, report, exit. */
    shutdownTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 25_000 }),
    /** How long the first gateway start waits for the agent's secrets from the hub; after that it starts degraded. */
    secretsWaitMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 15_000 }),
    /** Time a command may run before it is reported failed. */
    commandTimeoutMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 120_000 }),
    /** Brain sync to the bucket the hub names (needs runtime.workspaceDir). */
    sync: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        debounceMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
        maxWaitMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 1500 }),
        /** node-cron expressions (5 fields, or 6 with seconds). */
        reconcileCron: Type.String({ default: '*/15 * * * *' }),
        snapshotCron: Type.String({ default: '*/5 * * * *' }),
        maxDeleteShare: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5 }),
        maxFileBytes: Type.Integer({ minimum: 1, default: 64 * 1024 * 1024 }),
        /** With a local brain on disk, start the gateway without the hub's grant after this long. */
        bootWaitMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 30_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type AgentdConfig = Readonly<Static<typeof AgentdConfigSchema>>;

export function parseAgentdConfig(text: string, file: string): AgentdConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}: not valid YAML/JSON: ${(cause as Error).message}`, { where: file, cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}: must be a mapping of settings`, { where: file });
  }
  const cfg = validate(AgentdConfigSchema, raw, file);
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  if (cfg.runtime.kind === 'openclaw') {
    for (const field of ['root', 'workspaceDir'] as const) {
      if (!cfg.runtime[field]) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: runtime.${field} is required when runtime.kind is openclaw`, { where: `runtime.${field}` });
    }
  }
  for (const field of ['reconcileCron', 'snapshotCron'] as const) {
    const v = validateCron(cfg.sync[field]);
    if (v) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: sync.${field} ${JSON.stringify(cfg.sync[field])} is not a cron expression: ${v}`, { where: `sync.${field}` });
  }
  return Object.freeze({
    ...cfg,
    stateDir: abs(cfg.stateDir),
    ...(cfg.enrollmentBundleFile ? { enrollmentBundleFile: abs(cfg.enrollmentBundleFile) } : {}),
    runtime: {
      ...cfg.runtime,
      ...(cfg.runtime.root ? { root: abs(cfg.runtime.root) } : {}),
      ...(cfg.runtime.workspaceDir ? { workspaceDir: abs(cfg.runtime.workspaceDir) } : {}),
    },
  });
}

export function loadAgentdConfig(file: string): AgentdConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `cannot read config ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: file, cause });
  }
  return parseAgentdConfig(text, file);
}
