import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  immutable: boolean;
}

/** console/dist from the source tree (hub/src/console) or from a build (dist/hub/src/console). */
export function consoleDistDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../../..', '../../../..']) {
    const dir = join(here, up, 'console', 'dist');
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Every built file in memory, compressed once at start: a few hundred KB, served without touching the disk. */
export function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const file of walk(dir)) {
    const rel = relative(dir, file).split(sep).join('/');
    const raw = readFileSync(file);
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const text = /^(text|image\/svg|application\/json)/.test(type) && raw.length > 512;
    out.set(rel, {
      type,
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
      raw,
      ...(text ? { gzip: gzipSync(raw, { level: 9 }), br: brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }) } : {}),
      // Vite names built files by content hash: they never change under the same name.
      immutable: rel.startsWith('assets/'),
    });
  }
  return out;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply.header('content-type', asset.type).header('etag', asset.etag).header('vary', 'accept-encoding');
  void reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  const accept = String(request.headers['accept-encoding'] ?? '');
  if (asset.br && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(asset.br);
  if (asset.gzip && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.raw);
}

/**
 * What the pages keep in their address (the fleet page's filters and sort, the actions page's plane), so a
 * bookmarked view loads. Declared like any route's query: the API's strict input refuses parameters it
 * does not know.
 */
const PageQuery = Type.Object(
  {
    health: Type.Optional(Type.String({ maxLength: 40, description: 'fleet: a count card (green, yellow, red, offline, outdated, budget)' })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'fleet: search text' })),
    plane: Type.Optional(Type.String({ maxLength: 40, description: 'fleet and actions: a plane' })),
    sort: Type.Optional(Type.String({ maxLength: 40, description: 'fleet: the column sorted on' })),
    dir: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  },
  { additionalProperties: false },
);

/**
 * The console's built files under /console/. Any path without a file
 * extension is a page of the single-page app and gets index.html, so links to
 * /console/agents/p/a work when pasted.
 */
export function registerConsoleAssets(app: FastifyInstance, dir: string | undefined): void {
  const assets = dir ? loadAssets(dir) : new Map<string, Asset>();
  app.get('/console', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/', 302));
  app.get('/console/*', { schema: { hide: true, querystring: PageQuery } }, async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const index = assets.get('index.html');
    if (!index) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build:console` in the repository.\n');
    }
    const asset = assets.get(path);
    if (asset) return send(req, reply, asset);
    if (extname(path) === '') return send(req, reply, index);
    return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
  });
}
