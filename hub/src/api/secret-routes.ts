import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { HubContext } from '../hub-context.ts';
import type { SecretRotation } from '../secrets/secret-rotation.ts';
import { actorOf } from './auth.ts';
import { CommandBody, ErrorResponses } from './schemas.ts';

const errors = ErrorResponses;

const AgentParams = Type.Object({ planeId: Type.String(), agentId: Type.String() });
const SecretParams = Type.Object({ planeId: Type.String(), agentId: Type.String(), name: Type.String() });
const PlaneParams = Type.Object({ planeId: Type.String() });

export const SecretInfoBody = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  kind: Type.Union([Type.Literal('generated'), Type.Literal('external')]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
// No maxLength here on purpose: the service's check names the size and the limit.
export const SetSecretBody = Type.Object(
  { value: Type.String(), encoding: Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')])) },
  { additionalProperties: false },
);
const Rotation = Type.Object({ agent: Type.String(), command: CommandBody });
const RotateBody = Type.Object({ agents: Type.Optional(Type.Array(Type.String(), { maxItems: 10_000 })) }, { additionalProperties: false });

/**
 * Secrets over REST: admins set, list, delete and rotate; nothing returns a
 * value, and there is no route that could.
 */
export function registerSecretRoutes(app: FastifyInstance, ctx: HubContext, rotation: SecretRotation): void {
  app.get('/v1/planes/:planeId/agents/:agentId/secrets', {
    config: { role: 'viewer' },
    schema: { summary: "Names, versions and times of the agent's secrets (never values)", tags: ['secrets'], params: AgentParams, response: { 200: Type.Object({ secrets: Type.Array(SecretInfoBody), provider: Type.String() }), ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return { secrets: await ctx.secrets.list(planeId, agentId), provider: ctx.secrets.providerName };
    },
  });

  app.put('/v1/planes/:planeId/agents/:agentId/secrets/:name', {
    config: { role: 'admin' },
    schema: {
      summary: 'Set a secret (a new version); the value is write-only',
      tags: ['secrets'],
      params: SecretParams,
      body: SetSecretBody,
      response: { 200: Type.Object({ secret: SecretInfoBody }), ...errors },
    },
    handler: async (req) => {
      const { planeId, agentId, name } = req.params as Static<typeof SecretParams>;
      const b = req.body as Static<typeof SetSecretBody>;
      if (b.encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(b.value)) throw new PlaneError(ErrorCode.InvalidArgument, 'value is not valid base64', { where: 'value' });
      const value = Buffer.from(b.value, b.encoding === 'base64' ? 'base64' : 'utf8');
      return { secret: await ctx.secrets.set(actorOf(req), planeId, agentId, name, value) };
    },
  });

  app.delete('/v1/planes/:planeId/agents/:agentId/secrets/:name', {
    config: { role: 'admin' },
    schema: { summary: 'Delete a secret and all its versions', tags: ['secrets'], params: SecretParams, response: { 200: Type.Object({ deleted: Type.String() }), ...errors } },
    handler: async (req) => {
      const { planeId, agentId, name } = req.params as Static<typeof SecretParams>;
      await ctx.secrets.delete(actorOf(req), planeId, agentId, name);
      return { deleted: name };
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/rotate-secrets', {
    config: { role: 'admin' },
    schema: { summary: "Rotate the agent's generated secrets and reload the external ones", tags: ['secrets'], params: AgentParams, response: { 202: Type.Object({ rotations: Type.Array(Rotation) }), ...errors } },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return reply.code(202).send({ rotations: rotation.rotate(planeId, agentId, actorOf(req)).map((command) => ({ agent: agentId, command })) });
    },
  });

  app.post('/v1/planes/:planeId/rotate-secrets', {
    config: { role: 'admin' },
    schema: { summary: 'Rotate secrets of every agent in the plane (or the listed ones)', tags: ['secrets'], params: PlaneParams, body: RotateBody, response: { 202: Type.Object({ rotations: Type.Array(Rotation) }), ...errors } },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const b = req.body as Static<typeof RotateBody>;
      ctx.planes.get(planeId);
      const commands = b.agents ? b.agents.flatMap((a) => rotation.rotate(planeId, a, actorOf(req))) : rotation.rotate(planeId, undefined, actorOf(req));
      const names = new Map(ctx.agents.list(planeId).map((a) => [a.id, a.name]));
      return reply.code(202).send({ rotations: commands.map((command) => ({ agent: names.get(command.agentId) ?? command.agentId, command })) });
    },
  });
}
