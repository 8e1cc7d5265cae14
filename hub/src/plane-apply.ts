/**
 * `planes apply`: make a plane what its planes.yaml says. The plan comes first
 * (plane-plan.ts); nothing runs while it has errors or when the caller's
 * fingerprint says the plane changed since the caller saw the plan. Then the
 * plane, then each agent, each with its own result: one agent failing does not
 * stop the others. Removing agents (their machine and their brain) happens
 * only when the caller asked to prune.
 */
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { resolveAgentRuntimeSpec } from './agent-runtime-spec.ts';
import type { Fleet } from './fleet.ts';
import type { HubContext } from './hub-context.ts';
import type { AgentRecord, CommandRecord, PlaneRecord } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';
import { computePlan, desiredAgents, type PlanePlan } from './plane-plan.ts';
import { checkPlanesFile, type PlanesFile, planeSpecOf } from './planes-file.ts';

export interface AgentApplyResult {
  agent: string;
  action: 'create' | 'change' | 'remove';
  /** ok: done (and the agent applied it); pending: the hub has it, the agent has not confirmed yet; failed: see message. */
  outcome: 'ok' | 'pending' | 'failed';
  message: string | null;
  commandId: string | null;
}

export interface ApplyReport {
  plan: PlanePlan;
  results: AgentApplyResult[];
  summary: { ok: number; pending: number; failed: number };
}

export interface ApplyOptions {
  prune: boolean;
  fingerprint?: string | undefined;
  /** How long to wait for agents to confirm reconfigure commands. */
  waitMs: number;
  actor: string;
  /** Agents worked on at once. */
  concurrency?: number;
}

function current(ctx: HubContext, name: string): { plane: PlaneRecord | undefined; agents: AgentRecord[] } {
  const plane = ctx.planes.find(name);
  return { plane, agents: plane ? ctx.agents.list(name) : [] };
}

/** Refuses a document whose name is not the plane in the URL, or that repeats an agent. */
function checkDocument(planeId: string, doc: PlanesFile): void {
  if (doc.metadata.name !== planeId) {
    throw new PlaneError(ErrorCode.InvalidArgument, `body.document.metadata.name is '${doc.metadata.name}' but the request is for plane '${planeId}'`, { where: 'body.document.metadata.name' });
  }
  const issue = checkPlanesFile(doc)[0];
  if (issue) throw new PlaneError(ErrorCode.InvalidArgument, `body.document.${issue.path} ${issue.message}`, { where: `body.document.${issue.path}` });
}

export function planPlane(ctx: HubContext, planeId: string, doc: PlanesFile, prune: boolean): PlanePlan {
  checkDocument(planeId, doc);
  const plan = computePlan(doc, current(ctx, planeId), { prune });
  if (plan.planeAction === 'create' && !ctx.infra.has(doc.spec.infrastructure.provider)) {
    plan.errors.push({ path: 'spec.infrastructure.provider', message: `infra provider '${doc.spec.infrastructure.provider}' is not available on this hub` });
  }
  return plan;
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export async function applyPlanesDocument(ctx: HubContext, fleet: Fleet, planeId: string, doc: PlanesFile, options: ApplyOptions): Promise<ApplyReport> {
  const plan = planPlane(ctx, planeId, doc, options.prune);
  const firstError = plan.errors[0];
  if (firstError) {
    throw new PlaneError(ErrorCode.FailedPrecondition, `${firstError.path}: ${firstError.message}${plan.errors.length > 1 ? ` (and ${plan.errors.length - 1} more)` : ''}`, { where: firstError.path });
  }
  if (options.fingerprint !== undefined && options.fingerprint !== plan.fingerprint) {
    throw new PlaneError(ErrorCode.Aborted, `plane '${planeId}' changed since the plan was made; nothing was applied. Plan again and review it`, { where: 'fingerprint' });
  }
  const want = planeSpecOf(doc);
  const before = current(ctx, planeId);
  // What each agent ran before the plane changed, so a models change reaches it once.
  const runtimeBefore = new Map(before.plane ? before.agents.map((a) => [a.name, JSON.stringify(resolveAgentRuntimeSpec(before.plane as PlaneRecord, a))]) : []);
  if (plan.planeAction === 'create') fleet.createPlane(planeId, want, options.actor);
  else if (plan.planeAction === 'change') fleet.replacePlaneSpec(planeId, want, plan.planeChanges.map((c) => c.field), options.actor, { reconfigure: false });

  const desired = new Map(desiredAgents(doc, want).map((d) => [d.name, d]));
  const results: AgentApplyResult[] = [];
  const commands = new Map<string, CommandRecord>();
  const provider = ctx.infra.has(want.infraProvider) ? ctx.infra.get(want.infraProvider) : undefined;
  await pool(plan.agents, options.concurrency ?? provider?.provisionConcurrency ?? 4, async (entry) => {
    const result: AgentApplyResult = { agent: entry.name, action: entry.action, outcome: 'ok', message: null, commandId: null };
    results.push(result);
    try {
      if (entry.action === 'create') {
        const d = desired.get(entry.name);
        if (!d) throw new PlaneError(ErrorCode.Internal, `agent '${entry.name}' is not in the document`);
        await fleet.addAgent(planeId, { name: d.name, ownerEmail: d.owner, ...d.spec }, options.actor);
        result.message = 'provisioned';
      } else if (entry.action === 'change') {
        const patch: Record<string, unknown> = {};
        for (const c of entry.changes) {
          if (c.field === 'model') continue;
          patch[c.field === 'owner' ? 'ownerEmail' : c.field] = c.field === 'groups' && c.to === null ? [] : c.to;
        }
        const r = await fleet.updateAgent(planeId, entry.name, patch, options.actor, runtimeBefore.get(entry.name));
        if (r.command) {
          commands.set(entry.name, r.command);
          result.commandId = r.command.id;
        }
        result.message = entry.changes.map((c) => c.field).join(', ');
      } else {
        await fleet.removeAgent(planeId, entry.name, options.actor);
        result.message = 'removed with its brain';
      }
    } catch (err) {
      result.outcome = 'failed';
      result.message = PlaneError.from(err).message;
    }
  });
  // Reconfigure commands: wait (together) for the agents to apply them.
  await Promise.all(
    results.map(async (r) => {
      const cmd = commands.get(r.agent);
      if (!cmd || r.outcome === 'failed') return;
      const done = await fleet.waitForCommand(cmd.id, options.waitMs);
      if (done.state === 'succeeded') return;
      r.outcome = TERMINAL_COMMAND_STATES.has(done.state) ? 'failed' : 'pending';
      r.message = TERMINAL_COMMAND_STATES.has(done.state)
        ? `reconfigure ${done.state}${done.errorMessage ? `: ${done.errorMessage}` : ''}`
        : `reconfigure ${done.state}: the hub has the new settings; the agent applies them when it is reachable`;
    }),
  );
  const order = new Map(plan.agents.map((a, i) => [a.name, i]));
  results.sort((a, b) => (order.get(a.agent) ?? 0) - (order.get(b.agent) ?? 0));
  const summary = { ok: 0, pending: 0, failed: 0 };
  for (const r of results) summary[r.outcome]++;
  ctx.audit.record({
    actor: options.actor,
    action: 'plane.apply',
    plane: planeId,
    agent: null,
    outcome: summary.failed > 0 ? 'failed' : 'ok',
    detail: { planeAction: plan.planeAction, ...plan.summary, ...summary, fingerprint: plan.fingerprint },
  });
  return { plan, results, summary };
}
