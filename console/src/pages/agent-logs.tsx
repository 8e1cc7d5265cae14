import { useEffect, useRef, useState } from 'preact/hooks';
import { agentPath } from '../api.ts';
import { Section, time } from '../components.tsx';

interface Line {
  atMs?: number;
  source?: string;
  text?: string;
  error?: string;
}

const KEEP = 500;

/**
 * The agent's log tail through the hub's existing relay (GET .../logs, NDJSON):
 * the last lines, then new ones while "Follow" is on. Leaving the page ends the
 * request, and the hub stops the agent's follow.
 */
export function AgentLogs({ plane, name }: { plane: string; name: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [follow, setFollow] = useState(false);
  const [state, setState] = useState<string>('');
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ac = new AbortController();
    setLines([]);
    setState(follow ? 'following' : 'loading');
    const read = async (): Promise<void> => {
      const res = await fetch(`${agentPath(plane, name)}/logs?lines=100${follow ? '&follow=true' : ''}`, { signal: ac.signal, credentials: 'same-origin' });
      if (!res.ok || !res.body) {
        const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
        setState(e.error?.message ?? `HTTP ${res.status}`);
        return;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += value;
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        const got = parts.filter(Boolean).map((l) => JSON.parse(l) as Line);
        if (got.length) setLines((old) => [...old, ...got].slice(-KEEP));
      }
      setState(follow ? 'stream ended' : '');
    };
    read().catch((e: unknown) => {
      if (!ac.signal.aborted) setState(e instanceof Error ? e.message : String(e));
    });
    return () => ac.abort();
  }, [plane, name, follow]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <Section title="Logs">
      <div class="row">
        <button type="button" aria-pressed={follow} onClick={() => setFollow(!follow)}>
          {follow ? 'Stop following' : 'Follow'}
        </button>
        <span class="muted" role="status">
          {state}
        </span>
      </div>
      <pre class="logs" ref={box} tabIndex={0} aria-label="Log lines">
        {lines.map((l) => (l.error ? `error: ${l.error}\n` : `${time(l.atMs ?? null)} ${l.source ?? ''} ${l.text ?? ''}\n`))}
      </pre>
    </Section>
  );
}
