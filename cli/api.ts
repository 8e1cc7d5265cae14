/**
 * The REST routes the CLI calls, each with its body, query and answer typed
 * from the hub's own TypeBox schemas. Type-only imports: no hub code loads
 * (.dependency-cruiser.cjs enforces it). test/cli-contract.test.ts checks that
 * every route a verb declares is in the hub's OpenAPI document.
 */
import type { Static } from '@sinclair/typebox';
import type { Heartbeat__Output } from '../proto/gen/agentplane/v1/Heartbeat.ts';
import type * as S from '../hub/src/api/schemas.ts';
import type { ApplyBody, ApplyReportBody, ExportBody, Plan as PlanSchema, PlanBody } from '../hub/src/api/apply-schemas.ts';
import type { PreflightBody, PreflightReportBody, SshBody } from '../hub/src/api/gcp-routes.ts';
import type { ListQuery, RunBody, StartRunBody, UpgradeBody } from '../hub/src/api/run-routes.ts';
import type { SecretInfoBody, SetSecretBody } from '../hub/src/api/secret-routes.ts';

export type Agent = Static<typeof S.AgentBody>;
export type Plane = Static<typeof S.PlaneBody>;
export type Command = Static<typeof S.CommandBody>;
export type Run = Static<typeof RunBody>;
export type RunTarget = Run['targets'][number];
export type Plan = Static<typeof PlanSchema>;
export type ApplyReport = Static<typeof ApplyReportBody>;
export type CostReport = Static<typeof S.CostReportBody>;
export type VerifyReport = Static<typeof S.VerifyBackupReport>;
export type PreflightReport = Static<typeof PreflightReportBody>;
export type ErrorAnswer = Static<typeof S.ErrorBody>;

/**
 * An agent's last heartbeat as the hub relays it: the proto message in its
 * JSON form. The REST schema leaves it open (a record), so this is the one
 * place that says what is in it.
 */
export type Heartbeat = Heartbeat__Output;
export function heartbeatOf(a: Pick<Agent, 'heartbeat'>): Heartbeat | undefined {
  return a.heartbeat?.heartbeat as unknown as Heartbeat | undefined;
}

/** One line of a logs stream (NDJSON): a log line, or an agent's error in a plane-wide stream. */
export interface LogStreamLine {
  agent?: string;
  atMs?: number;
  source?: string;
  text?: string;
  error?: string;
}

interface Route<Response, Body = undefined, Query = undefined> {
  response: Response;
  body: Body;
  query: Query;
}
type NoFields = Record<string, never>;

/** Method and path (OpenAPI's `{param}` form) of every route the CLI calls. */
export interface Routes {
  'GET /v1/planes': Route<{ planes: Plane[] }>;
  'POST /v1/planes': Route<Plane, Static<typeof S.CreatePlaneBody>>;
  'DELETE /v1/planes/{planeId}': Route<{ deleted: string; removedAgents: string[] }, undefined, Static<typeof S.DeletePlaneQuery>>;
  'GET /v1/planes/{planeId}/agents': Route<{ agents: Agent[] }>;
  'POST /v1/planes/{planeId}/agents': Route<Agent, Static<typeof S.ProvisionAgentBody>>;
  'GET /v1/planes/{planeId}/agents/{agentId}': Route<Agent>;
  'PATCH /v1/planes/{planeId}/agents/{agentId}': Route<{ agent: Agent; command: Command | null }, Static<typeof S.UpdateAgentBody>>;
  'DELETE /v1/planes/{planeId}/agents/{agentId}': Route<{ removed: string }>;
  'POST /v1/planes/{planeId}/agents/{agentId}/restart': Route<{ mode: string; command: Command | null }, Static<typeof S.RestartBody>>;
  'POST /v1/planes/{planeId}/agents/{agentId}/reprovision': Route<{ agent: Agent }>;
  'GET /v1/planes/{planeId}/agents/{agentId}/logs': Route<LogStreamLine, undefined, Static<typeof S.LogsQuery>>;
  'GET /v1/planes/{planeId}/logs': Route<LogStreamLine, undefined, Static<typeof S.LogsQuery>>;
  'POST /v1/planes/{planeId}/runs': Route<{ run: Run }, Static<typeof StartRunBody>>;
  'GET /v1/planes/{planeId}/runs': Route<{ runs: Run[] }, undefined, Static<typeof ListQuery>>;
  'GET /v1/planes/{planeId}/runs/{runId}': Route<Run, undefined, Static<typeof S.WaitQuery>>;
  'POST /v1/planes/{planeId}/runs/{runId}/cancel': Route<{ run: Run }, NoFields>;
  'POST /v1/planes/{planeId}/upgrade': Route<{ run: Run }, Static<typeof UpgradeBody>>;
  'POST /v1/planes/{planeId}/heal': Route<{ reset: string[] }, Static<typeof S.HealBody>>;
  'GET /v1/planes/{planeId}/cost-report': Route<CostReport, undefined, Static<typeof S.CostReportQuery>>;
  'POST /v1/planes/{planeId}/agents/{agentId}/backup': Route<{ command: Command }, Static<typeof S.BackupBody>>;
  'GET /v1/planes/{planeId}/agents/{agentId}/snapshots': Route<{ snapshots: Static<typeof S.SnapshotBody>[] }>;
  'POST /v1/planes/{planeId}/agents/{agentId}/restore': Route<{ command: Command }, Static<typeof S.RestoreBody>>;
  'POST /v1/planes/{planeId}/agents/{agentId}/verify-backup': Route<VerifyReport>;
  'POST /v1/planes/{planeId}/agents/{agentId}/clone': Route<{ agent: Agent; snapshot: string; files: number; databases: string[] }, Static<typeof S.CloneAgentBody>>;
  'GET /v1/audit': Route<{ events: Static<typeof S.AuditEventBody>[] }, undefined, Static<typeof S.AuditQuery>>;
  'POST /v1/audit/verify': Route<Static<typeof S.AuditVerifyBody>>;
  'GET /v1/planes/{planeId}/agents/{agentId}/secrets': Route<{ provider: string; secrets: Static<typeof SecretInfoBody>[] }>;
  'PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}': Route<{ secret: Static<typeof SecretInfoBody> }, Static<typeof SetSecretBody>>;
  'DELETE /v1/planes/{planeId}/agents/{agentId}/secrets/{name}': Route<{ deleted: string }>;
  'POST /v1/planes/{planeId}/plan': Route<Plan, Static<typeof PlanBody>>;
  'POST /v1/planes/{planeId}/apply': Route<ApplyReport, Static<typeof ApplyBody>>;
  'GET /v1/planes/{planeId}/export': Route<Static<typeof ExportBody>>;
  'POST /v1/gcp/preflight': Route<PreflightReport, Static<typeof PreflightBody>>;
  'GET /v1/planes/{planeId}/agents/{agentId}/ssh': Route<Static<typeof SshBody>>;
}
export type RouteKey = keyof Routes;

/** The routes that answer NDJSON streams rather than one JSON body. */
export type StreamRoute = 'GET /v1/planes/{planeId}/agents/{agentId}/logs' | 'GET /v1/planes/{planeId}/logs';

type PathOf<K extends string> = K extends `${string} ${infer P}` ? P : never;
type ParamsOf<P extends string> = P extends `${string}{${infer Name}}${infer Rest}` ? Record<Name, string> & ParamsOf<Rest> : unknown;
type Params<K extends RouteKey> = ParamsOf<PathOf<K>>;

/** What a call to route K takes: its path parameters, its query, its body, each only where the route has one. */
export type CallArgs<K extends RouteKey> = (keyof Params<K> extends never ? { params?: undefined } : { params: Params<K> }) &
  (Routes[K]['query'] extends undefined ? { query?: undefined } : { query?: Routes[K]['query'] }) &
  (Routes[K]['body'] extends undefined ? { body?: undefined } : { body: Routes[K]['body'] });
