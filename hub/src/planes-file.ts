import { type Static, Type } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { validate, type ValidationIssue } from '../../common/src/validate.ts';
import { AgentSpec, Email, InfraProviderName, ModelTier, Name, PlaneCosts } from './model.ts';

/** planes.yaml, as in the requirements doc (apiVersion openclaw.dev/v1alpha1, kind AgentsPlane). */
export const PlanesFileSchema = Type.Object(
  {
    apiVersion: Type.Literal('openclaw.dev/v1alpha1'),
    kind: Type.Literal('AgentsPlane'),
    metadata: Type.Object({ name: Name }, { additionalProperties: false }),
    spec: Type.Object(
      {
        identity: Type.Optional(
          Type.Object({ provider: Type.String(), domain: Type.Optional(Type.String()), adminEmail: Type.Optional(Email) }, { additionalProperties: false }),
        ),
        infrastructure: Type.Object(
          {
            provider: InfraProviderName,
            project: Type.Optional(Type.String()),
            region: Type.Optional(Type.String()),
            defaults: Type.Optional(
              Type.Object(
                { machineType: Type.Optional(Type.String()), diskSizeGb: Type.Optional(Type.Integer({ minimum: 10 })), image: Type.Optional(Type.String()) },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        secrets: Type.Optional(Type.Object({ provider: Type.String(), project: Type.Optional(Type.String()) }, { additionalProperties: false })),
        networking: Type.Optional(
          Type.Object(
            {
              provider: Type.String(),
              egressPolicy: Type.Optional(
                Type.Object(
                  { default: Type.Union([Type.Literal('restricted'), Type.Literal('open')]), allowedDomains: Type.Optional(Type.Array(Type.String())) },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        agents: Type.Array(
          Type.Object(
            {
              name: Name,
              owner: Email,
              machineType: Type.Optional(Type.String()),
              diskSizeGb: Type.Optional(Type.Integer({ minimum: 10 })),
              modelTier: Type.Optional(ModelTier),
              budgetCap: Type.Optional(Type.Integer({ minimum: 0 })),
              group: Type.Optional(AgentSpec.properties.group),
              tools: Type.Optional(AgentSpec.properties.tools),
              channels: Type.Optional(AgentSpec.properties.channels),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        /** Prices over the hub's and what a spent budget does (pause | alert-only). */
        costs: Type.Optional(PlaneCosts),
        policies: Type.Optional(
          Type.Array(
            Type.Object(
              {
                match: Type.Object({ group: Type.Optional(Type.String()), ou: Type.Optional(Type.String()) }, { additionalProperties: false }),
                spec: Type.Object(
                  {
                    tools: Type.Optional(AgentSpec.properties.tools),
                    channels: Type.Optional(AgentSpec.properties.channels),
                    modelTier: Type.Optional(ModelTier),
                    budgetCap: Type.Optional(Type.Integer({ minimum: 0 })),
                  },
                  { additionalProperties: false },
                ),
              },
              { additionalProperties: false },
            ),
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PlanesFile = Static<typeof PlanesFileSchema>;

/** "spec.agents[2].name" -> ["spec", "agents", 2, "name"] */
function pathSegments(path: string): Array<string | number> {
  return path
    .split(/\.|\[(\d+)\]/)
    .filter((s) => s !== undefined && s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * Parses and validates planes.yaml. An error names the file, the YAML path and
 * the line: "planes.yaml:14: spec.agents[1].owner must match format ...".
 */
export function parsePlanesFile(text: string, file: string): PlanesFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e?.linePos?.[0]?.line ?? 0;
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}:${line}: ${e?.message ?? 'invalid YAML'}`, { where: `${file}:${line}` });
  }
  const value: unknown = doc.toJS();
  if (!isMap(doc.contents)) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: expected a mapping at the top level`, { where: file });
  try {
    return validate(PlanesFileSchema, value, file);
  } catch (err) {
    const pe = PlaneError.from(err);
    const issues = (pe.cause as ValidationIssue[] | undefined) ?? [];
    const first = issues[0];
    if (!first) throw pe;
    // Point at the deepest node of the path that exists in the document.
    const segs = pathSegments(first.path);
    let line = 0;
    for (let n = segs.length; n >= 0 && line === 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
      const range = isScalar(node) || isMap(node) ? node.range : (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) line = lines.linePos(range[0]).line;
    }
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}:${line}: ${first.path} ${first.message}`, { where: `${file}:${line}`, cause: issues });
  }
}

export function loadPlanesFile(file: string): PlanesFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: file, cause });
  }
  return parsePlanesFile(text, file);
}
