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

/**
 * Where plane, agent, hub and enrolment come from on a golden image: the instance
 * metadata (attributes agents-plane-*), or a local YAML file with the same keys
 * (bootstrap.ts). Replaces plane, agent and enrollmentBundleFile in the file.
 */
export const BootstrapSchema = Type.Object(
  {
    /** "gce-metadata": the metadata server, else fallbackFile. "file": fallbackFile only. */
    source: Type.Union([Type.Literal('gce-metadata'), Type.Literal('file')]),
    fallbackFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type BootstrapConfig = Static<typeof BootstrapSchema>;

/** agentd's config file (YAML or JSON). Unknown keys are errors: a typo must not be silently ignored. */
export const AgentdConfigSchema = Type.Object(
  {
    /** Required unless bootstrap names where they come from. */
    plane: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    agent: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    bootstrap: Type.Optional(BootstrapSchema),
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
        /** The cheap check that the bucket still holds what was uploaded (HEAD, a sample of chunks). */
        checkCron: Type.String({ default: '*/5 * * * *' }),
        checkSample: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
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
/** The file as written: with bootstrap, plane and agent are not known until it is resolved. */
export type AgentdFileConfig = Readonly<Static<typeof AgentdConfigSchema>>;

/** Enrolment material found by the bootstrap (never logged: a bundle holds a one-time token). */
export type BootstrapEnrollment =
  | { kind: 'bundle'; bundle: string; source: string }
  | { kind: 'instance-identity'; hub: string; caPem: string; audience: string };

/** What agentd runs with: plane and agent known, plus what the bootstrap found. */
export type AgentdConfig = Readonly<Omit<Static<typeof AgentdConfigSchema>, 'plane' | 'agent'> & { plane: string; agent: string; enrollment?: BootstrapEnrollment }>;

/** Parses and checks the file; plane and agent may still be open (bootstrap). */
export function parseAgentdFileConfig(text: string, file: string): AgentdFileConfig {
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
  if (cfg.bootstrap) {
    for (const field of ['plane', 'agent', 'enrollmentBundleFile'] as const) {
      if (cfg[field] !== undefined) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: ${field} comes from the bootstrap (${cfg.bootstrap.source}); remove it or remove bootstrap`, { where: field });
    }
  } else {
    for (const field of ['plane', 'agent'] as const) {
      if (cfg[field] === undefined) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: ${field} is required`, { where: field });
    }
  }
  for (const field of ['reconcileCron', 'snapshotCron', 'checkCron'] as const) {
    const v = validateCron(cfg.sync[field]);
    if (v) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: sync.${field} ${JSON.stringify(cfg.sync[field])} is not a cron expression: ${v}`, { where: `sync.${field}` });
  }
  return Object.freeze({
    ...cfg,
    stateDir: abs(cfg.stateDir),
    ...(cfg.enrollmentBundleFile ? { enrollmentBundleFile: abs(cfg.enrollmentBundleFile) } : {}),
    ...(cfg.bootstrap ? { bootstrap: { ...cfg.bootstrap, ...(cfg.bootstrap.fallbackFile ? { fallbackFile: abs(cfg.bootstrap.fallbackFile) } : {}) } } : {}),
    runtime: {
      ...cfg.runtime,
      ...(cfg.runtime.root ? { root: abs(cfg.runtime.root) } : {}),
      ...(cfg.runtime.workspaceDir ? { workspaceDir: abs(cfg.runtime.workspaceDir) } : {}),
    },
  });
}

/** A config without bootstrap, ready to run; one with bootstrap goes through resolveAgentdConfig (bootstrap.ts). */
export function parseAgentdConfig(text: string, file: string): AgentdConfig {
  const cfg = parseAgentdFileConfig(text, file);
  if (cfg.bootstrap || cfg.plane === undefined || cfg.agent === undefined) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}: plane and agent come from the bootstrap (${cfg.bootstrap?.source ?? 'none'}); resolve it first`, { where: 'bootstrap' });
  }
  return withIdentity(cfg, cfg.plane, cfg.agent);
}

/** The file config with plane and agent filled in (by the file itself or the bootstrap). */
export function withIdentity(cfg: AgentdFileConfig, plane: string, agent: string, enrollment?: BootstrapEnrollment): AgentdConfig {
  const { bootstrap: _bootstrap, ...rest } = cfg;
  return Object.freeze({ ...rest, plane, agent, ...(enrollment ? { enrollment } : {}) });
}

export function readAgentdConfigFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `cannot read config ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: file, cause });
  }
  return text;
}

export function loadAgentdFileConfig(file: string): AgentdFileConfig {
  return parseAgentdFileConfig(readAgentdConfigFile(file), file);
}

export function loadAgentdConfig(file: string): AgentdConfig {
  return parseAgentdConfig(readAgentdConfigFile(file), file);
}
