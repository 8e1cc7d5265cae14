import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from '@sinclair/typebox';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { SessionAuth } from '../api/auth.ts';
import { actorOf } from '../api/auth.ts';
import { ErrorResponses } from '../api/schemas.ts';
import type { HubContext } from '../hub-context.ts';
import type { ConsoleSession, ConsoleSessions } from './console-sessions.ts';

/** The request header every cookie-authenticated change must carry: a page on another site cannot set it without CORS, which the hub never grants. */
export const CSRF_HEADER = 'x-planes-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `__Host-` pins the cookie to this origin over TLS; browsers refuse that prefix without Secure, so plain HTTP on loopback uses the bare name. */
export const cookieName = (secure: boolean): string => (secure ? '__Host-planes_session' : 'planes_session');

function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const isSecure = (request: FastifyRequest): boolean => request.protocol === 'https';

/**
 * Refuses a browser request that could come from another site: changes need
 * the CSRF header, and an Origin or Sec-Fetch-Site that the browser sent must
 * name this origin. SameSite=Strict already keeps the cookie off cross-site
 * requests; this holds even for a browser that ignores SameSite.
 */
export function csrfProblem(request: FastifyRequest): PlaneError | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  if (request.headers[CSRF_HEADER] !== '1') {
    return new PlaneError(ErrorCode.PermissionDenied, `a console request that changes something must carry the ${CSRF_HEADER} header`, { where: CSRF_HEADER });
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `${request.protocol}://${request.headers.host ?? ''}`) {
    return new PlaneError(ErrorCode.PermissionDenied, `request from another origin (${origin.slice(0, 100)}) refused`, { where: 'origin' });
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return new PlaneError(ErrorCode.PermissionDenied, `cross-site request (sec-fetch-site: ${String(site)}) refused`, { where: 'sec-fetch-site' });
  }
  return undefined;
}

/** The auth hook's fallback when no bearer token is given: the session cookie, after the CSRF check. */
export function sessionAuth(sessions: ConsoleSessions): SessionAuth {
  return (request) => {
    const id = readCookie(request, cookieName(isSecure(request)));
    if (!id) return undefined;
    const session = sessions.resolve(id);
    if (!session) return undefined;
    return csrfProblem(request) ?? session.principal;
  };
}

function setCookie(reply: FastifyReply, request: FastifyRequest, value: string, maxAgeSeconds: number): void {
  const secure = isSecure(request);
  const attrs = [`${cookieName(secure)}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`];
  if (secure) attrs.push('Secure');
  void reply.header('set-cookie', attrs.join('; '));
}

const SignInBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512, description: 'an API token (apt1....); it is checked and forgotten, never stored or echoed' }) },
  { additionalProperties: false },
);
export const ConsoleUser = Type.Object({
  name: Type.String({ description: 'the token name (later: the signed-in identity)' }),
  role: Type.Union([Type.Literal('admin'), Type.Literal('viewer')]),
  via: Type.String({ description: 'how the session was signed in: token' }),
  actor: Type.String({ description: 'the actor the audit log records for this session' }),
});
const SignInMethods = Type.Object({
  methods: Type.Array(
    Type.Object({
      kind: Type.String({ description: "'token': POST /v1/console/session with {token}" }),
      label: Type.String(),
      startUrl: Type.Optional(Type.String({ description: 'a redirect-based method (OIDC) starts here' })),
    }),
  ),
});

const userOf = (s: Pick<ConsoleSession, 'principal' | 'via'>): Static<typeof ConsoleUser> => ({
  name: s.principal.name,
  role: s.principal.role,
  via: s.via,
  actor: `token:${s.principal.name}`,
});

/**
 * Sign-in, who-am-I and sign-out. Sign-in methods are listed by the hub so the
 * page offers what is configured: today the token form; an OIDC sign-in adds a
 * method with a start URL and a callback that ends in `sessions.create`.
 */
export function registerSessionRoutes(app: FastifyInstance, ctx: HubContext, sessions: ConsoleSessions, maxAgeMs: number): void {
  const errors = ErrorResponses;

  app.get('/v1/console/sign-in-methods', {
    schema: { summary: 'How one can sign in to the console', tags: ['console'], response: { 200: SignInMethods } },
    handler: async () => ({ methods: [{ kind: 'token', label: 'API token' }] }),
  });

  app.post('/v1/console/session', {
    schema: {
      summary: 'Sign in to the console with an API token: sets an HttpOnly, SameSite=Strict session cookie',
      tags: ['console'],
      body: SignInBody,
      response: { 200: Type.Object({ user: ConsoleUser }), ...errors },
    },
    handler: async (req, reply) => {
      const csrf = csrfProblem(req);
      if (csrf) throw csrf;
      const { token } = req.body as Static<typeof SignInBody>;
      const principal = ctx.apiTokens.authenticate(token.trim());
      if (!principal) {
        ctx.audit.record({ actor: 'anonymous', action: 'console.sign-in', plane: null, agent: null, outcome: 'denied', detail: { via: 'token' } });
        throw new PlaneError(ErrorCode.Unauthenticated, 'that token is not valid (unknown or revoked)', { where: 'body.token' });
      }
      const { id, session } = sessions.create(principal, 'token');
      setCookie(reply, req, id, Math.floor(maxAgeMs / 1000));
      ctx.audit.record({ actor: `token:${principal.name}`, action: 'console.sign-in', plane: null, agent: null, outcome: 'ok', detail: { via: 'token', role: principal.role } });
      return { user: userOf(session) };
    },
  });

  app.get('/v1/console/session', {
    config: { role: 'viewer' },
    schema: { summary: 'Who is signed in', tags: ['console'], response: { 200: Type.Object({ user: ConsoleUser }), ...errors } },
    handler: async (req) => ({ user: userOf({ principal: req.principal as NonNullable<typeof req.principal>, via: 'token' }) }),
  });

  app.delete('/v1/console/session', {
    config: { role: 'viewer' },
    schema: { summary: 'Sign out: ends the session and clears its cookie', tags: ['console'], response: { 200: Type.Object({ signedOut: Type.Boolean() }), ...errors } },
    handler: async (req, reply) => {
      const id = readCookie(req, cookieName(isSecure(req)));
      const signedOut = id ? sessions.revoke(id) : false;
      setCookie(reply, req, '', 0);
      if (signedOut) ctx.audit.record({ actor: actorOf(req), action: 'console.sign-out', plane: null, agent: null, outcome: 'ok' });
      return { signedOut };
    },
  });
}
