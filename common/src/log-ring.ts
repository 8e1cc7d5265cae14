import type { LogRecord } from './logger.ts';

/**
 * The last N log records in memory, for `agentd logs` and the hub's logs
 * command, with subscribers for --follow. Records are already redacted by the
 * logger before they get here.
 */
export class LogRing {
  readonly #capacity: number;
  readonly #buf: LogRecord[] = [];
  readonly #subs = new Set<(r: LogRecord) => void>();

  constructor(capacity = 2000) {
    this.#capacity = capacity;
  }

  push(record: LogRecord): void {
    this.#buf.push(record);
    if (this.#buf.length > this.#capacity) this.#buf.splice(0, this.#buf.length - this.#capacity);
    for (const s of this.#subs) s(record);
  }

  tail(n: number): LogRecord[] {
    return n <= 0 ? [] : this.#buf.slice(-n);
  }

  /** Calls `fn` for every new record until the returned function is called. */
  subscribe(fn: (r: LogRecord) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }
}

/** One human line for a record: time, component, message, and the gateway's own line when it is one. */
export function formatRecord(r: LogRecord): { atMs: number; source: 'agentd' | 'gateway'; text: string } {
  const atMs = Date.parse(r.time);
  if (r.msg === 'gateway output' && typeof r['line'] === 'string') return { atMs, source: 'gateway', text: r['line'] };
  const { time: _t, level, component, msg, ...rest } = r;
  const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return { atMs, source: 'agentd', text: `${level.toUpperCase()} ${component}: ${msg}${extra}` };
}
