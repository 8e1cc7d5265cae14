import type { FastifyReply } from 'fastify';
import type { LogChunk__Output } from '../../../proto/index.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import { type CommandRecord, TERMINAL_COMMAND_STATES } from '../model.ts';

/** One agent whose "logs" command answers into the stream. */
export interface LogTarget {
  agentName: string;
  agentId: string;
  commandId: string;
}

interface LogLine {
  agent?: string;
  atMs: number;
  source: string;
  text: string;
}

/** Lines held back to sort a plane's backlog by time; past this they are written as they come. */
const MAX_SORTED_LINES = 200_000;

/**
 * Relays the LogChunks answering "logs" commands to an HTTP response as NDJSON.
 *
 * One agent (`tagged` false): lines are `{atMs, source, text}`, and a failure
 * ends the stream with an `{error}` trailer, as before plane-wide logs existed.
 *
 * A plane (`tagged` true): every line carries `agent`; an agent that fails or
 * goes away gives one `{agent, error}` line and the others go on; the stream
 * ends when every agent is done. Without follow the backlog is merged by time
 * before it is written, so the plane reads as one timeline.
 *
 * Each agent ends on its eof, its command finishing, it going away or the hub
 * closing; a client that hangs up on a follow stops every agent's follow.
 */
export function streamLogs(
  ctx: HubContext,
  fleet: Fleet,
  reply: FastifyReply,
  o: { planeId: string; follow: boolean; tagged: boolean; targets: LogTarget[]; failed?: Array<{ agent: string; error: string }> },
): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const open = new Map(o.targets.map((t) => [t.agentId, t]));
  const sortBacklog = o.tagged && !o.follow;
  let held: LogLine[] = [];
  let closed = false;
  let deadline: NodeJS.Timeout | undefined;
  const write = (v: object): void => {
    if (!closed) raw.write(`${JSON.stringify(v)}\n`);
  };
  for (const f of o.failed ?? []) write(f);

  const end = (): void => {
    if (closed) return;
    clearTimeout(deadline);
    ctx.events.off('logChunk', onChunk);
    ctx.events.off('command', onCommand);
    ctx.events.off('disconnected', onGone);
    ctx.closing.removeEventListener('abort', onClosing);
    if (sortBacklog) for (const l of held.sort((a, b) => a.atMs - b.atMs)) write(l);
    held = [];
    closed = true;
    raw.end();
  };
  /** One agent is done; `error` says why when it did not end on its own eof. */
  const done = (agentId: string, error?: string): void => {
    const t = open.get(agentId);
    if (!t) return;
    open.delete(agentId);
    if (error) write(o.tagged ? { agent: t.agentName, error } : { error });
    if (open.size === 0 || (!o.tagged && error)) end();
  };
  const onChunk = (agentId: string, chunk: LogChunk__Output): void => {
    const t = open.get(agentId);
    if (!t || chunk.commandId !== t.commandId) return;
    for (const l of chunk.lines) {
      const line: LogLine = { ...(o.tagged ? { agent: t.agentName } : {}), atMs: l.atMs, source: l.source, text: l.text };
      if (sortBacklog && held.length < MAX_SORTED_LINES) held.push(line);
      else write(line);
    }
    if (chunk.eof) done(agentId);
  };
  const onCommand = (c: CommandRecord): void => {
    const t = open.get(c.agentId);
    if (t && c.id === t.commandId && TERMINAL_COMMAND_STATES.has(c.state) && c.state !== 'succeeded') done(c.agentId, `logs command ${c.state}: ${c.errorMessage ?? ''}`);
  };
  const onGone = (agentId: string): void => done(agentId, 'agent disconnected');
  const onClosing = (): void => {
    for (const id of [...open.keys()]) done(id, 'hub shutting down');
    end();
  };
  ctx.events.on('logChunk', onChunk);
  ctx.events.on('command', onCommand);
  ctx.events.on('disconnected', onGone);
  ctx.closing.addEventListener('abort', onClosing, { once: true });
  // One wedged agent does not hold a tail (or a plane's tail) open: it is cut off with an error line.
  if (!o.follow) {
    deadline = setTimeout(() => {
      for (const id of [...open.keys()]) done(id, `no answer within ${ctx.logsTailDeadlineMs / 1000} s`);
    }, ctx.logsTailDeadlineMs);
  }
  if (open.size === 0) end();
  raw.on('close', () => {
    if (closed) return;
    const following = [...open.values()];
    open.clear();
    end();
    if (o.follow) for (const t of following) fleet.sendCommand(o.planeId, t.agentName, 'logs-stop', { commandId: t.commandId }, 'hub');
  });
}
