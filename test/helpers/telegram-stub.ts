import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A Telegram Bot API stand-in on loopback, for a real OpenClaw gateway whose
 * telegram channel has `apiRoot` pointed here. Records the token of every call
 * (the `/bot<TOKEN>/<method>` path), answers getMe as a bot, getUpdates with
 * no updates after a short wait (long polling), and anything else with ok.
 */
export class TelegramStub {
  readonly calls: { token: string; method: string }[] = [];
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const m = /^\/bot([^/]+)\/(\w+)/.exec(req.url ?? '');
        res.setHeader('content-type', 'application/json');
        if (!m) {
          res.statusCode = 404;
          res.end(JSON.stringify({ ok: false, error_code: 404, description: 'Not Found' }));
          return;
        }
        const [, token = '', method = ''] = m;
        this.calls.push({ token: decodeURIComponent(token), method });
        if (method === 'getMe') {
          res.end(JSON.stringify({ ok: true, result: { id: 4242, is_bot: true, first_name: 'Agent', username: 'agents_plane_test_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } }));
        } else if (method === 'getUpdates') {
          setTimeout(() => res.end(JSON.stringify({ ok: true, result: [] })), 500);
        } else {
          res.end(JSON.stringify({ ok: true, result: true }));
        }
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
