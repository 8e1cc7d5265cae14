/** Agent lifecycle: add, update, remove, restart, reprovision one agent; logs of one agent or a plane. */
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import type { Agent } from '../api.ts';
import type { HubClient } from '../hub-client.ts';
import { AGENT, type Flag, type Out, PLANE, verb } from '../verb.ts';
import { agentTable, isUp } from '../views/agent-table.ts';
import { describeCommand } from '../views/run-view.ts';


/** The settings add-agent and update-agent take; update-agent sends only those given. */
const SETTINGS = [
  { name: 'machine-type', value: 'T', help: "the machine type (default: the plane's)" },
  { name: 'model-tier', choices: ['haiku', 'sonnet', 'opus'], help: "the model tier (default: the plane's)" },
  { name: 'budget-cap', kind: 'int', value: 'USD', help: 'monthly budget in whole USD' },
  { name: 'group', value: 'G', help: 'the group, for cost reports' },
  { name: 'tools', kind: 'list', value: 'a,b', help: 'the tools the agent may use' },
  { name: 'channels', kind: 'list', value: 'a,b', help: 'the channels the agent answers on' },
] as const satisfies readonly Flag[];

interface Settings {
  'machine-type'?: string | undefined;
  'model-tier'?: 'haiku' | 'sonnet' | 'opus' | undefined;
  'budget-cap'?: number | undefined;
  group?: string | undefined;
  tools?: string[] | undefined;
  channels?: string[] | undefined;
}

/** The REST body fields for an agent's settings, only those given on the command line. */
function settings(v: Settings) {
  return {
    ...(v['machine-type'] ? { machineType: v['machine-type'] } : {}),
    ...(v['model-tier'] ? { modelTier: v['model-tier'] } : {}),
    ...(v['budget-cap'] !== undefined ? { budgetCap: v['budget-cap'] } : {}),
    ...(v.group ? { group: v.group } : {}),
    ...(v.tools !== undefined ? { tools: v.tools } : {}),
    ...(v.channels !== undefined ? { channels: v.channels } : {}),
  };
}

/** Polls the agent until it is up or `seconds` pass, with its health as progress. */
async function waitUntilUp(hub: HubClient<'GET /v1/planes/{planeId}/agents/{agentId}'>, first: Agent, seconds: number, out: Out): Promise<Agent> {
  const deadline = Date.now() + seconds * 1000;
  let agent = first;
  while (!isUp(agent) && Date.now() < deadline) {
    out.progress(`waiting for ${agent.name}: ${agent.health.color} (${agent.health.reason})`);
    await new Promise((r) => setTimeout(r, 500));
    agent = await hub.call('GET /v1/planes/{planeId}/agents/{agentId}', { params: { planeId: agent.plane, agentId: agent.name } });
  }
  return agent;
}

export const addAgent = verb({
  name: 'add-agent',
  group: 'Agent lifecycle',
  summary: 'Provision an agent and wait until it is up',
  details: 'Exit 1 if it is not up in time. There is no flag for configOverrides; use the REST API.',
  flags: [
    PLANE,
    AGENT,
    { name: 'owner', value: 'EMAIL', help: "the owner's address", required: true },
    ...SETTINGS,
    { name: 'spot', kind: 'boolean', help: 'a Spot VM (gcp)' },
    { name: 'no-wait', kind: 'boolean', help: 'return once it is provisioned' },
    { name: 'timeout-seconds', kind: 'int', value: 'N', help: 'how long to wait', default: 120 },
  ],
  calls: ['POST /v1/planes/{planeId}/agents', 'GET /v1/planes/{planeId}/agents/{agentId}'],
  async run({ values: v, out, hub }) {
    out.progress(`provisioning ${v.plane}/${v.name}...`);
    const agent = await hub.call('POST /v1/planes/{planeId}/agents', {
      params: { planeId: v.plane },
      body: { name: v.name, ownerEmail: v.owner, ...settings(v), ...(v.spot ? { spot: true } : {}) },
    });
    const waited = v['no-wait'] ? agent : await waitUntilUp(hub, agent, v['timeout-seconds'], out);
    if (out.json) out.printJson(waited);
    else out.print(agentTable([waited], process.stdout.isTTY));
    return v['no-wait'] || isUp(waited) ? ExitCode.Ok : ExitCode.PartialFailure;
  },
});

export const updateAgent = verb({
  name: 'update-agent',
  group: 'Agent lifecycle',
  summary: "Change an agent's settings and wait up to 120 s for it to apply them",
  details: 'Exit 1 if its reconfigure command did not succeed.',
  flags: [PLANE, AGENT, { name: 'owner', value: 'EMAIL', help: "the owner's address" }, ...SETTINGS, { name: 'spot', kind: 'boolean', help: 'a Spot VM (gcp)' }],
  calls: ['PATCH /v1/planes/{planeId}/agents/{agentId}'],
  async run({ values: v, out, hub }) {
    const changes = { ...(v.owner ? { ownerEmail: v.owner } : {}), ...settings(v), ...(v.spot ? { spot: true } : {}) };
    if (Object.keys(changes).length === 0) throw new PlaneError(ErrorCode.InvalidArgument, 'nothing to change: pass at least one of --owner, --machine-type, --model-tier, --budget-cap, --group, --tools, --channels');
    out.progress(`updating ${v.plane}/${v.name}...`);
    const r = await hub.call('PATCH /v1/planes/{planeId}/agents/{agentId}', { params: { planeId: v.plane, agentId: v.name }, body: { ...changes, waitSeconds: 120 } });
    if (out.json) out.printJson(r);
    else out.print(r.command ? describeCommand(v.name, r.command) : `${v.name}: updated (nothing the agent runs changed)`);
    return r.command && r.command.state !== 'succeeded' ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});

export const removeAgent = verb({
  name: 'remove-agent',
  group: 'Agent lifecycle',
  summary: 'Tear an agent down: its machine and its brain',
  flags: [PLANE, AGENT],
  calls: ['DELETE /v1/planes/{planeId}/agents/{agentId}'],
  async run({ values: v, out, hub }) {
    out.progress(`removing ${v.plane}/${v.name}...`);
    const r = await hub.call('DELETE /v1/planes/{planeId}/agents/{agentId}', { params: { planeId: v.plane, agentId: v.name } });
    if (out.json) out.printJson(r);
    else out.print(`removed agent ${v.plane}/${r.removed}`);
    return ExitCode.Ok;
  },
});

export const restartAgent = verb({
  name: 'restart-agent',
  group: 'Agent lifecycle',
  summary: 'Restart the gateway or the machine; waits up to 60 s for the result',
  details: 'Exit 1 if the command did not succeed in that time. A human restart also resets self-healing for the agent.',
  flags: [PLANE, AGENT, { name: 'mode', choices: ['auto', 'gateway', 'instance'], help: 'what to restart', default: 'auto' }],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/restart'],
  async run({ values: v, out, hub }) {
    out.progress(`restarting ${v.plane}/${v.name}...`);
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/restart', { params: { planeId: v.plane, agentId: v.name }, body: { mode: v.mode, waitSeconds: 60 } });
    if (out.json) out.printJson(r);
    else out.print(r.command ? describeCommand(v.name, r.command) : `restarted the ${r.mode} of ${v.plane}/${v.name}`);
    return r.command && r.command.state !== 'succeeded' ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});

export const reprovision = verb({
  name: 'reprovision',
  group: 'Agent lifecycle',
  summary: 'A fresh machine for an agent, its brain restored from the bucket',
  details: 'Like add-agent, exit 1 if it is not up in time. --json: {"agent": Agent} as it was when the wait ended.',
  flags: [PLANE, AGENT, { name: 'no-wait', kind: 'boolean', help: 'return once the new machine is made' }, { name: 'timeout-seconds', kind: 'int', value: 'N', help: 'how long to wait', default: 300 }],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/reprovision', 'GET /v1/planes/{planeId}/agents/{agentId}'],
  async run({ values: v, out, hub }) {
    out.progress(`reprovisioning ${v.plane}/${v.name}: destroying the old machine, creating a new one...`);
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/reprovision', { params: { planeId: v.plane, agentId: v.name } });
    if (v['no-wait']) {
      if (out.json) out.printJson(r);
      else out.print(`${v.name}: reprovisioned; it restores its brain before its gateway starts (watch with planes status --name ${v.name})`);
      return ExitCode.Ok;
    }
    const agent = await waitUntilUp(hub, r.agent, v['timeout-seconds'], out);
    if (out.json) out.printJson({ agent });
    else out.print(agentTable([agent], process.stdout.isTTY));
    return isUp(agent) ? ExitCode.Ok : ExitCode.PartialFailure;
  },
});

export const logs = verb({
  name: 'logs',
  group: 'Agent lifecycle',
  summary: "An agent's log lines (no --name: every agent's, merged by time)",
  details:
    '--follow prints new lines until Ctrl-C (or 600 s). --json prints the NDJSON lines as the hub sends them. ' +
    'Exit 1 if any error line came (an agent that is not connected, printed on stderr); exit 5 if the one agent asked for is not connected.',
  flags: [
    PLANE,
    { name: 'name', value: 'A', help: 'one agent (default: every agent of the plane)' },
    { name: 'follow', kind: 'boolean', help: 'keep printing new lines' },
    { name: 'lines', kind: 'int', value: 'N', help: 'lines per agent, up to 5000', default: 200 },
  ],
  calls: ['GET /v1/planes/{planeId}/agents/{agentId}/logs', 'GET /v1/planes/{planeId}/logs'],
  async run({ values: v, out, hub }) {
    let failed = false;
    const onLine = (l: { agent?: string; atMs?: number; source?: string; text?: string; error?: string }): void => {
      const who = l.agent === undefined ? '' : `${l.agent} `;
      if (l.error) failed = true;
      if (out.json) out.print(JSON.stringify(l));
      else if (l.error) process.stderr.write(`planes: ${l.agent === undefined ? '' : `${l.agent}: `}${l.error}\n`);
      else out.print(`${new Date(l.atMs ?? 0).toISOString()} ${who}${(l.source ?? '').padEnd(7)} ${l.text ?? ''}`);
    };
    const query = { lines: v.lines, follow: v.follow };
    // Without --name, the whole plane: every line names its agent, merged by time.
    if (v.name) await hub.stream('GET /v1/planes/{planeId}/agents/{agentId}/logs', { params: { planeId: v.plane, agentId: v.name }, query }, onLine);
    else await hub.stream('GET /v1/planes/{planeId}/logs', { params: { planeId: v.plane }, query }, onLine);
    return failed ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});
