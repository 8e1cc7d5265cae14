import type { FastifyReply } from 'fastify';
import type { LogChunk__Output } from '../../../proto/index.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import { type CommandRecord, TERMINAL_COMMAND_STATES } from '../model.ts';

/**
 * Relays the LogChunks answering one "logs" command to an HTTP response as
 * NDJSON. Ends on the agent's eof, the command finishing, the agent going away
 * or the hub closing; a client that hangs up on a follow stops it at the agent.
 */
export function streamLogs(
  ctx: HubContext,
  fleet: Fleet,
  reply: FastifyReply,
  o: { planeId: string; agentName: string; agentId: string; commandId: string; follow: boolean },
): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  let done = false;
  const finish = (trailer?: { error: string }): void => {
    if (done) return;
    done = true;
    ctx.events.off('logChunk', onChunk);
    ctx.events.off('command', onCommand);
    ctx.events.off('disconnected', onGone);
    ctx.closing.removeEventListener('abort', onClosing);
    if (trailer) raw.write(`${JSON.stringify(trailer)}\n`);
    raw.end();
  };
  const onChunk = (agentId: string, chunk: LogChunk__Output): void => {
    if (agentId !== o.agentId || chunk.commandId !== o.commandId) return;
    for (const l of chunk.lines) raw.write(`${JSON.stringify({ atMs: l.atMs, source: l.source, text: l.text })}\n`);
    if (chunk.eof) finish();
  };
  const onCommand = (c: CommandRecord): void => {
    if (c.id === o.commandId && TERMINAL_COMMAND_STATES.has(c.state) && c.state !== 'succeeded') finish({ error: `logs command ${c.state}: ${c.errorMessage ?? ''}` });
  };
  const onGone = (agentId: string): void => {
    if (agentId === o.agentId) finish({ error: 'agent disconnected' });
  };
  const onClosing = (): void => finish({ error: 'hub shutting down' });
  ctx.events.on('logChunk', onChunk);
  ctx.events.on('command', onCommand);
  ctx.events.on('disconnected', onGone);
  ctx.closing.addEventListener('abort', onClosing, { once: true });
  raw.on('close', () => {
    if (done) return;
    finish();
    if (o.follow) fleet.sendCommand(o.planeId, o.agentName, 'logs-stop', { commandId: o.commandId }, 'hub');
  });
}
