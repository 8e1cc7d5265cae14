/** Fleet operations: fan-out runs, rolling upgrades, past runs, status, self-healing. */
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { type Agent, heartbeatOf, type Run } from '../api.ts';
import { colour, table } from '../format.ts';
import type { HubClient } from '../hub-client.ts';
import { type Flag, type Out, PLANE, verb } from '../verb.ts';
import { agentTable } from '../views/agent-table.ts';
import { brainText } from '../views/brain-view.ts';
import { printRun, runProgress } from '../views/run-view.ts';

const NAMES = { name: 'name', kind: 'list', value: 'A[,B]', help: 'these agents (default: every agent of the plane)' } as const satisfies Flag;
const RATE = [
  { name: 'max-concurrency', kind: 'limit', value: 'N|N%', help: 'agents at once (default 50)' },
  { name: 'max-errors', kind: 'limit', value: 'N|N%', help: 'failures before the run stops (default 0: the first one stops it)' },
] as const satisfies readonly Flag[];
const TIMEOUT = { name: 'timeout-seconds', kind: 'int', value: 'N', help: 'per agent (default 120; rotate-secrets 900)' } as const satisfies Flag;

/** The agents and limits of a run, only those given. */
function runLimits(v: { name: string[] | undefined; 'max-concurrency': number | string | undefined; 'max-errors': number | string | undefined; 'timeout-seconds': number | undefined }) {
  return {
    ...(v.name ? { agents: v.name } : {}),
    ...(v['max-concurrency'] !== undefined ? { maxConcurrency: v['max-concurrency'] } : {}),
    ...(v['max-errors'] !== undefined ? { maxErrors: v['max-errors'] } : {}),
    ...(v['timeout-seconds'] !== undefined ? { timeoutSeconds: v['timeout-seconds'] } : {}),
  };
}

type RunRoutes = 'GET /v1/planes/{planeId}/runs/{runId}' | 'POST /v1/planes/{planeId}/runs/{runId}/cancel';

/**
 * Follows a run the hub drives (maxConcurrency, maxErrors): a live progress
 * line on stderr, then a per-agent table. Ctrl-C cancels the run (no new agent
 * starts; commands not yet delivered are withdrawn, delivered ones finish and
 * are reported); a second Ctrl-C leaves at once. Exit 1 unless every agent succeeded.
 */
async function follow(hub: HubClient<RunRoutes>, plane: string, started: Run, out: Out): Promise<number> {
  let run = started;
  let cancelling = false;
  const onSigint = (): void => {
    if (cancelling) process.exit(130);
    cancelling = true;
    process.stderr.write(`\nplanes: cancelling run ${run.id}: no new agent starts; commands already delivered finish (Ctrl-C again to leave now)\n`);
    hub
      .call('POST /v1/planes/{planeId}/runs/{runId}/cancel', { params: { planeId: plane, runId: run.id }, body: {} })
      .catch((err: unknown) => process.stderr.write(`planes: cancel failed: ${PlaneError.from(err).message}\n`));
  };
  process.on('SIGINT', onSigint);
  try {
    while (run.state === 'running') {
      out.progress(runProgress(run, cancelling));
      run = await hub.call('GET /v1/planes/{planeId}/runs/{runId}', { params: { planeId: plane, runId: run.id }, query: { waitSeconds: 1 } });
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  printRun(run, out);
  return run.summary.succeeded === run.summary.total ? ExitCode.Ok : ExitCode.PartialFailure;
}

const FAN_OUT = {
  restart: 'Restart the gateway of each agent',
  pause: 'Pause each agent: its gateway stops until resume',
  resume: 'Resume paused agents',
  'rotate-secrets': "Rotate each agent's secrets: a new data key, credential and gateway token",
} as const;

/** restart, pause, resume, rotate-secrets: one command kind over agents of the plane, as a run. */
function fanOut(kind: keyof typeof FAN_OUT) {
  return verb({
    name: kind,
    group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
    summary: FAN_OUT[kind],
    details: 'A live progress line on stderr, then a table AGENT RESULT DETAIL. Ctrl-C cancels the run; a second Ctrl-C leaves at once. Exit 1 unless every agent succeeded.',
    flags: [PLANE, NAMES, ...RATE, TIMEOUT],
    calls: ['POST /v1/planes/{planeId}/runs', 'GET /v1/planes/{planeId}/runs/{runId}', 'POST /v1/planes/{planeId}/runs/{runId}/cancel'],
    async run({ values: v, out, hub }) {
      const { run } = await hub.call('POST /v1/planes/{planeId}/runs', {
        params: { planeId: v.plane },
        body: { kind, ...runLimits(v) },
      });
      return follow(hub, v.plane, run, out);
    },
  });
}

export const restart = fanOut('restart');
export const pause = fanOut('pause');
export const resume = fanOut('resume');
export const rotateSecrets = fanOut('rotate-secrets');

export const sync = verb({
  name: 'sync',
  group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  summary: "Push each agent's brain to the bucket now",
  details: 'Same progress, table, Ctrl-C and exit codes as restart.',
  flags: [
    PLANE,
    NAMES,
    ...RATE,
    TIMEOUT,
    { name: 'no-databases', kind: 'boolean', help: 'files only, no fresh database snapshots' },
    { name: 'allow-deletes', kind: 'boolean', help: 'let this sync delete more files than the mass-delete guard allows' },
  ],
  calls: ['POST /v1/planes/{planeId}/runs', 'GET /v1/planes/{planeId}/runs/{runId}', 'POST /v1/planes/{planeId}/runs/{runId}/cancel'],
  async run({ values: v, out, hub }) {
    const { run } = await hub.call('POST /v1/planes/{planeId}/runs', {
      params: { planeId: v.plane },
      body: { kind: 'sync', args: { databases: !v['no-databases'], allowDeletes: v['allow-deletes'] }, ...runLimits(v) },
    });
    return follow(hub, v.plane, run, out);
  },
});

export const upgrade = verb({
  name: 'upgrade',
  group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  summary: 'Rolling upgrade of OpenClaw to --version V, or --rollback',
  details: 'A canary wave, then waves; the first failure (its agent rolled back) stops the rollout. Same progress, table (with WAVE), Ctrl-C and exit codes as restart.',
  flags: [
    PLANE,
    { name: 'version', value: 'V', help: 'the OpenClaw release (required unless --rollback)' },
    { name: 'rollback', kind: 'boolean', help: 'back to the release the last upgrade replaced' },
    { name: 'canary', kind: 'int', value: 'N', help: 'agents in the first wave (default 1)' },
    { name: 'max-unavailable', kind: 'limit', value: 'N|N%', help: 'agents upgrading at once after the canary (default 1)' },
    NAMES,
    { name: 'timeout-seconds', kind: 'int', value: 'N', help: 'per agent (default 1200)' },
  ],
  calls: ['POST /v1/planes/{planeId}/upgrade', 'GET /v1/planes/{planeId}/runs/{runId}', 'POST /v1/planes/{planeId}/runs/{runId}/cancel'],
  async run({ values: v, out, hub }) {
    if (!v.rollback && !v.version) throw new PlaneError(ErrorCode.InvalidArgument, '--version V (or --rollback) is required', { where: '--version' });
    const { run } = await hub.call('POST /v1/planes/{planeId}/upgrade', {
      params: { planeId: v.plane },
      body: {
        ...(v.version ? { version: v.version } : {}),
        ...(v.rollback ? { rollback: true } : {}),
        ...(v.canary !== undefined ? { canary: v.canary } : {}),
        ...(v['max-unavailable'] !== undefined ? { maxUnavailable: v['max-unavailable'] } : {}),
        ...(v.name ? { agents: v.name } : {}),
        ...(v['timeout-seconds'] !== undefined ? { timeoutSeconds: v['timeout-seconds'] } : {}),
      },
    });
    return follow(hub, v.plane, run, out);
  },
});

export const runs = verb({
  name: 'runs',
  group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  summary: "Past runs of a plane, scheduled ones too; --id: one run's results",
  flags: [PLANE, { name: 'id', value: 'RUN', help: "this run's per-agent table" }, { name: 'limit', kind: 'int', value: 'N', help: 'how many, up to 200', default: 50 }],
  calls: ['GET /v1/planes/{planeId}/runs', 'GET /v1/planes/{planeId}/runs/{runId}'],
  async run({ values: v, out, hub }) {
    if (v.id) {
      printRun(await hub.call('GET /v1/planes/{planeId}/runs/{runId}', { params: { planeId: v.plane, runId: v.id } }), out);
      return ExitCode.Ok;
    }
    const r = await hub.call('GET /v1/planes/{planeId}/runs', { params: { planeId: v.plane }, query: { limit: v.limit } });
    if (out.json) out.printJson(r);
    else {
      out.print(
        table(
          ['RUN', 'KIND', 'ACTOR', 'STARTED', 'STATE', 'OK', 'FAILED', 'SKIPPED'],
          r.runs.map((x) => [x.id, x.kind, x.actor, new Date(x.createdAt).toISOString(), x.state, String(x.summary.succeeded), String(x.summary.failed + x.summary.timedOut + x.summary.notDelivered), String(x.summary.skipped)]),
        ),
      );
    }
    return ExitCode.Ok;
  },
});

export const status = verb({
  name: 'status',
  group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  summary: "Health table of one plane or of all planes; with --name, the agent's brain too",
  details: '--check: exit 1 if any listed agent is not green.',
  flags: [
    { name: 'plane', value: 'P', help: 'one plane (default: all)' },
    { name: 'name', value: 'A', help: 'one agent' },
    { name: 'check', kind: 'boolean', help: 'exit 1 unless every listed agent is green' },
  ],
  calls: ['GET /v1/planes', 'GET /v1/planes/{planeId}/agents'],
  async run({ values: v, out, hub }) {
    const planes = v.plane ? [v.plane] : (await hub.call('GET /v1/planes', {})).planes.map((p) => p.name);
    let agents: Agent[] = [];
    for (const p of planes) agents = agents.concat((await hub.call('GET /v1/planes/{planeId}/agents', { params: { planeId: p } })).agents);
    if (v.name) {
      agents = agents.filter((a) => a.name === v.name);
      if (agents.length === 0) throw new PlaneError(ErrorCode.NotFound, `agent '${v.name}' not found${v.plane ? ` in plane '${v.plane}'` : ''}`);
    }
    const counts: Record<string, number> = { green: 0, yellow: 0, red: 0 };
    for (const a of agents) counts[a.health.color] = (counts[a.health.color] ?? 0) + 1;
    if (out.json) out.printJson({ agents, summary: counts });
    else out.print(`${agentTable(agents, process.stdout.isTTY)}\n\n${agents.length} agents: ${counts['green']} green, ${counts['yellow']} yellow, ${counts['red']} red`);
    // One agent: its brain too (what is synced, left out and why, the last restore).
    const one = agents[0];
    if (!out.json && v.name && agents.length === 1 && one) out.print(`\n${brainText(heartbeatOf(one)?.sync)}`);
    return v.check && agents.some((a) => a.health.color !== 'green') ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});

export const heal = verb({
  name: 'heal',
  group: 'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  summary: 'Self-healing state of each agent; --reset lets the hub restart red agents again',
  details: 'Without --reset: exit 1 while any breaker is open. With --reset: clear restart attempts and open breakers of one agent or the whole plane.',
  flags: [PLANE, { name: 'name', value: 'A', help: 'one agent' }, { name: 'reset', kind: 'boolean', help: 'clear attempts and open breakers' }],
  calls: ['POST /v1/planes/{planeId}/heal', 'GET /v1/planes/{planeId}/agents'],
  async run({ values: v, out, hub }) {
    if (v.reset) {
      const r = await hub.call('POST /v1/planes/{planeId}/heal', { params: { planeId: v.plane }, body: v.name ? { name: v.name } : {} });
      if (out.json) out.printJson(r);
      else out.print(r.reset.length ? `self-healing reset for ${r.reset.join(', ')}: the hub restarts them again while they stay red` : 'nothing to reset: no agent had restart attempts or an open breaker');
      return ExitCode.Ok;
    }
    let agents = (await hub.call('GET /v1/planes/{planeId}/agents', { params: { planeId: v.plane } })).agents;
    if (v.name) agents = agents.filter((a) => a.name === v.name);
    if (v.name && agents.length === 0) throw new PlaneError(ErrorCode.NotFound, `agent '${v.name}' not found in plane '${v.plane}'`);
    const rows = agents.map((a) => ({
      agent: a.name,
      health: a.health.color,
      healing: a.desiredState === 'paused' ? 'paused (not healed)' : a.healing?.breakerOpenAt ? 'STOPPED (breaker open)' : a.healing?.attempts ? 'restarting' : 'watching',
      restarts: a.healing?.attempts ?? 0,
      detail: a.healing?.breakerReason ?? a.healing?.lastError ?? '',
    }));
    if (out.json) out.printJson({ agents: rows });
    else out.print(table(['AGENT', 'HEALTH', 'SELF-HEALING', 'RESTARTS', 'DETAIL'], rows.map((r) => [r.agent, colour(r.health, process.stdout.isTTY), r.healing, String(r.restarts), r.detail])));
    return rows.some((r) => r.healing.startsWith('STOPPED')) ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});
