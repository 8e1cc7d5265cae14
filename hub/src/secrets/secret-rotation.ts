import { schedule, type ScheduledTask } from 'node-cron';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import type { CommandRecord } from '../model.ts';
import { statementCache } from '../db/database.ts';
import type { RunLink } from '../store/command-store.ts';

export interface RotationOptions {
  /** Generated secrets older than this are rotated by the schedule. */
  rotationPeriodDays: number;
  /** When the schedule looks for due agents (node-cron expression). */
  rotationCron: string;
}

/**
 * Secret rotation: `rotate-secrets` regenerates what Agents Plane generated
 * (the agent credential and the gateway token, both made on the agent's own
 * machine, and the brain data key: staged by the hub when agentd asks, every
 * snapshot re-encrypted by agentd, the old key dropped here on success) and
 * makes agentd re-read every external secret and reload its gateway. The hub learns only the new credential's hash, from the command's
 * result. A daily node-cron job rotates agents whose last rotation is older
 * than the period (default 90 days).
 */
export class SecretRotation {
  readonly #ctx: HubContext;
  readonly #fleet: Fleet;
  readonly #o: RotationOptions;
  readonly #stmt: ReturnType<typeof statementCache>;
  #task: ScheduledTask | undefined;
  /** Starts a rate-controlled run of rotate-secrets; set by the hub once runs exist. Returns the run id. */
  scheduleRun: ((plane: string, agents: string[]) => string) | undefined;

  constructor(ctx: HubContext, fleet: Fleet, options: RotationOptions) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#o = options;
    this.#stmt = statementCache(ctx.db);
    ctx.events.on('command', (cmd) => this.#onCommand(cmd));
  }

  /** Sends rotate-secrets to one agent or every agent of a plane; a run passes its link. */
  rotate(plane: string, agentName: string | undefined, actor: string, reason = 'manual', run?: RunLink): CommandRecord[] {
    const args = { regenerate: true, reason };
    const cmds = agentName ? [this.#fleet.sendCommand(plane, agentName, 'rotate-secrets', args, actor, run)] : this.#fleet.fanOut(plane, 'rotate-secrets', args, actor);
    for (const c of cmds) {
      const a = this.#ctx.agents.findById(c.agentId);
      this.#ctx.audit.record({ actor, action: 'secret.rotate', plane, agent: a?.name ?? null, outcome: 'ok', detail: { phase: 'requested', commandId: c.id, reason } });
    }
    return cmds;
  }

  /** When each agent's generated secrets last rotated (enrolment counts as the first). */
  lastRotated(agentId: string): number | null {
    const row = this.#stmt('SELECT rotated_at AS at FROM secret_rotations WHERE agent_id = ?').get(agentId) as { at: number } | undefined;
    return row?.at ?? this.#ctx.agents.findById(agentId)?.enrolledAt ?? null;
  }

  /** Agents due for rotation now; what the schedule rotates. */
  due(now = Date.now()): { plane: string; name: string }[] {
    const limit = now - this.#o.rotationPeriodDays * 86_400_000;
    const out: { plane: string; name: string }[] = [];
    for (const p of this.#ctx.planes.list()) {
      for (const a of this.#ctx.agents.list(p.name)) {
        const last = this.lastRotated(a.id);
        if (last !== null && last < limit && !this.#ctx.commands.openFor(a.id).some((c) => c.kind === 'rotate-secrets')) out.push({ plane: p.name, name: a.name });
      }
    }
    return out;
  }

  /**
   * Rotates every due agent: one rate-controlled run per plane (a rotation restarts
   * the gateway, so never a whole plane at once). Agents a run stops before stay
   * due and are picked up by the next schedule. Returns how many agents were due.
   */
  runSchedule(now = Date.now()): number {
    const due = this.due(now);
    const byPlane = new Map<string, string[]>();
    for (const d of due) byPlane.set(d.plane, [...(byPlane.get(d.plane) ?? []), d.name]);
    for (const [plane, agents] of byPlane) {
      if (this.scheduleRun) {
        const runId = this.scheduleRun(plane, agents);
        this.#ctx.log.info('scheduled secret rotation', { plane, agents: agents.length, runId });
      } else {
        for (const a of agents) this.rotate(plane, a, 'hub:schedule', `older than ${this.#o.rotationPeriodDays} days`);
      }
    }
    return due.length;
  }

  start(): void {
    this.#task = schedule(this.#o.rotationCron, () => {
      try {
        this.runSchedule();
      } catch (err) {
        this.#ctx.log.error('scheduled secret rotation failed', { reason: PlaneError.from(err).message });
      }
    }, { noOverlap: true });
  }

  async stop(): Promise<void> {
    await this.#task?.destroy();
    this.#task = undefined;
  }

  #onCommand(cmd: CommandRecord): void {
    if (cmd.kind !== 'rotate-secrets' || !['succeeded', 'failed', 'rejected', 'expired', 'interrupted'].includes(cmd.state)) return;
    const agent = this.#ctx.agents.findById(cmd.agentId);
    if (!agent) return;
    const out = (cmd.output ?? {}) as { credentialHash?: unknown; revision?: unknown; gateway?: unknown; regenerated?: unknown; dataKey?: { keyId?: unknown } };
    if (cmd.state !== 'succeeded') {
      this.#ctx.audit.record({ actor: cmd.actor, action: 'secret.rotate', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { commandId: cmd.id, state: cmd.state, error: cmd.errorMessage ?? null } });
      return;
    }
    const keyId = out.dataKey?.keyId;
    if (typeof keyId === 'string') {
      // Every snapshot is sealed with the new data key now: the old one can go.
      this.#ctx.secrets.finishDataKeyRotation(cmd.actor, agent.plane, agent.name, keyId).catch((err: unknown) => {
        this.#ctx.log.error('could not drop the old brain data key; the ring is kept and the next rotation retries', { plane: agent.plane, agent: agent.name, reason: PlaneError.from(err).message });
      });
    }
    try {
      if (typeof out.credentialHash === 'string') this.#ctx.agents.setCredentialHash(agent.id, out.credentialHash);
      this.#stmt('INSERT INTO secret_rotations (agent_id, rotated_at, revision) VALUES (?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET rotated_at = excluded.rotated_at, revision = excluded.revision').run(
        agent.id,
        Date.now(),
        typeof out.revision === 'string' ? out.revision : '',
      );
      this.#ctx.audit.record({
        actor: cmd.actor,
        action: 'secret.rotate',
        plane: agent.plane,
        agent: agent.name,
        outcome: 'ok',
        detail: { phase: 'done', commandId: cmd.id, regenerated: out.regenerated ?? [], revision: out.revision ?? '', gateway: out.gateway ?? '' },
      });
    } catch (err) {
      const e = PlaneError.from(err);
      this.#ctx.audit.record({ actor: cmd.actor, action: 'secret.rotate', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { commandId: cmd.id, reason: e.message } });
      if (e.code !== ErrorCode.InvalidArgument) throw e;
    }
  }
}
