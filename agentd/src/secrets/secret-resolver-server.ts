import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../../common/src/logger.ts';

/** OpenClaw's exec SecretRef id grammar; anything else is refused before a lookup. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$/;
const MAX_REQUEST_BYTES = 64 * 1024;

export interface ResolverRequest {
  protocolVersion: number;
  provider: string;
  ids: string[];
}

/**
 * Serves OpenClaw's exec SecretRef resolver (bin/agentd-secret-resolver.js) over
 * a Unix socket only agentd's user can open (0600 in a 0700 directory). One
 * request per connection: the exec protocol's JSON in, its JSON answer out.
 * Values come from memory; nothing is written to disk.
 */
export class SecretResolverServer {
  readonly path: string;
  readonly #lookup: (name: string) => string | undefined;
  readonly #log: Logger;
  #server: Server | undefined;
  #served = 0;

  constructor(path: string, lookup: (name: string) => string | undefined, log: Logger) {
    this.path = path;
    this.#lookup = lookup;
    this.#log = log.child('secret-resolver');
  }

  /** How many resolver requests were answered (status output). */
  get served(): number {
    return this.#served;
  }

  async start(): Promise<void> {
    if (existsSync(this.path)) rmSync(this.path, { force: true });
    const server = createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.#server = server;
  }

  #serve(socket: Socket): void {
    let buf = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        socket.end(`${JSON.stringify({ protocolVersion: 1, values: {}, errors: {}, error: 'request too large' })}\n`);
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      socket.end(`${JSON.stringify(this.answer(buf.slice(0, nl)))}\n`);
    });
  }

  /** The exec protocol's answer for one request line. */
  answer(line: string): { protocolVersion: 1; values: Record<string, string>; errors: Record<string, { code: string }> } {
    const values: Record<string, string> = {};
    const errors: Record<string, { code: string }> = {};
    let req: ResolverRequest;
    try {
      req = JSON.parse(line) as ResolverRequest;
    } catch {
      this.#log.warn('resolver request is not JSON');
      return { protocolVersion: 1, values, errors };
    }
    const ids = Array.isArray(req.ids) ? req.ids.filter((x): x is string => typeof x === 'string').slice(0, 256) : [];
    for (const id of ids) {
      const v = ID_RE.test(id) ? this.#lookup(id) : undefined;
      if (v === undefined) errors[id] = { code: 'NOT_FOUND' };
      else values[id] = v;
    }
    this.#served++;
    this.#log.info('resolved secrets for the gateway', { provider: req.provider, found: Object.keys(values), missing: Object.keys(errors) });
    return { protocolVersion: 1, values, errors };
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}
