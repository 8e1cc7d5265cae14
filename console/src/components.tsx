import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import type { Color } from './types.ts';

/** Health is colour and a word, never colour alone. */
export function HealthBadge({ color, offline }: { color: Color; offline?: boolean }) {
  const word = offline ? `${color}, offline` : color;
  const mark = color === 'green' ? '●' : color === 'yellow' ? '▲' : '■';
  return (
    <span class={`badge badge-${color}`}>
      <span aria-hidden="true">{mark}</span> {word}
    </span>
  );
}

export function ago(ms: number | null, now = Date.now()): string {
  if (ms === null) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export const time = (ms: number | null | undefined): string => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
export const usd = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : `$${n < 10 ? n.toFixed(2) : n.toFixed(0)}`);
export const bytes = (n: number | null | undefined): string => {
  const v = Number(n ?? 0);
  if (!v) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(v) / Math.log(1024)));
  return `${(v / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i] ?? ''}`;
};

/** Re-renders every `ms` so relative times stay true. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads once per change of `deps`, and again on reload(). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!alive) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!alive) return;
        setError(message(e));
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [...deps, n]);
  return { data, error, loading, reload: useCallback(() => setN((x) => x + 1), []) };
}

export const message = (e: unknown): string => (e instanceof ApiError ? `${e.message}${e.where ? ` (${e.where})` : ''}` : e instanceof Error ? e.message : String(e));

export function ErrorBox({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id ?? undefined}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

type Status = { kind: 'idle' } | { kind: 'busy' } | { kind: 'ok'; text: string } | { kind: 'error'; text: string };

/**
 * A button that runs one REST call and shows what happened next to it. With
 * `confirmText`, the action needs that text typed first (destructive actions).
 */
export function Action({
  label,
  run,
  confirmText,
  confirmPrompt,
  danger,
  onDone,
}: {
  label: string;
  run: () => Promise<string>;
  confirmText?: string;
  confirmPrompt?: string;
  danger?: boolean;
  onDone?: () => void;
}) {
  const [status, setStatus] = useState<Status>({ kind: 'idle' });
  const [asking, setAsking] = useState(false);
  const [typed, setTyped] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (asking) input.current?.focus();
  }, [asking]);
  const go = async (): Promise<void> => {
    setAsking(false);
    setTyped('');
    setStatus({ kind: 'busy' });
    try {
      setStatus({ kind: 'ok', text: await run() });
      onDone?.();
    } catch (e) {
      setStatus({ kind: 'error', text: message(e) });
    }
  };
  return (
    <div class="action">
      <button type="button" class={danger ? 'danger' : ''} disabled={status.kind === 'busy'} onClick={() => (confirmText ? setAsking(true) : void go())}>
        {status.kind === 'busy' ? `${label}…` : label}
      </button>
      {asking && confirmText ? (
        <form
          class="confirm"
          onSubmit={(e) => {
            e.preventDefault();
            if (typed === confirmText) void go();
          }}
        >
          <label>
            {confirmPrompt ?? 'Type'} <code>{confirmText}</code> to confirm
            <input ref={input} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} autocomplete="off" spellcheck={false} />
          </label>
          <button type="submit" class="danger" disabled={typed !== confirmText}>
            {label}
          </button>
          <button type="button" onClick={() => setAsking(false)}>
            Cancel
          </button>
        </form>
      ) : null}
      <span class={`status status-${status.kind}`} role="status" aria-live="polite">
        {status.kind === 'ok' || status.kind === 'error' ? status.text : ''}
      </span>
    </div>
  );
}

/** A command's state in words, with its error if it failed. */
export function commandResult(c: { state: string; errorMessage: string | null; output: unknown } | null): string {
  if (!c) return 'done';
  if (c.errorMessage) return `${c.state}: ${c.errorMessage}`;
  return c.state;
}
