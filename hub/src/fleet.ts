import * as grpc from '@grpc/grpc-js';
import { encodeBundle } from '../../common/src/enrollment-bundle.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { toWireCommand } from './grpc/agent-service.ts';
import { evaluateHealth } from './health.ts';
import { resolveAgentRuntimeSpec } from './agent-runtime-spec.ts';
import { resolveAgentSpec } from './agent-settings.ts';
import type { HubContext } from './hub-context.ts';
import type { AgentRecord, AgentSpec, CommandRecord, Health, PlaneRecord, PlaneSpec } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';
import type { RunLink } from './store/command-store.ts';
import type { HeartbeatRecord } from './store/heartbeat-store.ts';
import { costLabels } from './cost/cost-labels.ts';
import type { HealingState } from './store/healing-store.ts';
import { brainStore, cloneBrain, listSnapshots, purgeBrain, type SnapshotInfo, verifyBackup, type VerifyReport } from './brain/brain-ops.ts';

export interface AgentView extends AgentRecord {
  health: Health;
  connected: boolean;
  heartbeat: (HeartbeatRecord & { ageMs: number }) | null;
  /** Self-healing: restarts since the agent was last green, and whether the breaker gave up. */
  healing: HealingState | null;
}

export interface AddAgentInput {
  name: string;
  ownerEmail: string;
  machineType?: string;
  diskSizeGb?: number;
  modelTier?: AgentSpec['modelTier'];
  budgetCap?: number;
  group?: string;
  tools?: string[];
  channels?: string[];
  configOverrides?: Record<string, unknown>;
  groups?: string[];
  ou?: string;
}

/** What PATCH may change on an agent; `null` clears budgetCap or configOverrides. */
export type AgentPatch = Partial<Pick<AddAgentInput, 'ownerEmail' | 'machineType' | 'diskSizeGb' | 'modelTier' | 'tools' | 'channels' | 'groups' | 'group'>> & {
  budgetCap?: number | null;
  configOverrides?: Record<string, unknown> | null;
  ou?: string | null;
};

/** What PATCH may change on a plane. Provider, region, project and where secrets live are fixed at creation. */
export type PlanePatch = Partial<Pick<PlaneSpec, 'identityProvider' | 'networkProvider' | 'models' | 'identity' | 'egressPolicy' | 'policies'>> & {
  defaults?: Partial<PlaneSpec['defaults']>;
};

/** Commands agentd understands today, and who may send them through the generic path. */
export const COMMAND_KINDS = ['restart', 'pause', 'resume', 'ping', 'logs', 'logs-stop', 'reconfigure', 'sync-now', 'restore', 'refresh-secrets', 'rotate-secrets', 'upgrade'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/**
 * Fleet operations: what the REST API and the CLI ask of the hub. Every
 * mutation is audited with its actor; provider calls happen after the database
 * says the operation is valid, and the database is rolled back if they fail.
 */
export class Fleet {
  readonly #ctx: HubContext;
  constructor(ctx: HubContext) {
    this.#ctx = ctx;
  }

  createPlane(name: string, spec: PlaneSpec, actor: string): PlaneRecord {
    this.#ctx.infra.get(spec.infraProvider);
    const plane = this.#ctx.planes.create(name, spec);
    this.#ctx.audit.record({ actor, action: 'plane.create', plane: name, agent: null, outcome: 'ok', detail: { infraProvider: spec.infraProvider } });
    return plane;
  }

  async deletePlane(name: string, force: boolean, actor: string): Promise<{ removedAgents: string[] }> {
    this.#ctx.planes.get(name);
    const agents = this.#ctx.agents.list(name);
    if (agents.length > 0 && !force) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `plane '${name}' still has ${agents.length} agent(s); remove them or pass force`, { where: 'force' });
    }
    for (const a of agents) await this.removeAgent(name, a.name, actor);
    this.#ctx.planes.delete(name);
    this.#ctx.audit.record({ actor, action: 'plane.delete', plane: name, agent: null, outcome: 'ok', detail: { removedAgents: agents.length } });
    return { removedAgents: agents.map((a) => a.name) };
  }

  async addAgent(planeName: string, input: AddAgentInput, actor: string): Promise<AgentView> {
    const plane = this.#ctx.planes.get(planeName);
    this.#ctx.infra.get(plane.spec.infraProvider); // an unknown provider fails before anything is created
    // Plane defaults, then the plane's policies matching the agent's groups/OU, then the given values.
    const spec = resolveAgentSpec(plane.spec, input);
    const agent = this.#ctx.agents.create({ plane: planeName, name: input.name, owner: input.ownerEmail, spec });
    try {
      await this.#provision(agent, actor);
    } catch (err) {
      this.#ctx.agents.delete(agent.id);
      throw err;
    }
    return this.view(agent);
  }

  /** Creates the agent's machine (or local process) with a fresh one-time enrollment bundle. */
  async #provision(agent: AgentRecord, actor: string): Promise<void> {
    const plane = this.#ctx.planes.get(agent.plane);
    const provider = this.#ctx.infra.get(plane.spec.infraProvider);
    const { token, expiresAt } = this.#ctx.agents.issueEnrollmentToken(agent.id, this.#ctx.enrollmentTokenTtlMs);
    const bundle = encodeBundle({ v: 1, hub: this.#ctx.grpcAddress(), caPem: this.#ctx.caPem(), plane: agent.plane, agent: agent.name, token, expiresAt });
    try {
      await provider.provision({
        agentId: agent.id,
        plane: agent.plane,
        agentName: agent.name,
        machineType: agent.spec.machineType,
        region: plane.spec.region,
        diskSizeGb: agent.spec.diskSizeGb,
        ...(plane.spec.defaults.image ? { image: plane.spec.defaults.image } : {}),
        labels: costLabels(agent),
        bootstrap: { enrollmentBundle: bundle },
        // A reprovisioned agent comes back on the release it was upgraded to, not the image's pin.
        ...(agent.runtimeVersions['openclaw'] ? { openclawVersion: agent.runtimeVersions['openclaw'] } : {}),
      });
    } catch (err) {
      this.#ctx.audit.record({ actor, action: 'agent.provision', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { reason: PlaneError.from(err).message } });
      throw err;
    }
    this.#ctx.db
      .prepare('INSERT OR REPLACE INTO instances (agent_id, provider, instance_json, updated_at) VALUES (?, ?, ?, ?)')
      .run(agent.id, provider.name, JSON.stringify({ machineType: agent.spec.machineType }), Date.now());
    this.#ctx.audit.record({ actor, action: 'agent.provision', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { owner: agent.owner, provider: provider.name } });
  }

  /**
   * REQ-MAINT-03: a fresh machine for the same agent. The old one is destroyed
   * (disk and all), a new one enrols with a new credential (the old one stops
   * working) and its agentd restores the brain from the bucket before its gateway
   * starts. Settings and secrets stay with the agent.
   */
  async reprovisionAgent(planeName: string, name: string, actor: string): Promise<AgentView> {
    const plane = this.#ctx.planes.get(planeName);
    const agent = this.#ctx.agents.get(planeName, name);
    await this.#ctx.infra.get(plane.spec.infraProvider).deprovision(agent.id);
    this.#ctx.sessions.get(agent.id)?.close(grpc.status.UNAUTHENTICATED, 'agent reprovisioned');
    this.#ctx.heartbeats.forget(agent.id);
    await this.#provision(agent, actor);
    this.#resetHealing(agent, Date.now(), actor);
    this.#ctx.audit.record({ actor, action: 'agent.reprovision', plane: planeName, agent: name, outcome: 'ok' });
    return this.view(this.#ctx.agents.get(planeName, name));
  }

  /**
   * Changes an agent's settings. What the agent runs is re-resolved and sent as a
   * "reconfigure" command (stored, delivered when reachable, applied once): agentd
   * validates it, re-renders the OpenClaw config and restarts the gateway.
   */
  async updateAgent(
    planeName: string,
    name: string,
    patch: AgentPatch,
    actor: string,
    /** What the agent ran before, when the caller changed the plane first (apply); default: resolved now. */
    runtimeBefore?: string,
  ): Promise<{ agent: AgentView; command: CommandRecord | null }> {
    const plane = this.#ctx.planes.get(planeName);
    const agent = this.#ctx.agents.get(planeName, name);
    const { ownerEmail, ...rest } = patch;
    const spec: AgentSpec = { ...agent.spec };
    for (const [k, v] of Object.entries(rest)) {
      if (v === null) delete (spec as Record<string, unknown>)[k];
      else if (v !== undefined) (spec as Record<string, unknown>)[k] = v;
    }
    if (spec.groups?.length === 0) delete spec.groups;
    if (spec.configOverrides && Object.keys(spec.configOverrides).length === 0) delete spec.configOverrides;
    if (spec.diskSizeGb < agent.spec.diskSizeGb) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `cannot shrink the disk of agent '${name}' from ${agent.spec.diskSizeGb} to ${spec.diskSizeGb} GB; a disk can only grow`, { where: 'diskSizeGb' });
    }
    const resize = {
      ...(spec.machineType !== agent.spec.machineType ? { machineType: spec.machineType } : {}),
      ...(spec.diskSizeGb !== agent.spec.diskSizeGb ? { diskSizeGb: spec.diskSizeGb } : {}),
    };
    if (Object.keys(resize).length > 0) await this.#ctx.infra.get(plane.spec.infraProvider).resize(agent.id, resize);
    const owner = ownerEmail ?? agent.owner;
    this.#ctx.agents.updateSpec(agent.id, owner, spec);
    const updated = this.#ctx.agents.getById(agent.id);
    const before = runtimeBefore ?? JSON.stringify(resolveAgentRuntimeSpec(plane, agent));
    const after = resolveAgentRuntimeSpec(plane, updated);
    this.#ctx.audit.record({ actor, action: 'agent.update', plane: planeName, agent: name, outcome: 'ok', detail: { fields: Object.keys(patch) } });
    const command = JSON.stringify(after) === before ? null : this.sendCommand(planeName, name, 'reconfigure', { spec: after }, actor);
    return { agent: this.view(updated), command };
  }

  /**
   * Changes a plane's settings. Agents keep their own settings (policies and
   * defaults apply when an agent is created, and on every `apply`); an agent
   * whose model changes with the plane's model table gets a "reconfigure"
   * command unless `reconfigure` is false (apply sends its own).
   */
  updatePlane(name: string, patch: PlanePatch, actor: string): { plane: PlaneRecord; commands: CommandRecord[] } {
    const before = this.#ctx.planes.get(name);
    const { defaults, ...rest } = patch;
    const spec: PlaneSpec = { ...before.spec, defaults: { ...before.spec.defaults } };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (spec as Record<string, unknown>)[k] = v;
    if (defaults) for (const [k, v] of Object.entries(defaults)) if (v !== undefined) (spec.defaults as Record<string, unknown>)[k] = v;
    return this.replacePlaneSpec(name, spec, Object.keys(patch), actor);
  }

  /** Stores a plane's whole spec (the caller checked what may change); see updatePlane. */
  replacePlaneSpec(name: string, spec: PlaneSpec, fields: string[], actor: string, options: { reconfigure?: boolean } = {}): { plane: PlaneRecord; commands: CommandRecord[] } {
    const before = this.#ctx.planes.get(name);
    if (spec.infraProvider !== before.spec.infraProvider) this.#ctx.infra.get(spec.infraProvider);
    const agents = this.#ctx.agents.list(name);
    const runtimeBefore = new Map(agents.map((a) => [a.id, JSON.stringify(resolveAgentRuntimeSpec(before, a))]));
    const plane = this.#ctx.planes.update(name, spec);
    this.#ctx.audit.record({ actor, action: 'plane.update', plane: name, agent: null, outcome: 'ok', detail: { fields } });
    const commands: CommandRecord[] = [];
    if (options.reconfigure !== false) {
      for (const a of agents) {
        const after = resolveAgentRuntimeSpec(plane, a);
        if (JSON.stringify(after) !== runtimeBefore.get(a.id)) commands.push(this.sendCommand(name, a.name, 'reconfigure', { spec: after }, actor));
      }
    }
    return { plane, commands };
  }

  async removeAgent(planeName: string, name: string, actor: string): Promise<void> {
    const plane = this.#ctx.planes.get(planeName);
    const agent = this.#ctx.agents.get(planeName, name);
    await this.#ctx.infra.get(plane.spec.infraProvider).deprovision(agent.id);
    this.#ctx.sessions.get(agent.id)?.close(grpc.status.UNAUTHENTICATED, 'agent removed');
    this.#ctx.heartbeats.forget(agent.id);
    this.#ctx.healing.forget(agent.id);
    // The machine is gone; its brain and data key go too, checked empty before this reports success.
    const purged = await purgeBrain(this.#ctx, planeName, name);
    this.#ctx.agents.delete(agent.id);
    this.#ctx.audit.record({ actor, action: 'agent.remove', plane: planeName, agent: name, outcome: 'ok', detail: purged });
  }

  /**
   * Restart: with the agent connected, agentd restarts its supervised gateway
   * (a command, answered with a result). Disconnected, or with mode "instance",
   * the infra provider restarts the whole machine/process.
   */
  async restartAgent(planeName: string, name: string, mode: 'auto' | 'gateway' | 'instance', actor: string): Promise<{ mode: 'gateway' | 'instance'; command: CommandRecord | null }> {
    const plane = this.#ctx.planes.get(planeName);
    const agent = this.#ctx.agents.get(planeName, name);
    const useInstance = mode === 'instance' || (mode === 'auto' && !this.#ctx.sessions.isConnected(agent.id));
    // A human restart takes over from self-healing: attempts and an open breaker are cleared.
    this.#resetHealing(agent, Date.now(), actor);
    if (useInstance) {
      await this.#ctx.infra.get(plane.spec.infraProvider).restart(agent.id);
      this.#ctx.audit.record({ actor, action: 'agent.restart', plane: planeName, agent: name, outcome: 'ok', detail: { mode: 'instance' } });
      return { mode: 'instance', command: null };
    }
    return { mode: 'gateway', command: this.sendCommand(planeName, name, 'restart', {}, actor) };
  }

  /**
   * Lets self-healing try again for one agent or every agent of a plane: clears
   * attempts and open circuit breakers. Returns the agents that had any.
   */
  resetHealing(planeName: string, name: string | undefined, actor: string): string[] {
    this.#ctx.planes.get(planeName);
    const agents = name ? [this.#ctx.agents.get(planeName, name)] : this.#ctx.agents.list(planeName);
    return agents.filter((a) => this.#resetHealing(a, null, actor)).map((a) => a.name);
  }

  #resetHealing(agent: AgentRecord, restartedAt: number | null, actor: string): boolean {
    const before = this.#ctx.healing.get(agent.id);
    const cleared = this.#ctx.healing.reset(agent.id, restartedAt);
    if (cleared) {
      this.#ctx.audit.record({ actor, action: 'agent.heal.reset', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { restarts: before?.attempts ?? 0, breakerWasOpen: Boolean(before?.breakerOpenAt) } });
    }
    return cleared;
  }

  /**
   * Stores the command, then sends it if the agent is connected; otherwise it waits for the agent.
   * A run passes its link: the command names its run before it can leave the hub.
   */
  sendCommand(planeName: string, name: string, kind: CommandKind, args: Record<string, unknown>, actor: string, run?: RunLink): CommandRecord {
    const agent = this.#ctx.agents.get(planeName, name);
    if (kind === 'pause' || kind === 'resume') this.#ctx.agents.setDesiredState(agent.id, kind === 'pause' ? 'paused' : 'running');
    const cmd = this.#ctx.commands.create({ agentId: agent.id, kind, args, actor, ttlMs: this.#ctx.commandTtlMs, ...(run ? { run } : {}) });
    const session = this.#ctx.sessions.get(agent.id);
    if (session?.send(toWireCommand(cmd))) this.#ctx.commands.markDelivered(cmd.id);
    this.#ctx.audit.record({ actor, action: `command.${kind}`, plane: planeName, agent: name, outcome: 'ok', detail: { commandId: cmd.id, delivered: Boolean(session) } });
    return this.#ctx.commands.get(cmd.id);
  }

  /**
   * One command to every agent of a plane, stored in one transaction, then sent
   * to each connected agent. Offline agents get theirs when they reconnect.
   * `record` runs inside that transaction with the new commands (the fan-out's
   * run record is stored with them, before anything is sent).
   */
  fanOut(planeName: string, kind: CommandKind, args: Record<string, unknown>, actor: string, options: { runId?: string; record?: (created: CommandRecord[]) => void } = {}): CommandRecord[] {
    this.#ctx.planes.get(planeName);
    const agents = this.#ctx.agents.list(planeName);
    const run = options.runId ? { runId: options.runId } : undefined;
    const created = this.#ctx.db.transaction(() => {
      const cmds = agents.map((a) => {
        if (kind === 'pause' || kind === 'resume') this.#ctx.agents.setDesiredState(a.id, kind === 'pause' ? 'paused' : 'running');
        return this.#ctx.commands.create({ agentId: a.id, kind, args, actor, ttlMs: this.#ctx.commandTtlMs, ...(run ? { run } : {}) });
      });
      options.record?.(cmds);
      return cmds;
    })();
    // Send everything first, then record deliveries in one transaction: agents
    // should not wait behind 1,000 separate writes.
    const delivered = created.filter((cmd) => this.#ctx.sessions.get(cmd.agentId)?.send(toWireCommand(cmd)));
    this.#ctx.commands.markDeliveredMany(delivered.map((c) => c.id));
    for (const c of delivered) c.state = 'delivered';
    this.#ctx.audit.record({ actor, action: `command.${kind}`, plane: planeName, agent: null, outcome: 'ok', detail: { agents: created.length, delivered: delivered.length } });
    return created;
  }

  /** Snapshots of an agent's brain in the bucket, oldest first. */
  async snapshots(planeName: string, name: string): Promise<SnapshotInfo[]> {
    this.#ctx.agents.get(planeName, name);
    return listSnapshots(this.#ctx, planeName, name);
  }

  /** The restore drill, run on the hub against the bucket (works while the agent is down). */
  async verifyBackup(planeName: string, name: string, actor: string): Promise<VerifyReport> {
    const agent = this.#ctx.agents.get(planeName, name);
    const report = await verifyBackup(this.#ctx, planeName, name, this.#ctx.heartbeats.get(agent.id)?.heartbeat.sync ?? null);
    this.#ctx.audit.record({ actor, action: 'brain.verify', plane: planeName, agent: name, outcome: report.ok ? 'ok' : 'failed', detail: { snapshot: report.snapshot, problems: report.problems.length } });
    return report;
  }

  /** Resolves `--at TIME` (or an explicit snapshot id) to a snapshot, then asks agentd to restore it. */
  async restoreBrain(planeName: string, name: string, target: { at?: number; snapshot?: string }, actor: string): Promise<CommandRecord> {
    this.#ctx.agents.get(planeName, name);
    const store = await brainStore(this.#ctx, planeName, name);
    let snapshot = target.snapshot;
    if (!snapshot) {
      const found = target.at === undefined ? (await store.readHead())?.manifest : await store.snapshotAt(target.at);
      if (!found) throw new PlaneError(ErrorCode.NotFound, target.at === undefined ? `agent ${planeName}/${name} has no snapshot` : `agent ${planeName}/${name} has no snapshot at or before ${new Date(target.at).toISOString()}`);
      snapshot = found;
    } else if (!(await store.listSnapshots()).includes(snapshot)) {
      throw new PlaneError(ErrorCode.NotFound, `snapshot ${snapshot} not found for ${planeName}/${name}`);
    }
    return this.sendCommand(planeName, name, 'restore', { snapshot }, actor);
  }

  /**
   * A new agent with a copy of another's brain: the brain is copied (re-encrypted
   * under the new agent's own key, credentials removed) before the new agent is
   * provisioned, so its first boot restores it.
   */
  async cloneAgent(planeName: string, from: string, input: AddAgentInput & { soul?: string }, actor: string): Promise<{ agent: AgentView; brain: Awaited<ReturnType<typeof cloneBrain>> }> {
    const source = this.#ctx.agents.get(planeName, from);
    if (this.#ctx.agents.find(planeName, input.name)) throw new PlaneError(ErrorCode.AlreadyExists, `agent ${planeName}/${input.name} already exists`, { where: 'name' });
    const brain = await cloneBrain(this.#ctx, planeName, from, input.name, input.soul !== undefined ? { soul: input.soul } : {});
    const { soul: _soul, ...rest } = input;
    const agent = await this.addAgent(planeName, { ...source.spec, ...rest, ownerEmail: input.ownerEmail }, actor);
    this.#ctx.audit.record({ actor, action: 'agent.clone', plane: planeName, agent: input.name, outcome: 'ok', detail: { from, snapshot: brain.snapshot } });
    return { agent, brain };
  }

  getCommand(planeName: string, name: string, commandId: string): CommandRecord {
    const agent = this.#ctx.agents.get(planeName, name);
    const cmd = this.#ctx.commands.get(commandId);
    if (cmd.agentId !== agent.id) throw new PlaneError(ErrorCode.NotFound, `command '${commandId}' not found for agent '${name}'`, { where: 'commandId' });
    return cmd;
  }

  /** Resolves when the command reaches a terminal state or `timeoutMs` passes. */
  async waitForCommand(commandId: string, timeoutMs: number): Promise<CommandRecord> {
    const current = this.#ctx.commands.get(commandId);
    const closing = this.#ctx.closing;
    if (TERMINAL_COMMAND_STATES.has(current.state) || timeoutMs <= 0 || closing.aborted) return current;
    return new Promise((resolve) => {
      const onCommand = (c: CommandRecord): void => {
        if (c.id === commandId && TERMINAL_COMMAND_STATES.has(c.state)) finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.#ctx.events.off('command', onCommand);
        closing.removeEventListener('abort', finish);
        resolve(this.#ctx.commands.get(commandId));
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#ctx.events.on('command', onCommand);
      closing.addEventListener('abort', finish, { once: true });
    });
  }

  view(agent: AgentRecord, now = Date.now()): AgentView {
    const connected = this.#ctx.sessions.isConnected(agent.id);
    const hb = this.#ctx.heartbeats.get(agent.id);
    const healing = this.#ctx.healing.get(agent.id) ?? null;
    let health = evaluateHealth({ agent, connected, heartbeat: hb, heartbeatIntervalMs: this.#ctx.heartbeatIntervalMs, syncLagYellowMs: this.#ctx.brain.syncLagYellowMs, now });
    if (healing?.breakerOpenAt && health.color !== 'green') {
      health = { color: health.color, reason: `${health.reason}; self-healing stopped after ${healing.attempts} restarts (planes heal --reset)` };
    }
    return {
      ...agent,
      connected,
      health,
      heartbeat: hb ? { ...hb, ageMs: now - hb.receivedAt } : null,
      healing,
    };
  }

  listAgents(planeName: string): AgentView[] {
    this.#ctx.planes.get(planeName);
    const now = Date.now();
    return this.#ctx.agents.list(planeName).map((a) => this.view(a, now));
  }

  getAgent(planeName: string, name: string): AgentView {
    return this.view(this.#ctx.agents.get(planeName, name));
  }

  /** After a hub start: bring back every instance that should be running but is not. */
  async reconcileInstances(): Promise<void> {
    for (const plane of this.#ctx.planes.list()) {
      if (!this.#ctx.infra.has(plane.spec.infraProvider)) continue;
      const provider = this.#ctx.infra.get(plane.spec.infraProvider);
      for (const agent of this.#ctx.agents.list(plane.name)) {
        const st = await provider.status(agent.id);
        if (st.state === 'stopped') {
          this.#ctx.log.info('starting instance that should be running', { plane: plane.name, agent: agent.name });
          await provider.start(agent.id);
        }
      }
    }
  }
}
