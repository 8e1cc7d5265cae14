import type { Event__Output } from '../../../proto/index.ts';
import type { HubContext } from '../hub-context.ts';

/** Attributes kept in an audit row: names, ids and counts only, each cut short. */
const KEPT = ['snapshot', 'newest', 'used', 'reason', 'unrestored', 'unrestoredCount', 'files', 'lost'];

/**
 * Agents report what happened to their brain that an admin must be able to
 * find later: a restore that fell back to an older snapshot (outcome failed:
 * something was not brought back), and a repair after the bucket lost what
 * the agent had uploaded. Both go to the audit log as the agent's own rows.
 * Returns the unsubscribe.
 */
export function auditBrainEvents(ctx: HubContext): () => void {
  const on = (agentId: string, ev: Event__Output): void => {
    if (ev.kind !== 'brain.restore_fallback' && ev.kind !== 'brain.repair') return;
    const agent = ctx.agents.findById(agentId);
    if (!agent) return;
    const detail: Record<string, unknown> = { message: ev.message.slice(0, 500) };
    for (const k of KEPT) {
      const v = ev.attributes[k];
      if (v === undefined || v === '') continue;
      detail[k] = k === 'unrestored' || k === 'lost' ? v.split('\n').slice(0, 50) : v.slice(0, 500);
    }
    ctx.audit.record({ actor: `agent:${agentId}`, action: ev.kind, plane: agent.plane, agent: agent.name, outcome: ev.kind === 'brain.repair' ? 'ok' : 'failed', detail });
  };
  ctx.events.on('agentEvent', on);
  return () => ctx.events.off('agentEvent', on);
}
