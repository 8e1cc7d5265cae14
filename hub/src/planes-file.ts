import { type Static, Type } from '@sinclair/typebox';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { validate, type ValidationIssue } from '../../common/src/validate.ts';
import type { AgentDeclaration } from './agent-settings.ts';
import { decodeUtf8, oneLine, parseStrictYaml, PLANES_FILE_LIMITS, type PlanesFileLimits, readBoundedFile } from './planes-file-input.ts';
import { AgentSpec, EgressPolicy, GcpNetwork, GcpZone, Nullable, Email, GroupName, InfraProviderName, ModelTier, Name, OuPath, PlaneCosts, PlaneModels, type PlaneSpec, Policy } from './model.ts';

const Str = (maxLength: number, description?: string) => Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) });

export const PlanesFileAgent = Type.Object(
  {
    name: Name,
    owner: Email,
    machineType: Type.Optional(Str(64, 'overrides infrastructure.defaults.machineType and policies')),
    diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536 })),
    modelTier: Type.Optional(ModelTier),
    budgetCap: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'USD per month; null: no cap even where a policy sets one' }))),
    tools: Type.Optional(AgentSpec.properties.tools),
    channels: Type.Optional(AgentSpec.properties.channels),
    configOverrides: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "merged over the agent's OpenClaw config; OpenClaw validates it" })),
    groups: Type.Optional(Type.Array(GroupName, { maxItems: 64, uniqueItems: true, description: "the owner's groups; policies match on them" })),
    ou: Type.Optional(OuPath),
    group: Type.Optional(AgentSpec.properties.group),
    spot: Type.Optional(AgentSpec.properties.spot),
  },
  { additionalProperties: false },
);
export type PlanesFileAgent = Static<typeof PlanesFileAgent>;

/** planes.yaml, as in the requirements doc (apiVersion openclaw.dev/v1alpha1, kind AgentsPlane). */
export const PlanesFileSchema = Type.Object(
  {
    apiVersion: Type.Literal('openclaw.dev/v1alpha1'),
    kind: Type.Literal('AgentsPlane'),
    metadata: Type.Object({ name: Name }, { additionalProperties: false }),
    spec: Type.Object(
      {
        identity: Type.Optional(
          Type.Object({ provider: Str(64), domain: Type.Optional(Str(253)), adminEmail: Type.Optional(Email) }, { additionalProperties: false }),
        ),
        infrastructure: Type.Object(
          {
            provider: InfraProviderName,
            project: Type.Optional(Str(64)),
            region: Type.Optional(Str(64)),
            zone: Type.Optional(GcpZone),
            network: Type.Optional(GcpNetwork),
            subnetwork: Type.Optional(GcpNetwork),
            defaults: Type.Optional(
              Type.Object(
                {
                  machineType: Type.Optional(Str(64)),
                  diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536 })),
                  image: Type.Optional(Str(512)),
                  spot: Type.Optional(AgentSpec.properties.spot),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        secrets: Type.Optional(Type.Object({ provider: Str(64), project: Type.Optional(Str(64)) }, { additionalProperties: false })),
        networking: Type.Optional(Type.Object({ provider: Str(64), egressPolicy: Type.Optional(EgressPolicy) }, { additionalProperties: false })),
        models: Type.Optional(PlaneModels),
        agents: Type.Array(PlanesFileAgent, { default: [], maxItems: 10_000 }),
        policies: Type.Optional(Type.Array(Policy, { maxItems: 256, description: 'applied in order: a later matching policy overrides an earlier one; the agent’s own values win' })),
        /** Prices over the hub's and what a spent budget does (pause | alert-only). */
        costs: Type.Optional(PlaneCosts),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'Agents Plane planes.yaml' },
);
export type PlanesFile = Static<typeof PlanesFileSchema>;

/** "spec.agents[2].name" -> ["spec", "agents", 2, "name"] */
export function pathSegments(path: string): Array<string | number> {
  return path
    .split(/\.|\[(\d+)\]/)
    .filter((s) => s !== undefined && s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Checks the schema cannot express: agent names are unique in a file. */
export function checkPlanesFile(f: PlanesFile): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Map<string, number>();
  f.spec.agents.forEach((a, i) => {
    const first = seen.get(a.name);
    if (first !== undefined) issues.push({ path: `spec.agents[${i}].name`, message: `'${a.name}' is already listed at spec.agents[${first}]` });
    else seen.set(a.name, i);
  });
  return issues;
}

export interface ParsedPlanesFile {
  file: PlanesFile;
  /** "planes.yaml:14:7" for a YAML path, pointing at the key (or the nearest node that exists). */
  locate: (path: string) => string;
}

/**
 * Parses and validates planes.yaml. Errors name the file, line and column, the
 * YAML path and what is wrong: "planes.yaml:14:7 spec.agents[2].modelTier: must be one of haiku|sonnet|opus".
 * Hostile or huge input is refused before it costs much (planes-file-input.ts).
 */
export function parsePlanesFileWithSource(text: string, fileName: string, limits: PlanesFileLimits = PLANES_FILE_LIMITS): ParsedPlanesFile {
  if (text.length > limits.maxBytes) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${fileName}:1:1 the file is longer than ${limits.maxBytes} characters, the most a planes.yaml may hold`, { where: `${fileName}:1:1` });
  }
  const { doc, at } = parseStrictYaml(text, fileName, limits);
  if (!isMap(doc.contents)) throw new PlaneError(ErrorCode.InvalidArgument, `${fileName}:1:1 expected a mapping at the top level`, { where: `${fileName}:1:1` });

  const locate = (path: string): string => {
    let node: Node | null | undefined = doc.contents;
    let offset = node?.range?.[0] ?? 0;
    for (const seg of pathSegments(path)) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
        node = pair.value as Node | null;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    return at(offset);
  };

  const fail = (issues: ValidationIssue[]): never => {
    const first = issues[0] ?? { path: '', message: 'is invalid' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    const where = locate(first.path);
    throw new PlaneError(ErrorCode.InvalidArgument, `${where} ${oneLine(`${first.path || '(top level)'}: ${first.message}`, 400)}${more}`, {
      where,
      // The first 100, located: locating is a walk from the top, and a hostile file can have 100,000 problems.
      cause: issues.slice(0, 100).map((i) => ({ ...i, at: locate(i.path) })),
    });
  };

  let file: PlanesFile;
  try {
    // Aliases were counted and expanded within limits above; the library's own alias heuristic is not needed.
    file = validate(PlanesFileSchema, doc.toJS({ maxAliasCount: -1 }), fileName);
  } catch (err) {
    const pe = PlaneError.from(err);
    if (!Array.isArray(pe.cause) || pe.cause.length === 0) throw pe;
    return fail(pe.cause as ValidationIssue[]);
  }
  const issues = checkPlanesFile(file);
  if (issues.length > 0) fail(issues);
  return { file, locate };
}

export function parsePlanesFile(text: string, fileName: string): PlanesFile {
  return parsePlanesFileWithSource(text, fileName).file;
}

/** The file's bytes as they are on disk: strict UTF-8 first. */
export function parsePlanesFileBytes(bytes: Buffer, fileName: string, limits: PlanesFileLimits = PLANES_FILE_LIMITS): ParsedPlanesFile {
  return parsePlanesFileWithSource(decodeUtf8(bytes, fileName), fileName, limits);
}

export function readPlanesFile(fileName: string, limits: PlanesFileLimits = PLANES_FILE_LIMITS): ParsedPlanesFile {
  return parsePlanesFileBytes(readBoundedFile(fileName, limits.maxBytes), fileName, limits);
}

export function loadPlanesFile(fileName: string): PlanesFile {
  return readPlanesFile(fileName).file;
}

/** The plane a file describes, with every default filled in (as POST /v1/planes fills them). */
export function planeSpecOf(f: PlanesFile): PlaneSpec {
  const s = f.spec;
  const identity = s.identity && (s.identity.domain !== undefined || s.identity.adminEmail !== undefined)
    ? { ...(s.identity.domain !== undefined ? { domain: s.identity.domain } : {}), ...(s.identity.adminEmail !== undefined ? { adminEmail: s.identity.adminEmail } : {}) }
    : undefined;
  return {
    infraProvider: s.infrastructure.provider,
    identityProvider: s.identity?.provider ?? 'none',
    secretsProvider: s.secrets?.provider ?? 'local',
    networkProvider: s.networking?.provider ?? 'none',
    region: s.infrastructure.region ?? 'local',
    ...(s.infrastructure.project !== undefined ? { project: s.infrastructure.project } : {}),
    ...(s.infrastructure.zone !== undefined ? { zone: s.infrastructure.zone } : {}),
    ...(s.infrastructure.network !== undefined ? { network: s.infrastructure.network } : {}),
    ...(s.infrastructure.subnetwork !== undefined ? { subnetwork: s.infrastructure.subnetwork } : {}),
    defaults: {
      machineType: s.infrastructure.defaults?.machineType ?? 'e2-small',
      diskSizeGb: s.infrastructure.defaults?.diskSizeGb ?? 20,
      ...(s.infrastructure.defaults?.image !== undefined ? { image: s.infrastructure.defaults.image } : {}),
      ...(s.infrastructure.defaults?.spot !== undefined ? { spot: s.infrastructure.defaults.spot } : {}),
    },
    ...(s.models !== undefined && (s.models.tiers !== undefined || s.models.providers !== undefined) ? { models: s.models } : {}),
    ...(identity ? { identity } : {}),
    ...(s.secrets?.project !== undefined ? { secretsProject: s.secrets.project } : {}),
    ...(s.networking?.egressPolicy !== undefined ? { egressPolicy: s.networking.egressPolicy } : {}),
    ...(s.policies !== undefined && s.policies.length > 0 ? { policies: s.policies } : {}),
    ...(s.costs !== undefined ? { costs: s.costs } : {}),
  };
}

/** An agent entry as a declaration: its own values, nothing inherited. */
export function declarationOf(a: PlanesFileAgent): AgentDeclaration {
  const { name: _name, owner: _owner, ...rest } = a;
  return rest;
}
