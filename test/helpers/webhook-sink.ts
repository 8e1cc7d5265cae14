import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP endpoint that records JSON POSTs. `failFirst` answers that
 * many requests with 500 before accepting, to exercise retries.
 */
export class WebhookSink {
  readonly received: unknown[] = [];
  /** Every attempt, failed ones included: its headers and the body exactly as sent. */
  readonly requests: { headers: Record<string, string | string[] | undefined>; body: string; accepted: boolean }[] = [];
  attempts = 0;
  failFirst: number;
  readonly #server: Server;

  constructor(failFirst = 0) {
    this.failFirst = failFirst;
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        this.attempts++;
        if (this.failFirst > 0) {
          this.failFirst--;
          this.requests.push({ headers: req.headers, body, accepted: false });
          res.writeHead(500).end('try again');
          return;
        }
        this.requests.push({ headers: req.headers, body, accepted: true });
        this.received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks/budget-secret-path`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
