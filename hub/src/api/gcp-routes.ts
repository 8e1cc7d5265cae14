import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { HubContext } from '../hub-context.ts';
import { gceInstanceName } from '../infra/gcp/gcp-names.ts';
import { gcpPlaneRef } from '../infra/gcp/gcp-hub.ts';
import { GcpProvider } from '../infra/gcp/gcp-provider.ts';
import { GcpZone } from '../model.ts';
import { AgentParams, ErrorResponses } from './schemas.ts';

export const PreflightBody = Type.Object(
  {
    project: Type.String({ minLength: 1, maxLength: 64 }),
    region: Type.String({ minLength: 1, maxLength: 64 }),
    zone: Type.Optional(GcpZone),
    image: Type.Optional(Type.String({ maxLength: 512 })),
    agents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'how many agents the quotas must hold' })),
    machineType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    identity: Type.Optional(Type.String({ maxLength: 254, description: "the hub's service account e-mail, when its credentials do not say" })),
  },
  { additionalProperties: false },
);

const Check = Type.Object({ name: Type.String(), status: Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail')]), detail: Type.String(), fix: Type.Optional(Type.String()) });
export const PreflightReportBody = Type.Object({ ok: Type.Boolean(), project: Type.String(), region: Type.String(), zone: Type.String(), checks: Type.Array(Check) });
export const SshBody = Type.Object({
  owner: Type.String(),
  project: Type.String(),
  zone: Type.String(),
  instance: Type.String(),
  command: Type.Array(Type.String(), { description: "the owner's gcloud command, as argv" }),
});

function gcpProvider(ctx: HubContext): GcpProvider {
  const p = ctx.infra.has('gcp') ? ctx.infra.get('gcp') : undefined;
  if (!(p instanceof GcpProvider)) throw new PlaneError(ErrorCode.FailedPrecondition, 'this hub runs without the gcp provider (start it with hub serve --gcp)');
  return p;
}

/** Google Cloud specifics: preflight for a project, and an agent owner's SSH command through IAP. */
export function registerGcpRoutes(app: FastifyInstance, ctx: HubContext): void {
  app.post('/v1/gcp/preflight', {
    config: { role: 'admin' },
    schema: { summary: 'What a project lacks for gcp planes (APIs, the hub identity’s roles, the image, quotas), with the gcloud fix', tags: ['gcp'], body: PreflightBody, response: { 200: PreflightReportBody, ...ErrorResponses } },
    handler: async (req) => gcpProvider(ctx).preflight(req.body as Static<typeof PreflightBody>),
  });

  app.get('/v1/planes/:planeId/agents/:agentId/ssh', {
    config: { role: 'viewer' },
    schema: { summary: "The owner's SSH command through IAP (gcp planes); only the owner's IAM bindings let it in", tags: ['gcp'], params: AgentParams, response: { 200: SshBody, ...ErrorResponses } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const plane = ctx.planes.get(planeId);
      const agent = ctx.agents.get(planeId, agentId);
      const ref = gcpPlaneRef(plane);
      if (!ref) throw new PlaneError(ErrorCode.FailedPrecondition, `plane '${planeId}' runs on ${plane.spec.infraProvider}; SSH through IAP is for gcp planes`);
      const instance = gceInstanceName(plane.name, agent.name);
      return {
        owner: agent.owner,
        project: ref.project,
        zone: ref.zone,
        instance,
        command: ['gcloud', 'compute', 'ssh', instance, `--project=${ref.project}`, `--zone=${ref.zone}`, '--tunnel-through-iap'],
      };
    },
  });
}
