import type { FastifyReply, FastifyRequest } from 'fastify';
import { constants as zlib, createGzip, type Gzip } from 'node:zlib';

/**
 * A Server-Sent Events response. Gzipped when the browser accepts it, flushed
 * after every event so nothing waits in the compressor: the first snapshot of
 * 1,000 agents is mostly repeated keys and shrinks about tenfold.
 */
export class SseStream {
  readonly #raw: FastifyReply['raw'];
  readonly #gzip: Gzip | undefined;
  #closed = false;
  readonly #onClose: Array<() => void> = [];

  constructor(request: FastifyRequest, reply: FastifyReply) {
    reply.hijack();
    this.#raw = reply.raw;
    const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    this.#raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
      // One stream, one connection: when it ends, the socket goes too, so a closing hub does not wait out keep-alive.
      connection: 'close',
      ...(gzip ? { 'content-encoding': 'gzip', vary: 'accept-encoding' } : {}),
    });
    if (gzip) {
      this.#gzip = createGzip({ level: 6, flush: zlib.Z_SYNC_FLUSH });
      this.#gzip.pipe(this.#raw);
    }
    // The browser went away: drop the compressor, nothing more can be written.
    this.#raw.on('close', () => this.#finish(() => this.#gzip?.destroy()));
    this.#raw.on('error', () => this.#finish(() => this.#gzip?.destroy()));
    this.#gzip?.on('error', () => this.#finish(() => this.#raw.destroy()));
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  send(event: string, data: unknown): void {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line: keeps proxies from timing the stream out. */
  ping(): void {
    this.#write(': ping\n\n');
  }

  #write(text: string): void {
    if (this.#closed) return;
    if (this.#gzip) {
      this.#gzip.write(text);
      this.#gzip.flush(zlib.Z_SYNC_FLUSH);
    } else this.#raw.write(text);
  }

  /** Ends the stream from the hub's side (the hub is closing). */
  close(): void {
    this.#finish(() => (this.#gzip ? this.#gzip.end() : this.#raw.end()));
  }

  #finish(then: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#onClose.splice(0)) fn();
    then();
  }
}
