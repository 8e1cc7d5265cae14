import type { FastifyInstance } from 'fastify';

/**
 * The console's Content-Security-Policy: scripts, styles, images and requests
 * from this origin only, no inline script or style, no plugins, no framing.
 * It is sent with every answer of the hub, API included.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Security headers on every response; API answers are never cached (they name agents, owners and spend). */
export function registerSecurityHeaders(app: FastifyInstance, tls: boolean): void {
  app.addHook('onSend', async (request, reply, payload) => {
    void reply.header('content-security-policy', CONSOLE_CSP);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    void reply.header('cross-origin-resource-policy', 'same-origin');
    void reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
    if (tls) void reply.header('strict-transport-security', 'max-age=31536000');
    if (!request.url.startsWith('/console') && !reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });
}
