/**
 * The `planes` CLI. Every command takes --json (machine output on stdout,
 * nothing else there) and exits with a meaningful code: 0 ok, 1 some agents
 * failed, 2 usage, 3 not found, 4 auth, 5 hub unreachable, 6 conflict, 70 internal.
 * This module and up.ts are the only ones that print; only main() exits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Document, isScalar, visit } from 'yaml';
import { ErrorCode, ExitCode, PlaneError } from '../common/src/errors.ts';
import { intFlag, parseFlags } from '../common/src/cli-args.ts';
import { VERSION } from '../common/src/version.ts';
import { loadPlanesFile, readPlanesFile } from '../hub/src/planes-file.ts';
import { describePlan, type PlanView } from './views/plan-view.ts';
import { agentTable, type AgentRow, isUp } from './views/agent-table.ts';
import { brainText, verifyText, type VerifyView } from './views/brain-view.ts';
import { colour, table } from './format.ts';
import { HubClient, resolveTarget } from './hub-client.ts';
import { up } from './up.ts';
import { gcpCommands, preflightText, runPreflight } from './verbs/gcp.ts';
import type { CostRow } from '../hub/src/cost/cost-ledger.ts';

const GLOBAL = {
  hub: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

const HELP = `usage: planes <command> [flags]

Plane lifecycle
  create --name P [--infra-provider local|manual|gcp] [--region R] [--project ID]
         [--zone Z] [--network N --subnetwork S] [--skip-preflight]   (gcp: runs preflight first)
         [--identity-provider X] [--secrets-provider X] [--network-provider X] [--config planes.yaml]
  list
  delete --plane P [--force]
Agent lifecycle
  add-agent --plane P --name A --owner EMAIL [--machine-type T] [--model-tier haiku|sonnet|opus]
            [--budget-cap USD] [--group G] [--tools a,b] [--channels a,b] [--spot] [--no-wait] [--timeout-seconds N]
  update-agent --plane P --name A [--owner EMAIL] [--machine-type T] [--model-tier T] [--budget-cap USD]
               [--group G] [--tools a,b] [--channels a,b]
  remove-agent --plane P --name A
  restart-agent --plane P --name A [--mode auto|gateway|instance]
  reprovision --plane P --name A [--no-wait] [--timeout-seconds N]
                     (a fresh machine; the brain is restored from the bucket; waits until it is up)
  logs --plane P [--name A] [--follow] [--lines N]   (no --name: every agent, each line tagged, merged by time)
Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)
  restart|pause|resume|sync|rotate-secrets --plane P [--name A[,B]] [--max-concurrency N|N%] [--max-errors N|N%]
         [--timeout-seconds N]     (sync: [--no-databases] [--allow-deletes]; defaults: 50 at once, stop after the first error)
  upgrade --plane P --version V [--canary N] [--max-unavailable N|N%] [--name A[,B]] [--timeout-seconds N]
  upgrade --plane P --rollback      (back to the release the last upgrade replaced)
  runs --plane P [--id RUN] [--limit N]   (past runs, scheduled rotations included; or one run's results)
      Live progress on stderr, a per-agent table at the end; Ctrl-C cancels the run. Exit 1 unless every agent succeeded.
  status [--plane P] [--name A] [--check]
  heal --plane P [--name A] [--reset]   (self-healing state; --reset lets the hub restart red agents again)
Cost
  cost-report --plane P [--period 30d|mtd] [--by agent|owner|group] [--csv]
Brain (workspace + databases in the bucket)
  backup --plane P --name A
  snapshots --plane P --name A
  restore --plane P --name A [--at TIME | --snapshot ID]
  verify-backup --plane P --name A
  clone-agent --plane P --from A --name B --owner EMAIL [--soul-file FILE]
Secrets (values are write-only: stdin, a prompt, or --from-file; never argv)
  secrets set --plane P --name A KEY [--from-file F]
  secrets list --plane P --name A          secrets delete --plane P --name A KEY
  rotate-secrets: see Fleet operations
Google Cloud
  gcp preflight --project P --region R [--zone Z] [--agents N] [--machine-type T] [--image I]
         (APIs, the hub's roles, the image, quotas: what is missing, with the gcloud command that fixes it)
  ssh --plane P --name A [--exec]   (the owner's gcloud compute ssh ... --tunnel-through-iap; --exec runs it)
Audit
  audit [--plane P] [--name A] [--actor X] [--since TIME] [--limit N]
  audit verify
Declarative (planes.yaml)
  apply -f planes.yaml [--dry-run] [--prune] [--yes] [--wait-seconds N]
        (--prune plans removal of agents not in the file; removing needs --yes: it destroys their brains)
  export --plane P [-o FILE]
Embedded
  up -f planes.yaml [--data-dir DIR] [--grpc-listen H:P] [--api-listen H:P]
     [--heartbeat-interval-ms N] [--heal-red-after-ms N] [--timeout-seconds N] [--runtime openclaw|placeholder]
     [--runtime-root DIR] [--verbose] [--json]

Help:         planes help | planes --help | planes COMMAND --help (this text, exit 0); planes --version
Global flags: --hub URL --token-file FILE --token TOKEN (visible in the process list) --data-dir DIR --json
Environment:  PLANES_HUB, PLANES_TOKEN, PLANES_TOKEN_FILE, PLANES_DATA_DIR`;

type Out = { json: boolean; print: (text: string) => void; printJson: (v: unknown) => void; progress: (text: string) => void };

function require_(values: Record<string, unknown>, ...names: string[]): void {
  for (const n of names) {
    if (values[n] === undefined || values[n] === '') throw new PlaneError(ErrorCode.InvalidArgument, `--${n} is required`, { where: `--${n}` });
  }
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

function client(values: Record<string, unknown>): HubClient {
  if (values['token'] !== undefined) {
    process.stderr.write('planes: warning: --token puts the token in the process list; prefer PLANES_TOKEN or --token-file\n');
  }
  return new HubClient(
    resolveTarget({
      hub: values['hub'] as string | undefined,
      token: values['token'] as string | undefined,
      tokenFile: values['token-file'] as string | undefined,
      dataDir: values['data-dir'] as string | undefined,
    }),
  );
}

/** Flags shared by add-agent and update-agent. */
const AGENT_FLAGS = {
  ...GLOBAL,
  plane: { type: 'string' },
  name: { type: 'string' },
  owner: { type: 'string' },
  'machine-type': { type: 'string' },
  'model-tier': { type: 'string' },
  'budget-cap': { type: 'string' },
  group: { type: 'string' },
  tools: { type: 'string' },
  channels: { type: 'string' },
  spot: { type: 'boolean' },
} as const;

/** The REST body fields for an agent's settings, only those given on the command line. */
function agentSettings(values: Record<string, unknown>): Record<string, unknown> {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k]) : undefined);
  const budget = intFlag(str('budget-cap'), 'budget-cap');
  return {
    ...(str('owner') ? { ownerEmail: str('owner') } : {}),
    ...(str('machine-type') ? { machineType: str('machine-type') } : {}),
    ...(str('model-tier') ? { modelTier: str('model-tier') } : {}),
    ...(budget !== undefined ? { budgetCap: budget } : {}),
    ...(str('group') ? { group: str('group') } : {}),
    ...(str('tools') !== undefined ? { tools: list(str('tools')) } : {}),
    ...(str('channels') !== undefined ? { channels: list(str('channels')) } : {}),
    ...(typeof values['spot'] === 'boolean' ? { spot: values['spot'] } : {}),
  };
}

interface Command {
  (args: string[], out: Out): Promise<number>;
}

const commands: Record<string, Command> = {
  ...gcpCommands({ globalFlags: GLOBAL, client: (v) => client(v) }),
  async create(args, out) {
    const { values } = parseFlags(args, {
      ...GLOBAL,
      name: { type: 'string' },
      'infra-provider': { type: 'string' },
      'identity-provider': { type: 'string' },
      'secrets-provider': { type: 'string' },
      'network-provider': { type: 'string' },
      region: { type: 'string' },
      project: { type: 'string' },
      zone: { type: 'string' },
      network: { type: 'string' },
      subnetwork: { type: 'string' },
      'skip-preflight': { type: 'boolean', default: false },
      config: { type: 'string' },
    });
    const file = values.config ? loadPlanesFile(values.config) : undefined;
    const name = values.name ?? file?.metadata.name;
    if (!name) throw new PlaneError(ErrorCode.InvalidArgument, '--name is required', { where: '--name' });
    const infra = file?.spec.infrastructure;
    const gcp = { zone: values.zone ?? infra?.zone, network: values.network ?? infra?.network, subnetwork: values.subnetwork ?? infra?.subnetwork };
    const body = {
      name,
      infraProvider: values['infra-provider'] ?? file?.spec.infrastructure.provider ?? 'local',
      ...((values['identity-provider'] ?? file?.spec.identity?.provider) ? { identityProvider: values['identity-provider'] ?? file?.spec.identity?.provider } : {}),
      ...((values['secrets-provider'] ?? file?.spec.secrets?.provider) ? { secretsProvider: values['secrets-provider'] ?? file?.spec.secrets?.provider } : {}),
      ...((values['network-provider'] ?? file?.spec.networking?.provider) ? { networkProvider: values['network-provider'] ?? file?.spec.networking?.provider } : {}),
      ...((values.region ?? file?.spec.infrastructure.region) ? { region: values.region ?? file?.spec.infrastructure.region } : {}),
      ...((values.project ?? file?.spec.infrastructure.project) ? { project: values.project ?? file?.spec.infrastructure.project } : {}),
      ...Object.fromEntries(Object.entries(gcp).filter(([, v]) => v !== undefined)),
      ...(file?.spec.infrastructure.defaults ? { defaults: file.spec.infrastructure.defaults } : {}),
      ...(file?.spec.costs ? { costs: file.spec.costs } : {}),
    };
    if (body.infraProvider === 'gcp' && !values['skip-preflight']) {
      // A plane whose project cannot hold it fails here, before anything is created.
      out.progress(`preflight for project ${String(body.project ?? '')}...`);
      const r = await runPreflight(client(values), {
        project: String(body.project ?? ''),
        region: String(body.region ?? ''),
        ...(gcp.zone ? { zone: gcp.zone } : {}),
        ...(file?.spec.infrastructure.defaults?.image ? { image: file.spec.infrastructure.defaults.image } : {}),
        ...(file ? { agents: Math.max(1, file.spec.agents.length), ...(file.spec.infrastructure.defaults?.machineType ? { machineType: file.spec.infrastructure.defaults.machineType } : {}) } : {}),
      });
      if (!r.ok) {
        if (out.json) out.printJson({ preflight: r });
        else out.print(preflightText(r));
        throw new PlaneError(ErrorCode.FailedPrecondition, `plane ${name} not created: project ${r.project} failed preflight (--skip-preflight to create it anyway)`);
      }
    }
    const plane = await client(values).request<{ name: string; spec: { infraProvider: string } }>('POST', '/v1/planes', body);
    if (out.json) out.printJson(plane);
    else out.print(`created plane ${plane.name} (infra: ${plane.spec.infraProvider})`);
    return ExitCode.Ok;
  },

  async list(args, out) {
    const { values } = parseFlags(args, GLOBAL);
    const r = await client(values).request<{ planes: Array<{ name: string; agentCount: number; spec: { infraProvider: string; region: string } }> }>('GET', '/v1/planes');
    if (out.json) out.printJson(r);
    else out.print(table(['PLANE', 'AGENTS', 'INFRA', 'REGION'], r.planes.map((p) => [p.name, String(p.agentCount), p.spec.infraProvider, p.spec.region])));
    return ExitCode.Ok;
  },

  async delete(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, force: { type: 'boolean', default: false } });
    require_(values, 'plane');
    const r = await client(values).request<{ deleted: string; removedAgents: string[] }>('DELETE', `/v1/planes/${enc(values.plane)}${values.force ? '?force=true' : ''}`);
    if (out.json) out.printJson(r);
    else out.print(`deleted plane ${r.deleted}${r.removedAgents.length ? ` and its agents: ${r.removedAgents.join(', ')}` : ''}`);
    return ExitCode.Ok;
  },

  async 'add-agent'(args, out) {
    const { values } = parseFlags(args, { ...AGENT_FLAGS, 'no-wait': { type: 'boolean', default: false }, 'timeout-seconds': { type: 'string' } });
    require_(values, 'plane', 'name', 'owner');
    const c = client(values);
    const body = { name: values.name, ...agentSettings(values) };
    out.progress(`provisioning ${values.plane}/${values.name}...`);
    const agent = await c.request<AgentRow>('POST', `/v1/planes/${enc(values.plane)}/agents`, body);
    const waited = values['no-wait'] ? agent : await waitUntilUp(c, values, agent, 120, out);
    if (out.json) out.printJson(waited);
    else out.print(agentTable([waited], process.stdout.isTTY));
    return values['no-wait'] || isUp(waited) ? ExitCode.Ok : ExitCode.PartialFailure;
  },

  async 'update-agent'(args, out) {
    const { values } = parseFlags(args, AGENT_FLAGS);
    require_(values, 'plane', 'name');
    const body = { ...agentSettings(values), waitSeconds: 120 };
    if (Object.keys(body).length === 1) throw new PlaneError(ErrorCode.InvalidArgument, 'nothing to change: pass at least one of --owner, --machine-type, --model-tier, --budget-cap, --group, --tools, --channels');
    out.progress(`updating ${values.plane}/${values.name}...`);
    const r = await client(values).request<{ agent: AgentRow; command: CommandView | null }>('PATCH', `/v1/planes/${enc(values.plane)}/agents/${enc(values.name)}`, body);
    if (out.json) out.printJson(r);
    else out.print(r.command ? describeCommand(values.name as string, r.command) : `${values.name}: updated (nothing the agent runs changed)`);
    return r.command && r.command.state !== 'succeeded' ? ExitCode.PartialFailure : ExitCode.Ok;
  },

  async 'remove-agent'(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' } });
    require_(values, 'plane', 'name');
    out.progress(`removing ${values.plane}/${values.name}...`);
    const r = await client(values).request<{ removed: string }>('DELETE', `/v1/planes/${enc(values.plane)}/agents/${enc(values.name)}`);
    if (out.json) out.printJson(r);
    else out.print(`removed agent ${values.plane}/${r.removed}`);
    return ExitCode.Ok;
  },

  async 'restart-agent'(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, mode: { type: 'string' } });
    require_(values, 'plane', 'name');
    out.progress(`restarting ${values.plane}/${values.name}...`);
    const r = await client(values).request<{ mode: string; command: CommandView | null }>(
      'POST',
      `/v1/planes/${enc(values.plane)}/agents/${enc(values.name)}/restart`,
      { mode: values.mode ?? 'auto', waitSeconds: 60 },
    );
    if (out.json) out.printJson(r);
    else out.print(r.command ? describeCommand(values.name as string, r.command) : `restarted the ${r.mode} of ${values.plane}/${values.name}`);
    return r.command && r.command.state !== 'succeeded' ? ExitCode.PartialFailure : ExitCode.Ok;
  },

  async logs(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, follow: { type: 'boolean', default: false }, lines: { type: 'string' } });
    require_(values, 'plane');
    const lines = intFlag(values.lines, 'lines') ?? 200;
    // Without --name, the whole plane: every line names its agent, merged by time.
    const path = values.name ? `${agentPath(values)}/logs` : `/v1/planes/${enc(values.plane)}/logs`;
    let failed = false;
    await client(values).stream(`${path}?lines=${lines}&follow=${values.follow ? 'true' : 'false'}`, (v) => {
      const l = v as { agent?: string; atMs?: number; source?: string; text?: string; error?: string };
      const who = l.agent === undefined ? '' : `${l.agent} `;
      if (l.error) failed = true;
      if (out.json) out.print(JSON.stringify(l));
      else if (l.error) process.stderr.write(`planes: ${l.agent === undefined ? '' : `${l.agent}: `}${l.error}\n`);
      else out.print(`${new Date(l.atMs ?? 0).toISOString()} ${who}${(l.source ?? '').padEnd(7)} ${l.text ?? ''}`);
    });
    return failed ? ExitCode.PartialFailure : ExitCode.Ok;
  },

  pause: (args, out) => runFanOut('pause', args, out),
  resume: (args, out) => runFanOut('resume', args, out),

  async status(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, check: { type: 'boolean', default: false } });
    const c = client(values);
    const planes = values.plane ? [values.plane] : (await c.request<{ planes: Array<{ name: string }> }>('GET', '/v1/planes')).planes.map((p) => p.name);
    let agents: AgentRow[] = [];
    for (const p of planes) agents = agents.concat((await c.request<{ agents: AgentRow[] }>('GET', `/v1/planes/${enc(p)}/agents`)).agents);
    if (values.name) {
      agents = agents.filter((a) => a.name === values.name);
      if (agents.length === 0) throw new PlaneError(ErrorCode.NotFound, `agent '${values.name}' not found${values.plane ? ` in plane '${values.plane}'` : ''}`);
    }
    const counts = { green: 0, yellow: 0, red: 0 } as Record<string, number>;
    for (const a of agents) counts[a.health.color] = (counts[a.health.color] ?? 0) + 1;
    if (out.json) out.printJson({ agents, summary: counts });
    else out.print(`${agentTable(agents, process.stdout.isTTY)}\n\n${agents.length} agents: ${counts['green']} green, ${counts['yellow']} yellow, ${counts['red']} red`);
    // One agent: its brain too (what is synced, left out and why, the last restore).
    if (!out.json && values.name && agents.length === 1) out.print(`\n${brainText(agents[0]?.heartbeat?.heartbeat.sync)}`);
    return values.check && agents.some((a) => a.health.color !== 'green') ? ExitCode.PartialFailure : ExitCode.Ok;
  },

  async heal(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, reset: { type: 'boolean', default: false } });
    require_(values, 'plane');
    const c = client(values);
    if (values.reset) {
      const r = await c.request<{ reset: string[] }>('POST', `/v1/planes/${enc(values.plane)}/heal`, values.name ? { name: values.name } : {});
      if (out.json) out.printJson(r);
      else out.print(r.reset.length ? `self-healing reset for ${r.reset.join(', ')}: the hub restarts them again while they stay red` : 'nothing to reset: no agent had restart attempts or an open breaker');
      return ExitCode.Ok;
    }
    let agents = (await c.request<{ agents: Array<AgentRow & { healing: HealingView | null; desiredState: string }> }>('GET', `/v1/planes/${enc(values.plane)}/agents`)).agents;
    if (values.name) agents = agents.filter((a) => a.name === values.name);
    if (values.name && agents.length === 0) throw new PlaneError(ErrorCode.NotFound, `agent '${values.name}' not found in plane '${values.plane}'`);
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

  async 'cost-report'(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, period: { type: 'string' }, by: { type: 'string' }, csv: { type: 'boolean', default: false } });
    require_(values, 'plane');
    if (values.by !== undefined && !['agent', 'owner', 'group'].includes(values.by)) throw new PlaneError(ErrorCode.InvalidArgument, `--by must be agent, owner or group, got '${values.by}'`, { where: '--by' });
    if (values.csv && out.json) throw new PlaneError(ErrorCode.InvalidArgument, '--csv and --json cannot be combined', { where: '--csv' });
    const q = new URLSearchParams({ period: values.period ?? '30d', by: values.by ?? 'agent' });
    const r = await client(values).request<CostReportView>('GET', `/v1/planes/${enc(values.plane)}/cost-report?${q.toString()}`);
    if (out.json) out.printJson(r);
    else if (values.csv) out.print(costCsv(r));
    else out.print(costTable(r));
    return ExitCode.Ok;
  },

  /** Like add-agent: waits until the new machine is up (its brain restored, its gateway ready) unless --no-wait. */
  async reprovision(args, out) {
    const values = agentFlags(args, { 'no-wait': { type: 'boolean', default: false }, 'timeout-seconds': { type: 'string' } });
    const c = client(values);
    out.progress(`reprovisioning ${values.plane}/${values.name}: destroying the old machine, creating a new one...`);
    const r = await c.request<{ agent: AgentRow }>('POST', `${agentPath(values)}/reprovision`);
    if (values['no-wait']) {
      if (out.json) out.printJson(r);
      else out.print(`${values.name}: reprovisioned; it restores its brain before its gateway starts (watch with planes status --name ${values.name})`);
      return ExitCode.Ok;
    }
    const agent = await waitUntilUp(c, values, r.agent, 300, out);
    if (out.json) out.printJson({ agent });
    else out.print(agentTable([agent], process.stdout.isTTY));
    return isUp(agent) ? ExitCode.Ok : ExitCode.PartialFailure;
  },

  sync: (args, out) => runFanOut('sync', args, out),

  async backup(args, out) {
    const values = agentFlags(args);
    out.progress(`backing up ${values.plane}/${values.name} (files and database snapshots)...`);
    const r = await client(values).request<{ command: CommandView }>('POST', `${agentPath(values)}/backup`, { waitSeconds: 120 });
    return reportCommand(out, values.name as string, r.command, (o) => `backup ${String(o['snapshot'])} (${String(o['ms'])} ms)`);
  },

  async snapshots(args, out) {
    const values = agentFlags(args);
    const r = await client(values).request<{ snapshots: Array<{ id: string; at: string; reason: string; current: boolean }> }>('GET', `${agentPath(values)}/snapshots`);
    if (out.json) out.printJson(r);
    else out.print(table(['SNAPSHOT', 'TAKEN', 'REASON', ''], r.snapshots.map((x) => [x.id, x.at, x.reason, x.current ? 'current' : ''])));
    return ExitCode.Ok;
  },

  async restore(args, out) {
    const values = agentFlags(args, { at: { type: 'string' }, snapshot: { type: 'string' } });
    if (values.at !== undefined && Number.isNaN(Date.parse(values.at))) throw new PlaneError(ErrorCode.InvalidArgument, `--at ${values.at}: not a date/time (use ISO 8601, e.g. 2026-11-21T09:30:00Z)`, { where: '--at' });
    out.progress(`restoring ${values.plane}/${values.name}: stopping the gateway, restoring, starting, checking continuity...`);
    const body = { ...(values.at ? { at: new Date(Date.parse(values.at)).toISOString() } : {}), ...(values.snapshot ? { snapshot: values.snapshot } : {}), waitSeconds: 300 };
    const r = await client(values).request<{ command: CommandView }>('POST', `${agentPath(values)}/restore`, body);
    return reportCommand(out, values.name as string, r.command, (o) => `restored ${String(o['restored'])}: ${String(o['files'])} files, ${String(o['databases'])} databases; continuity ${JSON.stringify(o['continuity'])}`);
  },

  async 'verify-backup'(args, out) {
    const values = agentFlags(args);
    out.progress(`restoring the latest snapshot of ${values.plane}/${values.name} into scratch space...`);
    const r = await client(values).request<VerifyView>('POST', `${agentPath(values)}/verify-backup`);
    if (out.json) out.printJson(r);
    else out.print(verifyText(r));
    // 1: the drill ran and found something wrong (every problem is listed); errors before it ran exit as usual.
    return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
  },

  async 'clone-agent'(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, from: { type: 'string' }, name: { type: 'string' }, owner: { type: 'string' }, 'soul-file': { type: 'string' } });
    require_(values, 'plane', 'from', 'name', 'owner');
    let soul: string | undefined;
    if (values['soul-file']) {
      try {
        soul = readFileSync(values['soul-file'], 'utf8');
      } catch (err) {
        throw new PlaneError(ErrorCode.InvalidArgument, `--soul-file ${values['soul-file']}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '--soul-file' });
      }
    }
    out.progress(`cloning the brain of ${values.plane}/${values.from} into ${values.name}...`);
    const r = await client(values).request<{ agent: AgentRow; snapshot: string; files: number; databases: string[] }>('POST', `/v1/planes/${enc(values.plane)}/agents/${enc(values.from)}/clone`, {
      name: values.name,
      ownerEmail: values.owner,
      ...(soul !== undefined ? { soul } : {}),
    });
    if (out.json) out.printJson(r);
    else out.print(`${values.name}: created from ${values.from}'s brain (${r.files} files, databases ${r.databases.join(', ') || 'none'}; credentials not copied)`);
    return ExitCode.Ok;
  },

  async audit(args, out) {
    if (args[0] === 'verify') {
      const { values } = parseFlags(args.slice(1), GLOBAL);
      const r = await client(values).request<{ ok: boolean; rows: number; headHash: string | null; headId: number | null; problems: { id: number; problem: string }[] }>('POST', '/v1/audit/verify');
      if (out.json) out.printJson(r);
      else {
        out.print(r.ok ? `audit log intact: ${r.rows} rows, head #${r.headId ?? '-'} ${r.headHash ?? ''}` : `audit log TAMPERED (${r.problems.length} problems in ${r.rows} rows):`);
        for (const p of r.problems) out.print(`  row ${p.id}: ${p.problem}`);
      }
      return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
    }
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, actor: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } });
    if (values.since !== undefined && Number.isNaN(Date.parse(values.since))) throw new PlaneError(ErrorCode.InvalidArgument, `--since ${values.since}: not a date/time (use ISO 8601)`, { where: '--since' });
    const q = new URLSearchParams();
    if (values.plane) q.set('plane', values.plane);
    if (values.name) q.set('agent', values.name);
    if (values.actor) q.set('actor', values.actor);
    if (values.since) q.set('since', new Date(Date.parse(values.since)).toISOString());
    q.set('limit', String(intFlag(values.limit, 'limit') ?? 200));
    const r = await client(values).request<{ events: Array<{ id: number; at: number; actor: string; action: string; plane: string | null; agent: string | null; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?${q.toString()}`);
    if (out.json) out.printJson(r);
    else out.print(table(['#', 'TIME', 'ACTOR', 'ACTION', 'AGENT', 'OUTCOME', 'DETAIL'], r.events.map((e) => [String(e.id), new Date(e.at).toISOString(), e.actor, e.action, e.plane ? `${e.plane}/${e.agent ?? '*'}` : '', e.outcome, JSON.stringify(e.detail)])));
    return ExitCode.Ok;
  },

  async secrets(args, out) {
    const [sub, ...rest] = args;
    if (sub === 'list') {
      const values = agentFlags(rest);
      const r = await client(values).request<{ provider: string; secrets: Array<{ name: string; version: number; kind: string; updatedAt: number }> }>('GET', `${agentPath(values)}/secrets`);
      if (out.json) out.printJson(r);
      else out.print(table(['NAME', 'VERSION', 'KIND', 'UPDATED'], r.secrets.map((x) => [x.name, String(x.version), x.kind, new Date(x.updatedAt).toISOString()])));
      return ExitCode.Ok;
    }
    if (sub === 'set' || sub === 'delete') {
      const { values, positionals } = parseFlags(rest, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, 'from-file': { type: 'string' } }, true);
      require_(values, 'plane', 'name');
      const key = positionals[0];
      if (!key || positionals.length > 1) throw new PlaneError(ErrorCode.InvalidArgument, `usage: planes secrets ${sub} --plane P --name A KEY${sub === 'set' ? ' (the value comes from stdin, a prompt, or --from-file; never from the command line)' : ''}`, { where: 'KEY' });
      const path = `${agentPath(values)}/secrets/${enc(key)}`;
      if (sub === 'delete') {
        const r = await client(values).request<{ deleted: string }>('DELETE', path);
        if (out.json) out.printJson(r);
        else out.print(`${values.name}: deleted ${key}`);
        return ExitCode.Ok;
      }
      const value = await readSecretValue(key, values['from-file']);
      const r = await client(values).request<{ secret: { name: string; version: number } }>('PUT', path, { value: value.toString('base64'), encoding: 'base64' });
      value.fill(0);
      if (out.json) out.printJson(r);
      else out.print(`${values.name}: ${key} set (version ${r.secret.version}); the agent reloads it`);
      return ExitCode.Ok;
    }
    throw new PlaneError(ErrorCode.InvalidArgument, "usage: planes secrets set|list|delete --plane P --name A [KEY]", { where: 'secrets' });
  },

  'rotate-secrets': (args, out) => runFanOut('rotate-secrets', args, out),

  /** Past runs of a plane (yours, scheduled rotations, upgrades), or one run's per-agent results. */
  async runs(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, id: { type: 'string' }, limit: { type: 'string' } });
    require_(values, 'plane');
    const c = client(values);
    if (values.id) {
      const run = await c.request<RunView>('GET', `/v1/planes/${enc(values.plane)}/runs/${enc(values.id)}`);
      printRun(run, out);
      return ExitCode.Ok;
    }
    const r = await c.request<{ runs: Array<RunView & { actor: string; createdAt: number }> }>('GET', `/v1/planes/${enc(values.plane)}/runs?limit=${intFlag(values.limit, 'limit') ?? 50}`);
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
  upgrade: (args, out) => runFanOut('upgrade', args, out),
  restart: (args, out) => runFanOut('restart', args, out),

  async apply(args, out) {
    const { values } = parseFlags(args, {
      ...GLOBAL,
      file: { type: 'string', short: 'f' },
      'dry-run': { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      'wait-seconds': { type: 'string' },
    });
    if (!values.file) throw new PlaneError(ErrorCode.InvalidArgument, '-f planes.yaml is required', { where: '-f' });
    const parsed = readPlanesFile(values.file);
    const plane = parsed.file.metadata.name;
    const c = client(values);
    // The hub validates the document again; point its complaints back into the file.
    const inFile = async <T>(call: Promise<T>): Promise<T> => {
      try {
        return await call;
      } catch (err) {
        const e = PlaneError.from(err);
        const m = /^body\.document\.(\S+)/.exec(e.where ?? '');
        if (!m?.[1]) throw e;
        const where = parsed.locate(m[1]);
        throw new PlaneError(e.code, `${where} ${e.message.replace(/^body\.document\./, '')}`, { where });
      }
    };
    const plan = await inFile(c.request<PlanView>('POST', `/v1/planes/${enc(plane)}/plan`, { document: parsed.file, prune: values.prune }));
    if (!out.json) out.print(describePlan(plan, parsed.locate));
    const firstError = plan.errors[0];
    if (firstError) {
      if (out.json) out.printJson({ plan });
      const where = parsed.locate(firstError.path);
      throw new PlaneError(ErrorCode.FailedPrecondition, `${where} ${firstError.path}: ${firstError.message}; nothing was applied`, { where });
    }
    if (values['dry-run'] || plan.empty) {
      if (out.json) out.printJson({ plan, results: [], summary: { ok: 0, pending: 0, failed: 0 } });
      else if (values['dry-run'] && !plan.empty) out.print('dry run: nothing was applied');
      return ExitCode.Ok;
    }
    if (plan.summary.remove > 0 && !values.yes) {
      if (out.json) out.printJson({ plan });
      throw new PlaneError(
        ErrorCode.InvalidArgument,
        `the plan removes ${plan.summary.remove} agent(s): their machines and brains are destroyed. Pass --yes to confirm; nothing was applied`,
        { where: '--yes' },
      );
    }
    out.progress(`applying to plane ${plane}...`);
    const waitSeconds = intFlag(values['wait-seconds'], 'wait-seconds') ?? 60;
    const report = await inFile(
      c.request<{ plan: PlanView; results: Array<{ agent: string; action: string; outcome: string; message: string | null }>; summary: { ok: number; pending: number; failed: number } }>(
        'POST',
        `/v1/planes/${enc(plane)}/apply`,
        { document: parsed.file, prune: values.prune, fingerprint: plan.fingerprint, waitSeconds: Math.min(waitSeconds, 300) },
      ),
    );
    if (out.json) out.printJson(report);
    else {
      if (report.results.length > 0) out.print(`\n${table(['AGENT', 'ACTION', 'RESULT', 'DETAIL'], report.results.map((r) => [r.agent, r.action, r.outcome, r.message ?? '']))}`);
      out.print(`\napplied: ${report.summary.ok} ok, ${report.summary.pending} pending, ${report.summary.failed} failed${plan.planeAction !== 'none' ? ` (plane ${plan.planeAction}d)` : ''}`);
    }
    return report.summary.failed > 0 || report.summary.pending > 0 ? ExitCode.PartialFailure : ExitCode.Ok;
  },

  async export(args, out) {
    const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, output: { type: 'string', short: 'o' } });
    require_(values, 'plane');
    const r = await client(values).request<{ document: unknown }>('GET', `/v1/planes/${enc(values.plane)}/export`);
    const doc = new Document(r.document);
    // Lists of names read best on one line, as people write them: tools: [email, calendar].
    visit(doc, { Seq: (_key, node) => void (node.flow = node.items.every((i) => isScalar(i))) });
    const text = `# planes export --plane ${values.plane as string}: applying this file to the plane changes nothing.\n${doc.toString({ lineWidth: 0, flowCollectionPadding: false })}`;
    if (values.output) {
      try {
        writeFileSync(values.output, text, { mode: 0o644 });
      } catch (err) {
        throw new PlaneError(ErrorCode.InvalidArgument, `cannot write ${values.output}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '-o' });
      }
      if (out.json) out.printJson({ file: values.output, document: r.document });
      else out.print(`wrote ${values.output}`);
    } else if (out.json) out.printJson(r.document);
    else process.stdout.write(text);
    return ExitCode.Ok;
  },

  up: (args) => up(args),
};


/**
 * A secret value from --from-file, from stdin when it is not a terminal, or from
 * a prompt with echo off. Never from argv (the process list shows argv). One
 * trailing newline is dropped: `echo KEY | planes secrets set` means KEY.
 */
async function readSecretValue(key: string, fromFile: string | undefined): Promise<Buffer> {
  let value: Buffer;
  if (fromFile) {
    try {
      value = readFileSync(fromFile);
    } catch (err) {
      throw new PlaneError(ErrorCode.InvalidArgument, `--from-file ${fromFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '--from-file' });
    }
  } else if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    value = Buffer.concat(chunks);
  } else {
    value = await promptHidden(`value for ${key}: `);
  }
  if (value.at(-1) === 0x0a) value = value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
  if (value.length === 0) throw new PlaneError(ErrorCode.InvalidArgument, `no value for ${key}: pipe it on stdin, use --from-file, or type it at the prompt`, { where: 'value' });
  return value;
}

function promptHidden(question: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    const bytes: number[] = [];
    const onData = (chunk: Buffer): void => {
      for (const b of chunk) {
        if (b === 0x0d || b === 0x0a || b === 0x04) {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(Buffer.from(bytes));
          return;
        }
        if (b === 0x03) {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (b === 0x7f) bytes.pop();
        else bytes.push(b);
      }
    };
    stdin.on('data', onData);
  });
}

interface HealingView {
  attempts: number;
  breakerOpenAt: number | null;
  breakerReason: string | null;
  lastError: string | null;
}

interface CostReportView {
  plane: string;
  by: string;
  period: { spec: string; from: string; to: string };
  rows: Array<
    Omit<CostRow, 'byModel'> & {
      owner?: string;
      budgetCapUsd?: number | null;
      monthToDateUsd?: number;
      budgetUsedPct?: number | null;
      removed?: boolean;
    }
  >;
  totals: { infraUsd: number; modelUsd: number; totalUsd: number; machineHours: number; totalTokens: number };
}

const usd = (n: number): string => `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;

function costTable(r: CostReportView): string {
  const agentView = r.by === 'agent';
  const headers = [r.by.toUpperCase(), ...(agentView ? ['OWNER'] : ['AGENTS']), 'MACHINE', 'MODEL', 'TOTAL', 'TOKENS', 'MACHINE-H', ...(agentView ? ['BUDGET (THIS MONTH)'] : [])];
  const rows = r.rows.map((x) => [
    x.removed ? `${x.key} (removed)` : x.key,
    agentView ? (x.owner ?? '') : String(x.agents.length),
    usd(x.infraUsd) + (x.unpricedMachineTypes.length ? ` (no price: ${x.unpricedMachineTypes.join(', ')})` : ''),
    usd(x.modelUsd),
    usd(x.totalUsd),
    String(x.totalTokens),
    x.machineHours.toFixed(1),
    ...(agentView ? [x.budgetCapUsd === null || x.budgetCapUsd === undefined ? '-' : `${usd(x.monthToDateUsd ?? 0)} of $${x.budgetCapUsd} (${x.budgetUsedPct ?? 0}%)`] : []),
  ]);
  rows.push(['TOTAL', '', usd(r.totals.infraUsd), usd(r.totals.modelUsd), usd(r.totals.totalUsd), String(r.totals.totalTokens), r.totals.machineHours.toFixed(1), ...(agentView ? [''] : [])]);
  return `${r.plane}: ${r.period.from} .. ${r.period.to} (UTC), USD\n${table(headers, rows)}`;
}

function costCsv(r: CostReportView): string {
  const cell = (v: string | number | boolean | null | undefined): string => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = [r.by, 'agents', 'infra_usd', 'model_usd', 'total_usd', 'machine_hours', 'input_tokens', 'output_tokens', 'total_tokens', 'owner', 'budget_cap_usd', 'month_to_date_usd', 'budget_used_pct', 'period_from', 'period_to'];
  const lines = r.rows.map((x) =>
    [x.key, x.agents.join(' '), x.infraUsd, x.modelUsd, x.totalUsd, x.machineHours, x.inputTokens, x.outputTokens, x.totalTokens, x.owner, x.budgetCapUsd, x.monthToDateUsd, x.budgetUsedPct, r.period.from, r.period.to].map(cell).join(','),
  );
  return [head.join(','), ...lines].join('\n');
}

interface CommandView {
  id: string;
  state: string;
  output: unknown;
  errorMessage: string | null;
}

function describeCommand(agent: string, c: CommandView): string {
  if (c.state === 'succeeded') return `${agent}: ok`;
  if (c.state === 'pending' || c.state === 'delivered' || c.state === 'accepted') return `${agent}: ${c.state} (command ${c.id}; the agent will apply it when reachable)`;
  return `${agent}: ${c.state}${c.errorMessage ? `: ${c.errorMessage}` : ''}`;
}

interface RunTargetView {
  agent: string;
  state: string;
  wave: number | null;
  commands: Array<{ kind: string; id: string }>;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  output: unknown;
}
interface RunView {
  id: string;
  kind: string;
  state: string;
  maxConcurrency: number;
  maxErrors: number;
  waves: number[] | null;
  stopReason: string | null;
  summary: { total: number; queued: number; running: number; succeeded: number; failed: number; timedOut: number; notDelivered: number; unknown: number; skipped: number };
  targets: RunTargetView[];
}

/** What a succeeded agent's output says, in a few words, per kind. */
function runDetail(kind: string, t: RunTargetView): string {
  if (t.state !== 'succeeded') return t.error ?? '';
  const o = (t.output ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  switch (kind) {
    case 'sync':
      return `snapshot ${str(o['snapshot'])}: ${str(o['uploadedFiles'])} files up, ${str(o['databases'])} databases`;
    case 'rotate-secrets': {
      const k = o['dataKey'] as Record<string, unknown> | undefined;
      const brain = k ? `, data key ${str(k['keyId'])} (${str(k['rewritten'])} snapshots, ${str(k['chunks'])} chunks re-encrypted)` : '';
      return `secrets ${str(o['revision'])}, gateway ${str(o['gateway'])}${brain}`;
    }
    case 'upgrade': {
      const u = (o['upgrade'] ?? {}) as Record<string, unknown>;
      return u['changed'] === false ? `already on ${str(u['to'])}` : `${str(u['from'])} -> ${str(u['to'])} (snapshot ${str(u['snapshot'])})`;
    }
    default:
      return o['gateway'] !== undefined ? `gateway ${str(o['gateway'])}` : '';
  }
}

const RUN_FLAGS = {
  ...GLOBAL,
  plane: { type: 'string' },
  name: { type: 'string' },
  'max-concurrency': { type: 'string' },
  'max-errors': { type: 'string' },
  'timeout-seconds': { type: 'string' },
  'no-databases': { type: 'boolean', default: false },
  'allow-deletes': { type: 'boolean', default: false },
  version: { type: 'string' },
  canary: { type: 'string' },
  'max-unavailable': { type: 'string' },
  rollback: { type: 'boolean', default: false },
} as const;

/** "N" or "N%" as the API takes it. */
function limitFlag(v: string | undefined, name: string): number | string | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,6}%?$/.test(v)) throw new PlaneError(ErrorCode.InvalidArgument, `--${name} ${v}: a whole number or a share like 25%`, { where: `--${name}` });
  return v.endsWith('%') ? v : Number(v);
}

/**
 * A fan-out run over one agent, a list (--name a,b) or the whole plane, driven
 * by the hub (maxConcurrency, maxErrors): a live progress line on stderr, then a
 * per-agent table. Ctrl-C cancels the run (no new agent starts; commands not yet
 * delivered are withdrawn, delivered ones finish and are reported); a second
 * Ctrl-C leaves at once. Exit 1 unless every agent succeeded.
 */
async function runFanOut(kind: 'restart' | 'pause' | 'resume' | 'sync' | 'rotate-secrets' | 'upgrade', args: string[], out: Out): Promise<number> {
  const { values } = parseFlags(args, RUN_FLAGS);
  require_(values, 'plane');
  const c = client(values);
  const plane = enc(values.plane);
  const agents = list(values.name);
  const timeoutSeconds = intFlag(values['timeout-seconds'], 'timeout-seconds');
  let started: { run: RunView };
  if (kind === 'upgrade') {
    if (!values.rollback && !values.version) throw new PlaneError(ErrorCode.InvalidArgument, '--version V (or --rollback) is required', { where: '--version' });
    const canary = intFlag(values.canary, 'canary');
    const maxUnavailable = limitFlag(values['max-unavailable'], 'max-unavailable');
    started = await c.request<{ run: RunView }>('POST', `/v1/planes/${plane}/upgrade`, {
      ...(values.version ? { version: values.version } : {}),
      ...(values.rollback ? { rollback: true } : {}),
      ...(canary !== undefined ? { canary } : {}),
      ...(maxUnavailable !== undefined ? { maxUnavailable } : {}),
      ...(agents ? { agents } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    });
  } else {
    const maxConcurrency = limitFlag(values['max-concurrency'], 'max-concurrency');
    const maxErrors = limitFlag(values['max-errors'], 'max-errors');
    started = await c.request<{ run: RunView }>('POST', `/v1/planes/${plane}/runs`, {
      kind,
      ...(kind === 'sync' ? { args: { databases: !values['no-databases'], allowDeletes: values['allow-deletes'] } } : {}),
      ...(agents ? { agents } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(maxErrors !== undefined ? { maxErrors } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    });
  }
  let run = started.run;
  let cancelling = false;
  const onSigint = (): void => {
    if (cancelling) process.exit(130);
    cancelling = true;
    process.stderr.write(`\nplanes: cancelling run ${run.id}: no new agent starts; commands already delivered finish (Ctrl-C again to leave now)\n`);
    c.request('POST', `/v1/planes/${plane}/runs/${enc(run.id)}/cancel`, {}).catch((err: unknown) => process.stderr.write(`planes: cancel failed: ${PlaneError.from(err).message}\n`));
  };
  process.on('SIGINT', onSigint);
  try {
    while (run.state === 'running') {
      const s = run.summary;
      const done = s.succeeded + s.failed + s.timedOut + s.notDelivered + s.unknown + s.skipped;
      const bad = s.failed + s.timedOut;
      const wave = run.waves ? ` wave ${Math.max(0, ...run.targets.filter((t) => t.state !== 'queued').map((t) => t.wave ?? 0))}` : '';
      out.progress(`${kind}${wave} [${done}/${s.total} done] ${s.succeeded} ok, ${bad} failed${s.timedOut ? ` (${s.timedOut} timed out)` : ''}, ${s.running} running${cancelling ? ', cancelling' : ''}`);
      run = await c.request<RunView>('GET', `/v1/planes/${plane}/runs/${enc(run.id)}?waitSeconds=1`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  printRun(run, out);
  return run.summary.succeeded === run.summary.total ? ExitCode.Ok : ExitCode.PartialFailure;
}

/** A run's per-agent table and summary line (or, with --json, the run and its results). */
function printRun(run: RunView, out: Out): void {
  if (out.json) {
    const { targets, ...rest } = run;
    out.printJson({ run: rest, results: targets });
    return;
  }
  const waves = run.waves !== null;
  out.print(
    table(
      ['AGENT', 'RESULT', ...(waves ? ['WAVE'] : []), 'DETAIL'],
      run.targets.map((t) => [t.agent, t.state, ...(waves ? [t.wave === 0 ? 'canary' : String(t.wave ?? '')] : []), runDetail(run.kind, t)]),
    ),
  );
  const s = run.summary;
  // Shown only when there are any: not delivered (nothing ran), unknown (waiting for the agent's report).
  const more = `${s.notDelivered ? `, ${s.notDelivered} not delivered` : ''}${s.unknown ? `, ${s.unknown} unknown` : ''}`;
  out.print(`\nrun ${run.id} ${run.state}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.timedOut} timed out${more}, ${s.skipped} skipped${run.stopReason ? ` (${run.stopReason})` : ''}`);
}

const enc = (s: string | undefined): string => encodeURIComponent(s ?? '');

/** --plane and --name (both required) plus extra flags. */
function agentFlags<T extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>>(args: string[], extra?: T) {
  const { values } = parseFlags(args, { ...GLOBAL, plane: { type: 'string' }, name: { type: 'string' }, ...(extra ?? ({} as T)) });
  require_(values, 'plane', 'name');
  return values;
}

const agentPath = (v: { plane?: string; name?: string }): string => `/v1/planes/${enc(v.plane)}/agents/${enc(v.name)}`;

/** Polls the agent until it is up or --timeout-seconds (default `defaultSeconds`) passes, with its health as progress. */
async function waitUntilUp(c: HubClient, values: { plane?: string; name?: string; 'timeout-seconds'?: string }, first: AgentRow, defaultSeconds: number, out: Out): Promise<AgentRow> {
  const deadline = Date.now() + (intFlag(values['timeout-seconds'], 'timeout-seconds') ?? defaultSeconds) * 1000;
  let agent = first;
  while (!isUp(agent) && Date.now() < deadline) {
    out.progress(`waiting for ${values.name ?? ''}: ${agent.health.color} (${agent.health.reason})`);
    await new Promise((r) => setTimeout(r, 500));
    agent = await c.request<AgentRow>('GET', agentPath(values));
  }
  return agent;
}

/** Prints a command's outcome; exit 0 when it succeeded, 1 when it ran and failed or is still pending. */
function reportCommand(out: Out, agent: string, c: CommandView, ok: (output: Record<string, unknown>) => string): number {
  if (out.json) out.printJson({ command: c });
  else out.print(c.state === 'succeeded' ? `${agent}: ${ok((c.output ?? {}) as Record<string, unknown>)}` : describeCommand(agent, c));
  return c.state === 'succeeded' ? ExitCode.Ok : ExitCode.PartialFailure;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // Own properties only: "planes toString" is not a command.
  const run = cmd !== undefined && Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h' || (run && (rest.includes('--help') || rest.includes('-h')))) {
    console.log(HELP);
    return cmd ? ExitCode.Ok : ExitCode.Usage;
  }
  if (cmd === '--version') return (console.log(VERSION), ExitCode.Ok);
  if (!run) throw new PlaneError(ErrorCode.InvalidArgument, `unknown command '${cmd}' (see 'planes help')`);
  const json = rest.includes('--json');
  const tty = Boolean(process.stderr.isTTY) && !json;
  const out: Out = {
    json,
    print: (t) => console.log(t),
    printJson: (v) => console.log(JSON.stringify(v, null, 2)),
    progress: (t) => {
      if (!json) process.stderr.write(tty ? `\r\x1b[K${t}` : `${t}\n`);
    },
  };
  try {
    return await run(rest, out);
  } finally {
    if (tty) process.stderr.write('\r\x1b[K');
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = PlaneError.from(err);
    if (process.argv.includes('--json')) console.log(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.where ? { where: e.where } : {}) } }));
    console.error(`planes: ${e.message}`);
    process.exit(e.exitCode);
  },
);
