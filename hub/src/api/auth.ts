import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { ApiPrincipal, ApiTokens, Role } from '../store/api-tokens.ts';
import { sendError } from './api-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiPrincipal;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; absent means public. */
    role?: Role;
  }
}

/** The actor string recorded in the audit log for a request. */
export function actorOf(request: FastifyRequest): string {
  return request.principal ? `token:${request.principal.name}` : 'anonymous';
}

/** The console's cookie session: a principal, nothing (no session), or why the request is refused (CSRF). */
export type SessionAuth = (request: FastifyRequest) => ApiPrincipal | PlaneError | undefined;

/**
 * Bearer-token auth on every route that declares a role. Viewers may read; only
 * admins may change anything. Without a bearer token, the console's session
 * cookie stands in for it. The token itself is never logged.
 */
export function authHook(tokens: ApiTokens, session?: SessionAuth) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const need = request.routeOptions.config.role;
    if (!need) return;
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    let principal = token ? tokens.authenticate(token) : undefined;
    if (!token && session) {
      const s = session(request);
      if (s instanceof PlaneError) {
        await sendError(reply, s);
        return;
      }
      principal = s;
    }
    if (!principal) {
      await sendError(reply, new PlaneError(ErrorCode.Unauthenticated, 'a valid bearer token is required', { where: 'authorization' }));
      return;
    }
    if (need === 'admin' && principal.role !== 'admin') {
      await sendError(reply, new PlaneError(ErrorCode.PermissionDenied, `this operation needs the admin role; the token '${principal.name}' is a ${principal.role}`));
      return;
    }
    request.principal = principal;
  };
}
