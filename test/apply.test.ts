import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Plan } from '../cli/api.ts';
import { run, TestFleet } from './helpers/fleet.ts';

interface Report {
  plan: Plan;
  results: Array<{ agent: string; action: string; outcome: string; message: string | null }>;
  summary: { ok: number; pending: number; failed: number };
}
interface AgentSpecJson {
  machineType: string;
  modelTier: string;
  budgetCap?: number;
  tools: string[];
  channels: string[];
  groups?: string[];
  ou?: string;
}

// The example file, on a plane of its own: three agents, two policies.
const example = readFileSync('examples/planes.yaml', 'utf8').replace('name: acme-agents', 'name: applied');

describe('planes apply / export', () => {
  const fleet = new TestFleet({ localRuntime: 'placeholder' });
  const dir = mkdtempSync(join(tmpdir(), 'planes-apply-'));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });
  const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`not JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`);
    }
  };
  const spec = async (plane: string, name: string): Promise<AgentSpecJson> => (await fleet.api<{ spec: AgentSpecJson }>('GET', `/v1/planes/${plane}/agents/${name}`)).body.spec;

  beforeAll(async () => {
    await fleet.start();
  });
  afterAll(async () => {
    await fleet.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the plane and its agents, with defaults < policies < agent values', async () => {
    const f = file('example.yaml', example);
    const dry = await planes('apply', '-f', f, '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const plan = json<{ plan: Plan }>(dry).plan;
    expect(plan.planeAction).toBe('create');
    expect(plan.agents.map((a) => [a.name, a.action, a.policies])).toEqual([
      ['alice-agent', 'create', [0]],
      ['bob-agent', 'create', [1]],
      ['carol-agent', 'create', [1]],
    ]);
    expect((await fleet.api('GET', '/v1/planes/applied')).status).toBe(404);

    const r = await planes('apply', '-f', f);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^\+ plane applied: create$/m);
    expect(r.stdout).toMatch(/^\+ alice-agent: create {2}\(policies spec\.policies\[0\]\)$/m);
    expect(r.stdout).toMatch(/^applied: 3 ok, 0 pending, 0 failed/m);

    // alice: modelTier, budgetCap and tools from the engineering policy; machineType and channels her own.
    expect(await spec('applied', 'alice-agent')).toMatchObject({ machineType: 'e2-medium', modelTier: 'opus', budgetCap: 200, tools: ['exec', 'github', 'email', 'calendar'], channels: ['slack'] });
    // bob: modelTier from the Sales policy (his OU /Sales/US is below /Sales), budgetCap and tools his own; machineType the default.
    expect(await spec('applied', 'bob-agent')).toMatchObject({ machineType: 'e2-small', modelTier: 'sonnet', budgetCap: 50, tools: ['email', 'calendar'], ou: '/Sales/US' });
    // carol: everything her own beats the policy.
    expect(await spec('applied', 'carol-agent')).toMatchObject({ modelTier: 'haiku', budgetCap: 25, tools: ['email'] });
  });

  it('is idempotent: the same file again is an empty plan and changes nothing', async () => {
    for (const a of ['alice-agent', 'bob-agent', 'carol-agent']) await fleet.waitFor('applied', a, (x) => x.health.color === 'green');
    const before = (await fleet.api<{ agents: Array<{ name: string; updatedAt: number }> }>('GET', '/v1/planes/applied/agents')).body.agents;
    const r = await planes('apply', '-f', file('example.yaml', example), '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = json<Report>(r);
    expect(report.plan.empty).toBe(true);
    expect(report.plan.unchanged).toEqual(['alice-agent', 'bob-agent', 'carol-agent']);
    expect(report.results).toEqual([]);
    const after = (await fleet.api<{ agents: Array<{ name: string; updatedAt: number }> }>('GET', '/v1/planes/applied/agents')).body.agents;
    expect(after.map((a) => a.updatedAt)).toEqual(before.map((a) => a.updatedAt));
    const human = await planes('apply', '-f', file('example.yaml', example));
    expect(human.stdout.trim()).toBe('plan for applied: no changes (3 agents up to date)');
  });

  it('plans field-level changes (a policy edit reaches every agent it covers), applies them, and agents reconfigure', async () => {
    const changed = example
      .replace('        modelTier: sonnet\n        budgetCap: 75', '        modelTier: opus\n        budgetCap: 75') // the Sales policy
      .replace('      channels: [slack]', '      channels: [slack, email]') // alice's own
      .replace('      machineType: e2-small\n      diskSizeGb: 20', '      machineType: e2-standard-2\n      diskSizeGb: 20'); // plane default
    const f = file('changed.yaml', changed);
    const dry = json<{ plan: Plan }>(await planes('apply', '-f', f, '--dry-run', '--json')).plan;
    expect(dry.planeChanges).toEqual([
      { field: 'defaults.machineType', path: 'spec.infrastructure.defaults.machineType', from: 'e2-small', to: 'e2-standard-2' },
      { field: 'policies[1].spec.modelTier', path: 'spec.policies[1].spec.modelTier', from: 'sonnet', to: 'opus' },
    ]);
    const byName = Object.fromEntries(dry.agents.map((a) => [a.name, a.changes.map((c) => [c.field, c.from, c.to])]));
    expect(byName).toEqual({
      'alice-agent': [['channels', ['slack'], ['slack', 'email']]],
      'bob-agent': [
        ['machineType', 'e2-small', 'e2-standard-2'],
        ['modelTier', 'sonnet', 'opus'],
      ],
      'carol-agent': [['machineType', 'e2-small', 'e2-standard-2']], // her own modelTier still wins
    });
    // A dry run changes nothing.
    expect((await spec('applied', 'bob-agent')).modelTier).toBe('sonnet');

    const human = await planes('apply', '-f', f, '--dry-run');
    expect(human.stdout).toMatch(/^~ bob-agent: change {2}\(policies spec\.policies\[1\]\)\n {4}machineType: e2-small -> e2-standard-2\n {4}modelTier: sonnet -> opus$/m);
    expect(human.stdout).toMatch(/^dry run: nothing was applied$/m);

    const r = await planes('apply', '-f', f, '--json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = json<Report>(r);
    expect(report.results.map((x) => [x.agent, x.action, x.outcome])).toEqual([
      ['alice-agent', 'change', 'ok'],
      ['bob-agent', 'change', 'ok'],
      ['carol-agent', 'change', 'ok'],
    ]);
    expect(await spec('applied', 'bob-agent')).toMatchObject({ modelTier: 'opus', machineType: 'e2-standard-2' });
    // bob's gateway runs the new tier: agentd applied the reconfigure command.
    const agent = fleet.hub.context.agents.get('applied', 'bob-agent');
    const reconf = fleet.hub.context.commands.listFor(agent.id, 20).find((c) => c.kind === 'reconfigure');
    expect(reconf?.state).toBe('succeeded');
    expect((reconf?.args['spec'] as { modelTier: string }).modelTier).toBe('opus');
    expect(json<Report>(await planes('apply', '-f', f, '--json')).plan.empty).toBe(true);
  });

  it('exports the plane as a file that applies as an empty plan', async () => {
    const out = join(dir, 'exported.yaml');
    const r = await planes('export', '--plane', 'applied', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    const doc = parse(text) as { spec: { agents: Array<Record<string, unknown>>; policies: unknown[] } };
    expect(doc.spec.policies).toHaveLength(2);
    // Only what differs from defaults and policies: alice's tier and tools come from her policy.
    const alice = doc.spec.agents.find((a) => a['name'] === 'alice-agent');
    expect(alice).toEqual({ name: 'alice-agent', owner: 'alice@acme.example', groups: ['engineering@acme.example'], ou: '/Engineering', machineType: 'e2-medium', channels: ['slack', 'email'] });
    const again = await planes('apply', '-f', out, '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(json<Report>(again).plan).toMatchObject({ empty: true, unchanged: ['alice-agent', 'bob-agent', 'carol-agent'] });
    // Without -o it prints the YAML.
    const stdout = await planes('export', '--plane', 'applied');
    expect(parse(stdout.stdout)).toEqual(parse(text));
  });

  it('exports agents made through REST, budgetCap cleared under a policy included, as a file that round-trips', async () => {
    await fleet.api('POST', '/v1/planes/applied/agents', { name: 'dave-agent', ownerEmail: 'dave@acme.example', ou: '/Sales/EMEA', configOverrides: { agents: { defaults: { heartbeat: { every: '2h' } } } } });
    expect(await spec('applied', 'dave-agent')).toMatchObject({ modelTier: 'opus', budgetCap: 75, tools: ['email', 'crm', 'calendar'] }); // the Sales policy at creation
    const patched = await fleet.api('PATCH', '/v1/planes/applied/agents/dave-agent', { budgetCap: null });
    expect(patched.status).toBe(200);
    const out = join(dir, 'exported2.yaml');
    expect((await planes('export', '--plane', 'applied', '-o', out)).code).toBe(0);
    const dave = (parse(readFileSync(out, 'utf8')) as { spec: { agents: Array<Record<string, unknown>> } }).spec.agents.find((a) => a['name'] === 'dave-agent');
    expect(dave).toEqual({ name: 'dave-agent', owner: 'dave@acme.example', ou: '/Sales/EMEA', budgetCap: null, configOverrides: { agents: { defaults: { heartbeat: { every: '2h' } } } } });
    expect(json<Report>(await planes('apply', '-f', out, '--json')).plan.empty).toBe(true);
  });

  it('removes agents missing from the file only with --prune, and only with --yes', async () => {
    const f = file('without-dave.yaml', readFileSync(join(dir, 'exported.yaml'), 'utf8'));
    const kept = json<Report>(await planes('apply', '-f', f, '--json'));
    expect(kept.plan).toMatchObject({ empty: true, unmanaged: ['dave-agent'] });
    expect((await planes('apply', '-f', f)).stdout).toMatch(/not in the file, kept \(--prune removes them\): dave-agent/);

    const unconfirmed = await planes('apply', '-f', f, '--prune');
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stdout).toMatch(/^- dave-agent: remove \(its machine and its brain are destroyed\)$/m);
    expect(unconfirmed.stderr).toMatch(/the plan removes 1 agent\(s\): their machines and brains are destroyed\. Pass --yes/);
    expect((await fleet.api('GET', '/v1/planes/applied/agents/dave-agent')).status).toBe(200);

    const pruned = await planes('apply', '-f', f, '--prune', '--yes', '--json');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(json<Report>(pruned).results).toEqual([{ agent: 'dave-agent', action: 'remove', outcome: 'ok', message: 'removed with its brain', commandId: null }]);
    expect((await fleet.api('GET', '/v1/planes/applied/agents/dave-agent')).status).toBe(404);
  });

  it('refuses a plan that changes what cannot change, naming file:line:column; applies nothing', async () => {
    const exported = readFileSync(join(dir, 'exported.yaml'), 'utf8');
    expect(exported).toContain('channels: [slack, email]');
    const text = exported.replace('region: local', 'region: us-east4').replace('channels: [slack, email]', 'channels: [slack]');
    const f = file('region.yaml', text);
    const r = await planes('apply', '-f', f);
    expect(r.code).toBe(6);
    const line = text.split('\n').findIndex((l) => l.includes('region: us-east4')) + 1;
    expect(r.stderr).toMatch(new RegExp(`^planes: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}:5 spec\\.infrastructure\\.region: cannot change region of plane 'applied' from "local" to "us-east4"`));
    expect((await spec('applied', 'alice-agent')).channels).toEqual(['slack', 'email']);
  });

  it('refuses a bad file before asking the hub, with file:line:column', async () => {
    const bad = example.replace('modelTier: haiku', 'modelTier: gpt5');
    const f = file('bad.yaml', bad);
    const r = await planes('apply', '-f', f, '--json');
    expect(r.code).toBe(2);
    const line = bad.split('\n').findIndex((l) => l.includes('modelTier: gpt5')) + 1;
    expect(json<{ error: { code: string; message: string } }>(r).error).toEqual({ code: 'invalid_argument', message: `${f}:${line}:7 spec.agents[2].modelTier: must be one of haiku|sonnet|opus`, where: `${f}:${line}:7` });
  });

  it('refuses to apply a plan made before the plane changed', async () => {
    const document = parse(readFileSync(join(dir, 'exported.yaml'), 'utf8')) as Record<string, unknown>;
    const planned = await fleet.api<Plan>('POST', '/v1/planes/applied/plan', { document: { ...document, spec: { ...(document['spec'] as object), agents: [] } }, prune: true });
    expect(planned.body.summary.remove).toBe(3);
    // Meanwhile someone adds an agent: the reviewed plan would not have removed it.
    await fleet.addAgent('applied', 'erin-agent');
    const r = await fleet.api<{ error: { code: string; message: string } }>('POST', '/v1/planes/applied/apply', {
      document: { ...document, spec: { ...(document['spec'] as object), agents: [] } },
      prune: true,
      fingerprint: planned.body.fingerprint,
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('aborted');
    expect((await fleet.api<{ agents: unknown[] }>('GET', '/v1/planes/applied/agents')).body.agents).toHaveLength(4);
    const mismatch = await fleet.api<{ error: { where: string } }>('POST', '/v1/planes/other/plan', { document });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.where).toBe('body.document.metadata.name');
  });

  it('reports a result per agent, carries on past failures and exits 1', async () => {
    // A manual plane: no agent connects, and the manual provider cannot resize machines.
    const manual = (agents: string): string => `apiVersion: openclaw.dev/v1alpha1
kind: AgentsPlane
metadata: { name: by-hand }
spec:
  infrastructure: { provider: manual }
  agents:
${agents}`;
    const first = await planes('apply', '-f', file('manual.yaml', manual('    - { name: m1, owner: m1@example.com }\n    - { name: m2, owner: m2@example.com }\n')));
    expect(first.code, first.stderr).toBe(0);
    const r = await planes(
      'apply',
      '-f',
      file('manual2.yaml', manual('    - { name: m1, owner: m1@example.com, machineType: e2-large }\n    - { name: m2, owner: m2@example.com, tools: [email] }\n    - { name: m3, owner: m3@example.com }\n')),
      '--wait-seconds',
      '1',
      '--json',
    );
    expect(r.code).toBe(1);
    const report = json<Report>(r);
    expect(report.results.map((x) => [x.agent, x.action, x.outcome])).toEqual([
      ['m1', 'change', 'failed'],
      ['m2', 'change', 'pending'],
      ['m3', 'create', 'ok'],
    ]);
    expect(report.results[0]?.message).toMatch(/resize/);
    expect(report.summary).toEqual({ ok: 1, pending: 1, failed: 1 });
    // m1 failed before anything was stored: the next plan still shows its change; m2's is stored.
    const next = json<{ plan: Plan }>(await planes('apply', '-f', file('manual2.yaml', readFileSync(join(dir, 'manual2.yaml'), 'utf8')), '--dry-run', '--json')).plan;
    expect(next.agents.map((a) => a.name)).toEqual(['m1']);
    const audit = fleet.hub.context.audit.list({ plane: 'by-hand', limit: 50 }).filter((e) => e.action === 'plane.apply');
    expect(audit[0]).toMatchObject({ outcome: 'failed', detail: { ok: 1, pending: 1, failed: 1 } });
  });
});
