import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import { applyPlanesDocument, planPlane } from '../plane-apply.ts';
import { exportPlane } from '../plane-export.ts';
import { ApplyBody, ApplyReportBody, ExportBody, Plan, PlanBody, UpdatePlaneBody, UpdatePlaneResponse } from './apply-schemas.ts';
import { actorOf } from './auth.ts';
import { BODY_LIMITS } from './request-input.ts';
import { ErrorResponses, PlaneParams } from './schemas.ts';

const errors = ErrorResponses;

/**
 * A plane as a document: PATCH its settings, and plan / apply / export it as
 * planes.yaml (the CLI parses the YAML and sends the document as JSON).
 */
export function registerApplyRoutes(app: FastifyInstance, ctx: HubContext, fleet: Fleet): void {
  app.patch('/v1/planes/:planeId', {
    config: { role: 'admin' },
    schema: {
      summary: "Update a plane's settings (infra provider, region, project and secrets provider are fixed)",
      tags: ['planes'],
      params: PlaneParams,
      body: UpdatePlaneBody,
      response: { 200: UpdatePlaneResponse, ...errors },
    },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const r = fleet.updatePlane(planeId, req.body as Static<typeof UpdatePlaneBody>, actorOf(req));
      const names = new Map(ctx.agents.list(planeId).map((a) => [a.id, a.name]));
      return {
        plane: { ...r.plane, agentCount: ctx.agents.count(planeId) },
        reconfigured: r.commands.map((c) => ({ agent: names.get(c.agentId) ?? c.agentId, commandId: c.id, state: c.state })),
      };
    },
  });

  app.post('/v1/planes/:planeId/plan', {
    config: { role: 'admin' },
    bodyLimit: BODY_LIMITS.planesDocument,
    schema: {
      summary: 'What applying a planes.yaml document would do (changes nothing); the plane need not exist yet',
      tags: ['planes'],
      params: PlaneParams,
      body: PlanBody,
      response: { 200: Plan, ...errors },
    },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const b = req.body as Static<typeof PlanBody>;
      return planPlane(ctx, planeId, b.document, b.prune ?? false);
    },
  });

  app.post('/v1/planes/:planeId/apply', {
    config: { role: 'admin' },
    bodyLimit: BODY_LIMITS.planesDocument,
    schema: {
      summary: 'Make the plane what a planes.yaml document says; a result per agent',
      tags: ['planes'],
      params: PlaneParams,
      body: ApplyBody,
      response: { 200: ApplyReportBody, ...errors },
    },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const b = req.body as Static<typeof ApplyBody>;
      return applyPlanesDocument(ctx, fleet, planeId, b.document, {
        prune: b.prune ?? false,
        fingerprint: b.fingerprint,
        waitMs: (b.waitSeconds ?? 60) * 1000,
        actor: actorOf(req),
      });
    },
  });

  app.get('/v1/planes/:planeId/export', {
    config: { role: 'viewer' },
    schema: { summary: 'The plane as a planes.yaml document (applying it gives an empty plan)', tags: ['planes'], params: PlaneParams, response: { 200: ExportBody, ...errors } },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      return { document: exportPlane(ctx.planes.get(planeId), ctx.agents.list(planeId)) };
    },
  });
}
