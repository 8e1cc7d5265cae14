/**
 * Structured JSON logs, one object per line, a child logger per component.
 * Debug output is switched on by category: AGENTPLANE_DEBUG=grpc,commands (or *).
 * Fields whose names look secret-bearing are replaced before anything is written:
 * a secret value must never reach a log line.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface LogRecord extends LogFields {
  time: string;
  level: LogLevel;
  component: string;
  msg: string;
}

export type LogSink = (record: LogRecord) => void;

const SECRET_WORD = /(token|secret|password|credential|authorization|api[-_]?key|private[-_]?key)/i;
// Names that contain a secret word but hold no secret: counts, ids, paths, versions.
const NOT_SECRET = /(tokens|count|version|expires|expiry|path|file|kind|name|id|ids|ttl|ms|at|hash)$/i;
export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_WORD.test(key) && !NOT_SECRET.test(key);
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

function debugCategories(): Set<string> {
  return new Set((process.env['AGENTPLANE_DEBUG'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

export class Logger {
  readonly component: string;
  readonly #sink: LogSink;
  readonly #fields: LogFields;
  readonly #debug: boolean;

  constructor(component: string, options: { sink?: LogSink; fields?: LogFields } = {}) {
    this.component = component;
    this.#sink = options.sink ?? stderrSink;
    this.#fields = options.fields ?? {};
    const cats = debugCategories();
    this.#debug = cats.has('*') || cats.has(component) || component.split('.').some((part) => cats.has(part));
  }

  child(component: string, fields: LogFields = {}): Logger {
    return new Logger(`${this.component}.${component}`, { sink: this.#sink, fields: { ...this.#fields, ...fields } });
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.#debug) this.#write('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.#write('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.#write('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.#write('error', msg, fields);
  }

  #write(level: LogLevel, msg: string, fields?: LogFields): void {
    const extra = redact({ ...this.#fields, ...fields }) as LogFields;
    this.#sink({ time: new Date().toISOString(), level, component: this.component, msg, ...extra });
  }
}

export function stderrSink(record: LogRecord): void {
  process.stderr.write(`${JSON.stringify(record)}\n`);
}

/** A sink that drops everything: for CLIs in --json mode and quiet tests. */
export const silentSink: LogSink = () => undefined;
