import { type Static, Type } from '@sinclair/typebox';

/**
 * What the hub tells an agent to run. The hub resolves plane defaults, the
 * agent's own settings and the plane's model table into this; agentd renders
 * OpenClaw's config from it and keeps the last copy so it can start without
 * the hub. It carries no secret values: keys are named, never included.
 */
export const ModelProviderSpec = Type.Object(
  {
    baseUrl: Type.String({ pattern: '^https?://', maxLength: 512 }),
    api: Type.Union([Type.Literal('openai-completions'), Type.Literal('openai-responses'), Type.Literal('anthropic-messages')]),
    /** Name of the environment variable that holds the key on the agent (never the key). */
    apiKeyEnv: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' }),
    models: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128 }),
          name: Type.Optional(Type.String({ maxLength: 128 })),
          /** USD per million tokens, for OpenClaw's cost accounting. */
          cost: Type.Optional(Type.Object({ input: Type.Number({ minimum: 0, maximum: 1_000_000 }), output: Type.Number({ minimum: 0, maximum: 1_000_000 }) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 64 },
    ),
  },
  { additionalProperties: false },
);
export type ModelProviderSpec = Static<typeof ModelProviderSpec>;

export const AgentRuntimeSpec = Type.Object(
  {
    plane: Type.String(),
    agent: Type.String(),
    owner: Type.String(),
    modelTier: Type.Union([Type.Literal('haiku'), Type.Literal('sonnet'), Type.Literal('opus')]),
    /** "provider/model-id" as OpenClaw names it. */
    model: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*/.+$', maxLength: 200 }),
    /** Custom (non built-in) model providers, e.g. an OpenAI-compatible endpoint. */
    providers: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }), ModelProviderSpec, { default: {} }),
    tools: Type.Array(Type.String(), { default: [] }),
    channels: Type.Array(Type.String(), { default: [] }),
    /** OpenClaw's own periodic agent turn ("heartbeat" in OpenClaw's terms, not liveness). */
    agentHeartbeatEvery: Type.String({ pattern: '^\\d+[smh]$', default: '30m' }),
    /** Admin-set OpenClaw settings merged over the rendered config (validated by OpenClaw before use). */
    configOverrides: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  { additionalProperties: false },
);
export type AgentRuntimeSpec = Static<typeof AgentRuntimeSpec>;

export const DEFAULT_MODEL_TIERS: Readonly<Record<AgentRuntimeSpec['modelTier'], string>> = Object.freeze({
  haiku: 'anthropic/claude-haiku-4-5',
  sonnet: 'anthropic/claude-sonnet-4-6',
  opus: 'anthropic/claude-opus-4-6',
});
