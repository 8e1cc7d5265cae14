import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { formatRecord, type LogRing } from '../../../common/src/log-ring.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';

export interface OperatorHandlers {
  status: () => unknown;
  doctor: () => Promise<unknown>;
  ring: LogRing;
}

/**
 * The operator's view of agentd on the VM: HTTP over a Unix socket that only
 * the agentd user (and root) can open (mode 0600), so no network port and no
 * token. GET /status, GET /doctor, GET /logs?lines=N[&follow=1] (NDJSON).
 */
export class OperatorServer {
  readonly path: string;
  readonly #h: OperatorHandlers;
  readonly #log: Logger;
  #server: Server | undefined;

  constructor(path: string, handlers: OperatorHandlers, log: Logger) {
    this.path = path;
    this.#h = handlers;
    this.#log = log.child('operator');
  }

  async start(): Promise<void> {
    // A socket left by a crashed agentd would make listen() fail with EADDRINUSE.
    if (existsSync(this.path)) rmSync(this.path, { force: true });
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://agentd');
      const json = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
      };
      if (req.method !== 'GET') return json(405, { error: 'only GET' });
      switch (url.pathname) {
        case '/status':
          return json(200, this.#h.status());
        case '/doctor':
          this.#h.doctor().then(
            (r) => json(200, r),
            (err: unknown) => json(500, { error: PlaneError.from(err).message }),
          );
          return undefined;
        case '/logs':
          return this.#logs(res, Number(url.searchParams.get('lines') ?? '200'), url.searchParams.get('follow') === '1');
        default:
          return json(404, { error: `no ${url.pathname}; try /status, /doctor, /logs` });
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.#server = server;
    this.#log.info('operator socket listening', { path: this.path });
  }

  #logs(res: ServerResponse, lines: number, follow: boolean): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const write = (r: Parameters<typeof formatRecord>[0]): boolean => res.write(`${JSON.stringify(formatRecord(r))}\n`);
    for (const r of this.#h.ring.tail(Number.isFinite(lines) ? Math.max(0, Math.min(lines, 5000)) : 200)) write(r);
    if (!follow) {
      res.end();
      return;
    }
    const unsubscribe = this.#h.ring.subscribe((r) => void write(r));
    res.on('close', unsubscribe);
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}
