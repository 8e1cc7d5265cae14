/**
 * The hub's domain model. Schemas are TypeBox (JSON Schema), so the same object
 * validates REST bodies, documents them in OpenAPI and types the code.
 */
import { type Static, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';
import { ModelProviderSpec } from '../../common/src/agent-spec.ts';
import { EMAIL_PATTERN } from '../../common/src/email.ts';
import { NAME_PATTERN } from '../../common/src/ids.ts';
import { PriceTableOverrides } from './cost/price-table.ts';

/**
 * A primitive schema that also allows null, as one multi-type schema: the REST
 * API's coercing validator would turn null into 0 or "" inside a union.
 */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}

export const Name = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 40, description: 'DNS label: lowercase letters, digits, hyphens' });
/** An owner's or admin's address, checked the same way in REST bodies and planes.yaml (common/src/email.ts). */
export const Email = Type.String({ pattern: EMAIL_PATTERN, maxLength: 254, description: 'email address (RFC 5321 local-part@domain; UTF-8 letters allowed)' });
export const ModelTier = Type.Union([Type.Literal('haiku'), Type.Literal('sonnet'), Type.Literal('opus')]);
export const InfraProviderName = Type.Union([Type.Literal('local'), Type.Literal('manual'), Type.Literal('gcp')], {
  description: '"local" runs agentd processes on the hub host; "manual" writes enrollment bundles for machines you run; "gcp" makes a Compute Engine VM per agent',
});
const ToolName = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,39}$' });
const Tools = Type.Array(ToolName, { maxItems: 64, uniqueItems: true });
const Channels = Type.Array(ToolName, { maxItems: 32, uniqueItems: true });
/** gcp: run on Spot capacity (cheaper; Google may take it back with 30 s notice; the hub brings it back). */
const Spot = Type.Boolean({ description: 'gcp: a Spot VM (preemptible); takes effect when the machine is (re)provisioned' });
const BudgetCap = Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'USD per month' });

/** A directory group an agent's owner belongs to, e.g. engineering@acme.com. */
export const GroupName = Type.String({ minLength: 1, maxLength: 254, pattern: '^\\S+$', description: 'a directory group, e.g. engineering@acme.com' });
/** An organizational unit path; a policy for /Sales also matches /Sales/EMEA, and "/" matches everyone. */
export const OuPath = Type.String({ pattern: '^/([^/]+(/[^/]+)*)?$', maxLength: 512, description: 'organizational unit path, e.g. /Sales/EMEA' });

/** What a policy may set for the agents it matches. */
export const PolicySettings = Type.Object(
  {
    machineType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536 })),
    modelTier: Type.Optional(ModelTier),
    budgetCap: Type.Optional(BudgetCap),
    tools: Type.Optional(Tools),
    channels: Type.Optional(Channels),
    spot: Type.Optional(Spot),
  },
  { additionalProperties: false },
);

/**
 * REQ-ID-03 / REQ-WS-03: settings by group or OU. A policy matches an agent when
 * every key of `match` matches (group: the agent is in it; ou: the agent's OU is
 * it or below it). Matching policies apply in order, a later one over an earlier
 * one, field by field; the agent's own values win over all of them.
 */
export const Policy = Type.Object(
  {
    match: Type.Object({ group: Type.Optional(GroupName), ou: Type.Optional(OuPath) }, { additionalProperties: false, minProperties: 1 }),
    spec: PolicySettings,
  },
  { additionalProperties: false },
);
export type Policy = Static<typeof Policy>;

export const EgressPolicy = Type.Object(
  {
    default: Type.Union([Type.Literal('restricted'), Type.Literal('open')]),
    allowedDomains: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 512 })),
  },
  { additionalProperties: false },
);

/** Which model each tier means in this plane, and any custom providers those models live at. */
export const PlaneModels = Type.Object(
  {
    tiers: Type.Optional(
      Type.Object(
        {
          haiku: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*/.+$' })),
          sonnet: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*/.+$' })),
          opus: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*/.+$' })),
        },
        { additionalProperties: false },
      ),
    ),
    providers: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }), ModelProviderSpec)),
  },
  { additionalProperties: false },
);
export type PlaneModels = Static<typeof PlaneModels>;

export const BudgetEnforcement = Type.Union([Type.Literal('pause'), Type.Literal('alert-only')], {
  description: 'what happens when an agent reaches 100 % of its monthly budget: pause it (default) or only alert',
});
export type BudgetEnforcement = Static<typeof BudgetEnforcement>;

/** Per-plane cost settings: prices over the hub's, and what a spent budget does. */
export const PlaneCosts = Type.Object(
  {
    prices: Type.Optional(PriceTableOverrides),
    budgetEnforcement: Type.Optional(BudgetEnforcement),
  },
  { additionalProperties: false },
);
export type PlaneCosts = Static<typeof PlaneCosts>;

export const GcpZone = Type.String({ pattern: '^[a-z]+-[a-z]+[0-9]+-[a-z]$', maxLength: 64, description: 'gcp: a zone of the plane region, e.g. us-east4-b' });
export const GcpNetwork = Type.String({ pattern: '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$|^projects/', maxLength: 256, description: 'gcp: a name, or a full path for a shared VPC' });

export const PlaneSpec = Type.Object(
  {
    infraProvider: InfraProviderName,
    identityProvider: Type.String({ default: 'none', maxLength: 64 }),
    secretsProvider: Type.String({ default: 'local', maxLength: 64 }),
    networkProvider: Type.String({ default: 'none', maxLength: 64 }),
    region: Type.String({ default: 'local', maxLength: 64 }),
    project: Type.Optional(Type.String({ maxLength: 64 })),
    /** gcp: the zone agents run in (default <region>-b), the VPC network (default "default") and subnetwork. */
    zone: Type.Optional(GcpZone),
    network: Type.Optional(GcpNetwork),
    subnetwork: Type.Optional(GcpNetwork),
    defaults: Type.Object(
      {
        machineType: Type.String({ default: 'e2-small', maxLength: 64 }),
        diskSizeGb: Type.Integer({ default: 20, minimum: 10, maximum: 65536 }),
        image: Type.Optional(Type.String({ maxLength: 512 })),
        spot: Type.Optional(Spot),
      },
      { additionalProperties: false, default: {} },
    ),
    models: Type.Optional(PlaneModels),
    /** Directory details from planes.yaml's spec.identity (stored; the identity provider will use them). */
    identity: Type.Optional(Type.Object({ domain: Type.Optional(Type.String({ maxLength: 253 })), adminEmail: Type.Optional(Email) }, { additionalProperties: false })),
    /** planes.yaml's spec.secrets.project. */
    secretsProject: Type.Optional(Type.String({ maxLength: 64 })),
    /** planes.yaml's spec.networking.egressPolicy (stored; enforced by a network provider). */
    egressPolicy: Type.Optional(EgressPolicy),
    policies: Type.Optional(Type.Array(Policy, { maxItems: 256 })),
    costs: Type.Optional(PlaneCosts),
  },
  { additionalProperties: false },
);
export type PlaneSpec = Static<typeof PlaneSpec>;

export const AgentSpec = Type.Object(
  {
    machineType: Type.String({ maxLength: 64 }),
    diskSizeGb: Type.Integer({ minimum: 10, maximum: 65536 }),
    modelTier: ModelTier,
    budgetCap: Type.Optional(BudgetCap),
    /** The team or group the agent is billed to (cost-report --by group). */
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    tools: Tools,
    channels: Channels,
    /** OpenClaw settings merged over the rendered config; OpenClaw validates them before every start. */
    configOverrides: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** The owner's groups and OU: what policies match on (from planes.yaml until an identity provider supplies them). */
    groups: Type.Optional(Type.Array(GroupName, { maxItems: 64, uniqueItems: true })),
    ou: Type.Optional(OuPath),
    spot: Type.Optional(Spot),
  },
  { additionalProperties: false },
);
export type AgentSpec = Static<typeof AgentSpec>;

export type DesiredState = 'running' | 'paused';

export interface PlaneRecord {
  name: string;
  spec: PlaneSpec;
  createdAt: number;
  updatedAt: number;
}

export interface AgentRecord {
  id: string;
  plane: string;
  name: string;
  owner: string;
  spec: AgentSpec;
  desiredState: DesiredState;
  enrolledAt: number | null;
  bootId: string | null;
  agentdVersion: string | null;
  runtimeVersions: Record<string, string>;
  capabilities: string[];
  lastConnectedAt: number | null;
  lastDisconnectedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type HealthColor = 'green' | 'yellow' | 'red';
export interface Health {
  color: HealthColor;
  reason: string;
}

export type CommandState =
  | 'pending'
  | 'delivered'
  | 'accepted'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'expired'
  | 'interrupted';
export const TERMINAL_COMMAND_STATES: ReadonlySet<CommandState> = new Set(['succeeded', 'failed', 'rejected', 'expired', 'interrupted']);

export interface CommandRecord {
  id: string;
  agentId: string;
  kind: string;
  args: Record<string, unknown>;
  actor: string;
  state: CommandState;
  attempts: number;
  createdAt: number;
  deadlineAt: number;
  deliveredAt: number | null;
  completedAt: number | null;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  /** The run (or plane-wide fan-out) that sent it; stored with the command, before it is sent. */
  runId: string | null;
  /** A run's command only: when the run stops waiting for it to reach the agent (its per-agent timeout). */
  giveUpAt: number | null;
}
