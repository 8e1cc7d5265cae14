import type { AgentRuntimeSpec } from '../../../common/src/agent-spec.ts';
import { channelSecrets, renderChannels } from './channels.ts';

export interface RenderOptions {
  /** Fixed absolute path: OpenClaw keys setup state by it, so it must be the same on every machine. */
  workspaceDir: string;
  port: number;
  logFile: string;
  /** The exec SecretRef resolver agentd serves; custom providers' keys resolve through it. */
  secretsResolver: { command: string; args: string[] };
  /** Channel secrets agentd wrote to files: secret name -> path. Channels without one are left out. */
  channelFiles?: ReadonlyMap<string, string>;
}

/** The exec provider's alias in openclaw.json. */
export const SECRETS_PROVIDER = 'agentd';
/** The environment variable naming agentd's resolver socket (a path, not a secret). */
export const SECRETS_SOCKET_ENV = 'AGENTD_SECRETS_SOCKET';

/**
 * Our abstract tool names (the requirements doc's) mapped to OpenClaw tool
 * groups. Names without a built-in OpenClaw counterpart (email, calendar, crm)
 * arrive with their channel or plugin and are reported as not enforced.
 */
const TOOL_GROUPS: Readonly<Record<string, readonly string[]>> = {
  exec: ['group:runtime', 'group:fs'],
  ssh: ['group:runtime'],
  web: ['group:web'],
  browser: ['browser'],
  memory: ['group:memory'],
  media: ['group:media'],
};

export function unmappedTools(tools: readonly string[]): string[] {
  return tools.filter((t) => !TOOL_GROUPS[t]);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge where objects merge and everything else (arrays included) replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

/**
 * Renders openclaw.json from the agent's spec. The gateway binds to loopback
 * with token auth; the token itself is never written here (it reaches the
 * gateway through its environment). Updates and memory search stay off: the
 * runtime changes only through agentd, and embeddings need a key we may not have.
 */
export function renderOpenClawConfig(spec: AgentRuntimeSpec, o: RenderOptions): Record<string, unknown> {
  const allow = [...new Set(spec.tools.flatMap((t) => TOOL_GROUPS[t] ?? []))];
  const providers = Object.fromEntries(
    Object.entries(spec.providers).map(([name, p]) => [
      name,
      {
        baseUrl: p.baseUrl,
        api: p.api,
        // Resolved through agentd at start and on `secrets reload`: the key is never on disk.
        apiKey: { source: 'exec', provider: SECRETS_PROVIDER, id: p.apiKeyEnv },
        models: p.models.map((m) => ({ id: m.id, name: m.name ?? m.id, ...(m.cost ? { cost: m.cost } : {}) })),
      },
    ]),
  );
  const channels = renderChannels(spec, o.channelFiles ?? new Map());
  const config: Record<string, unknown> = {
    gateway: { mode: 'local', bind: 'loopback', port: o.port, auth: { mode: 'token' } },
    agents: {
      defaults: {
        workspace: o.workspaceDir,
        model: { primary: spec.model },
        heartbeat: { every: spec.agentHeartbeatEvery, target: 'none' },
      },
    },
    ...(Object.keys(providers).length > 0 ? { models: { mode: 'merge', providers } } : {}),
    // Always a bounded base profile: an agent that lists only unmapped tools must not get OpenClaw's default.
    tools: { profile: 'messaging', ...(allow.length > 0 ? { allow } : {}) },
    ...(Object.keys(channels).length > 0 ? { channels } : {}),
    memory: { search: { enabled: false } },
    secrets: {
      providers: {
        [SECRETS_PROVIDER]: {
          source: 'exec',
          command: o.secretsResolver.command,
          args: o.secretsResolver.args,
          passEnv: [SECRETS_SOCKET_ENV],
          jsonOnly: true,
          timeoutMs: 5000,
        },
      },
    },
    update: { checkOnStart: false, auto: { enabled: false } },
    logging: { file: o.logFile },
  };
  return deepMerge(config, spec.configOverrides);
}

/**
 * Secrets the rendered config needs, by name in the agent's namespace: custom
 * providers' keys (resolved through agentd's exec resolver), the built-in
 * provider's key (OpenClaw reads it from the gateway's environment) and channel
 * tokens (OpenClaw reads them from files agentd writes).
 */
export function requiredSecrets(spec: AgentRuntimeSpec): { exec: string[]; env: string[]; file: string[] } {
  const builtIn: Record<string, string> = { anthropic: 'ANTHROPIC_API_KEY', openai: 'OPENAI_API_KEY', google: 'GEMINI_API_KEY', xai: 'XAI_API_KEY' };
  const exec = [...new Set(Object.values(spec.providers).map((p) => p.apiKeyEnv))];
  const provider = spec.model.split('/')[0] ?? '';
  const env = builtIn[provider] && !spec.providers[provider] ? [builtIn[provider]] : [];
  return { exec, env, file: channelSecrets(spec) };
}
