/**
 * The console's only way to the hub: same-origin fetch with the session cookie.
 * Changes carry the CSRF header; no token is ever held here (the cookie is HttpOnly).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly where: string | undefined;
  constructor(status: number, code: string, message: string, where?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.where = where;
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();
/** Called when the hub answers 401: the session ended (expired, signed out elsewhere, token revoked). */
export function onSignedOut(fn: Listener): () => void {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-planes-csrf'] = '1';
  // The API wants a JSON object on every POST, {} when there is nothing to say.
  const payload = body ?? (method === 'POST' ? {} : undefined);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}) });
  const text = await res.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string; where?: string } } | undefined)?.error;
    if (res.status === 401 && !path.endsWith('/v1/console/session')) for (const fn of signedOutListeners) fn();
    throw new ApiError(res.status, e?.code ?? 'unknown', e?.message ?? `HTTP ${res.status}`, e?.where);
  }
  return data as T;
}

export const enc = encodeURIComponent;
export const agentPath = (plane: string, name: string): string => `/v1/planes/${enc(plane)}/agents/${enc(name)}`;

/** A file the browser saves, made here from data already on the page: nothing is sent anywhere. */
export function download(name: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** One CSV field: quoted when it must be, with quotes doubled; a leading = + - @ is defused for spreadsheets. */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (typeof v === 'string' && /^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return `${[header, ...rows].map((r) => r.map(csvField).join(',')).join('\n')}\n`;
}
