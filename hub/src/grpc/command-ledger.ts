import type { CommandLedger__Output, CommandResult__Output } from '../../../proto/index.ts';
import type { HubContext } from '../hub-context.ts';
import type { CommandRecord, CommandState } from '../model.ts';

const RESULT_STATE: Record<string, CommandState | undefined> = {
  COMMAND_STATUS_ACCEPTED: 'accepted',
  COMMAND_STATUS_SUCCEEDED: 'succeeded',
  COMMAND_STATUS_FAILED: 'failed',
  COMMAND_STATUS_REJECTED: 'rejected',
  COMMAND_STATUS_EXPIRED: 'expired',
  COMMAND_STATUS_INTERRUPTED: 'interrupted',
};

export interface ParsedResult {
  commandId: string;
  state: CommandState;
  output?: unknown;
  errorCode?: string;
  errorMessage?: string;
}

/** A CommandResult as the command store takes it; undefined for an unknown status. */
export function parseResult(r: CommandResult__Output): ParsedResult | undefined {
  const state = RESULT_STATE[r.status];
  if (!state) return undefined;
  let output: unknown;
  try {
    output = r.outputJson ? JSON.parse(r.outputJson) : undefined;
  } catch {
    output = { unparsed: r.outputJson.slice(0, 2000) };
  }
  return { commandId: r.commandId, state, output, ...(r.errorCode ? { errorCode: r.errorCode } : {}), ...(r.errorMessage ? { errorMessage: r.errorMessage } : {}) };
}

/**
 * At Hello, before anything is sent: the agent's open commands are settled from
 * the ledger its Hello carries (what its journal says it did with each), so a
 * run or fan-out the hub lost track of (it was down, or a result was lost on
 * the wire) shows the truth at once, without sending those commands again.
 * Then pending commands past their deadline (a run's: its per-agent timeout)
 * expire: they never left the hub. Returns the commands still open, oldest
 * first, to send: those the ledger does not know, those whose output it left
 * out (the journal answers a resend in full), and those it shows running (a
 * result that finishes before this stream is up would otherwise be lost; agentd
 * ignores a resend while it runs).
 */
export function settleFromLedger(ctx: HubContext, agentId: string, ledger: CommandLedger__Output | null): { send: CommandRecord[]; settled: number } {
  const known = new Map((ledger?.results ?? []).map((r) => [r.commandId, r]));
  const omitted = new Set(ledger?.outputOmitted ?? []);
  let settled = 0;
  for (const cmd of ctx.commands.open(agentId)) {
    const entry = known.get(cmd.id);
    const result = entry && parseResult(entry);
    if (!result || (result.state !== 'accepted' && omitted.has(cmd.id))) continue;
    const updated = ctx.commands.recordResult(agentId, result);
    if (!updated) continue;
    if (updated.state !== cmd.state) settled++;
    ctx.events.emit('command', updated);
  }
  const { open, expired } = ctx.commands.expireUnsent(agentId);
  for (const e of expired) ctx.events.emit('command', e);
  return { send: open, settled };
}
