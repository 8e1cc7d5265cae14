import { formatRecord, type LogRing } from '../../../common/src/log-ring.ts';
import type { LogRecord } from '../../../common/src/logger.ts';
import type { AgentMessage } from '../../../proto/index.ts';
import type { CommandSpec } from './command-runner.ts';

const MAX_TAIL = 5000;
const MAX_FOLLOW_S = 3600;
const FLUSH_MS = 250;

function intArg(v: unknown, fallback: number, max: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : fallback;
}

/**
 * `logs` sends the last N lines (agentd's records and the gateway's output) as
 * LogChunk messages tagged with the command id, then, with follow, new lines
 * every 250 ms until `logs-stop`, the time limit, or agentd stopping. Both run
 * beside the command queue: reading logs must not wait behind a restart.
 */
export function logsCommands(ring: LogRing, send: (m: AgentMessage) => boolean): Map<string, CommandSpec> {
  const streams = new Map<string, AbortController>();
  const chunk = (commandId: string, records: LogRecord[], eof: boolean): void => {
    send({ logChunk: { commandId, eof, lines: records.map(formatRecord).map((l) => ({ atMs: l.atMs, source: l.source, text: l.text })) } });
  };
  return new Map<string, CommandSpec>([
    [
      'logs',
      {
        concurrent: true,
        timeoutMs: (MAX_FOLLOW_S + 30) * 1000,
        run: async (args, { commandId, signal }) => {
          const lines = intArg(args['lines'], 200, MAX_TAIL);
          const tail = ring.tail(lines);
          if (args['follow'] !== true) {
            chunk(commandId, tail, true);
            return { lines: tail.length, followed: false };
          }
          chunk(commandId, tail, false);
          const stop = new AbortController();
          streams.set(commandId, stop);
          let pending: LogRecord[] = [];
          let sent = tail.length;
          const unsubscribe = ring.subscribe((r) => pending.push(r));
          const flush = (eof: boolean): void => {
            if (pending.length === 0 && !eof) return;
            sent += pending.length;
            chunk(commandId, pending, eof);
            pending = [];
          };
          const timer = setInterval(() => flush(false), FLUSH_MS);
          try {
            await new Promise<void>((resolve) => {
              const limit = setTimeout(resolve, intArg(args['maxSeconds'], 600, MAX_FOLLOW_S) * 1000);
              const done = (): void => {
                clearTimeout(limit);
                resolve();
              };
              signal.addEventListener('abort', done, { once: true });
              stop.signal.addEventListener('abort', done, { once: true });
            });
          } finally {
            clearInterval(timer);
            unsubscribe();
            streams.delete(commandId);
            flush(true);
          }
          return { lines: sent, followed: true };
        },
      },
    ],
    [
      'logs-stop',
      {
        concurrent: true,
        run: async (args) => {
          const id = typeof args['commandId'] === 'string' ? args['commandId'] : '';
          const s = streams.get(id);
          s?.abort();
          return { stopped: Boolean(s) };
        },
      },
    ],
  ]);
}
