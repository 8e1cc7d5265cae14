import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import { clientErrorHandler, errorHandler, frameworkErrorHandler, sendError } from './api-error.ts';
import { authHook } from './auth.ts';
import { registerApplyRoutes } from './apply-routes.ts';
import { HubMetrics } from './hub-metrics.ts';
import { checkRequestInput, MAX_BODY_BYTES, parseJsonBody } from './request-input.ts';
import { registerRoutes } from './routes.ts';
import { registerSecretRoutes } from './secret-routes.ts';
import { registerRunRoutes } from './run-routes.ts';
import { registerGcpRoutes } from './gcp-routes.ts';
import type { CommandRuns } from '../command-runs.ts';
import type { SecretRotation } from '../secrets/secret-rotation.ts';
import { ErrorBody } from './schemas.ts';
import { type ConsoleOptions, consoleSessions, registerConsole } from '../console/console-routes.ts';
import { registerSecurityHeaders } from '../console/security-headers.ts';

export interface ApiRoute {
  method: string;
  url: string;
  role: 'admin' | 'viewer' | undefined;
}

/**
 * The admin REST API (fastify). Route schemas validate requests and are the
 * single source of the OpenAPI document served at /v1/openapi.json.
 */
export async function buildApi(
  ctx: HubContext,
  fleet: Fleet,
  rotation: SecretRotation,
  runs: CommandRuns,
  web: { https?: { key: Buffer; cert: Buffer }; console: ConsoleOptions },
): Promise<{ app: FastifyInstance; routes: ApiRoute[] }> {
  const app = Fastify({
    logger: false,
    ...(web.https ? { https: web.https } : {}),
    bodyLimit: MAX_BODY_BYTES,
    // A client that trickles its request in (headers and body) is cut off with a 408.
    requestTimeout: 60_000,
    // Types exactly as the schemas say: no coercion ({"name": true} is not "true"); query strings are parsed strictly first.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  // JSON only (no text/plain), with a depth limit and finite numbers.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addSchema(ErrorBody);
  const routes: ApiRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url, role: r.config?.role });
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Agents Plane hub API', version: ctx.version, description: 'Admin API of the Agents Plane hub. Bearer tokens: admin or viewer.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  app.setErrorHandler(errorHandler(ctx.log.child('api')));
  app.setNotFoundHandler((req, reply) => sendError(reply, new PlaneError(ErrorCode.NotFound, `no route ${req.method} ${req.url.split('?')[0] ?? ''}`)));
  // The console signs in once and then rides on an HttpOnly cookie instead of a bearer token.
  const session = consoleSessions(ctx);
  app.addHook('onRequest', authHook(ctx.apiTokens, session.auth));
  registerSecurityHeaders(app, web.https !== undefined);
  app.addHook('preValidation', checkRequestInput);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true, version: ctx.version }));
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Prometheus text format; a viewer token, like every read (Prometheus sends it with authorization.credentials_file).
  const metrics = new HubMetrics(ctx, fleet);
  app.get('/metrics', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Prometheus metrics (text exposition format 0.0.4): agents by health, heartbeat age, commands, sync lag, cost',
      tags: ['metrics'],
      response: { 200: { description: 'text/plain; version=0.0.4', type: 'string' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } },
    },
  }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  registerRoutes(app, ctx, fleet, runs);
  registerSecretRoutes(app, ctx, rotation);
  registerApplyRoutes(app, ctx, fleet);
  registerRunRoutes(app, ctx, runs);
  registerGcpRoutes(app, ctx);
  registerConsole(app, ctx, fleet, runs, session.sessions, web.console);
  await app.ready();
  return { app, routes };
}
