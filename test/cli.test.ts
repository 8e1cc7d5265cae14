import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, TestFleet } from './helpers/fleet.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('planes CLI', () => {
  const fleet = new TestFleet();
  let env: NodeJS.ProcessEnv;

  const planes = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['bin/planes.js', ...args], { env: { ...env, ...extraEnv }, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    await fleet.start();
    env = fleet.cliEnv();
  });
  afterAll(() => fleet.destroy());

  it('creates a plane, adds an agent and waits for it to turn green', async () => {
    expect((await planes(['create', '--name', 'cli-plane'])).code).toBe(0);
    const add = await planes(['add-agent', '--plane', 'cli-plane', '--name', 'c1', '--owner', 'c1@example.com', '--tools', 'email,calendar', '--json']);
    expect(add.code).toBe(0);
    const agent = JSON.parse(add.stdout) as { health: { color: string }; spec: { tools: string[] } };
    expect(agent.health.color).toBe('green');
    expect(agent.spec.tools).toEqual(['email', 'calendar']);
  });

  it('prints status as a table and as JSON', async () => {
    const table = await planes(['status', '--plane', 'cli-plane']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^PLANE\s+AGENT\s+OWNER\s+HEALTH/m);
    expect(table.stdout).toMatch(/cli-plane\s+c1\s+c1@example.com\s+green/);
    const json = await planes(['status', '--json']);
    const body = JSON.parse(json.stdout) as { agents: Array<{ name: string }>; summary: Record<string, number> };
    expect(body.agents.map((a) => a.name)).toEqual(['c1']);
    expect(body.summary['green']).toBe(1);
  });

  it('updates an agent’s settings and waits for it to apply them', async () => {
    const r = await planes(['update-agent', '--plane', 'cli-plane', '--name', 'c1', '--tools', 'email,web', '--model-tier', 'haiku', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ agent: { spec: { tools: ['email', 'web'], modelTier: 'haiku' } }, command: { kind: 'reconfigure', state: 'succeeded' } });
    const none = await planes(['update-agent', '--plane', 'cli-plane', '--name', 'c1']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to change/);
  });

  it('restarts an agent and reports the result', async () => {
    const r = await planes(['restart-agent', '--plane', 'cli-plane', '--name', 'c1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mode: 'gateway', command: { state: 'succeeded' } });
  });

  it('prints an agent’s recent log lines, and follows new ones until interrupted', async () => {
    const once = await planes(['logs', '--plane', 'cli-plane', '--name', 'c1', '--lines', '50']);
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/^\S+Z agentd\s+INFO agentd\.agentd: agentd state/m);

    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/planes.js', 'logs', '--plane', 'cli-plane', '--name', 'c1', '--lines', '0', '--follow', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    // Something new to log: a gateway restart.
    expect((await planes(['restart-agent', '--plane', 'cli-plane', '--name', 'c1'])).code).toBe(0);
    const { waitUntil } = await import('./helpers/fleet.ts');
    await waitUntil(() => out.includes('"msg"') || /child state/.test(out), 15_000, 'followed log lines');
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
    const agent = fleet.hub.context.agents.get('cli-plane', 'c1');
    // Hanging up stopped the stream at the agent.
    await waitUntil(() => fleet.hub.context.commands.listFor(agent.id, 20).some((c) => c.kind === 'logs-stop' && c.state === 'succeeded'), 10_000, 'logs-stop');
  });

  it('exits with meaningful codes and one clear sentence', async () => {
    const missing = await planes(['status', '--plane', 'cli-plane', '--name', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim()).toBe("planes: agent 'nope' not found in plane 'cli-plane'");

    const unknownPlane = await planes(['remove-agent', '--plane', 'ghost', '--name', 'x', '--json']);
    expect(unknownPlane.code).toBe(3);
    expect(JSON.parse(unknownPlane.stdout)).toEqual({ error: { code: 'not_found', message: "plane 'ghost' not found", where: 'planeId' } });

    const usage = await planes(['add-agent', '--plane', 'cli-plane']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--name is required/);
    expect((await planes(['status', '--bogus'])).code).toBe(2);
    expect((await planes(['frobnicate'])).code).toBe(2);

    const down = await planes(['status'], { PLANES_HUB: 'http://127.0.0.1:1' });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/cannot reach the hub/);

    const badToken = await planes(['list'], { PLANES_TOKEN_FILE: join(fleet.dataDir, 'tls', 'ca.pem') });
    expect(badToken.code).toBe(4);

    const dup = await planes(['create', '--name', 'cli-plane']);
    expect(dup.code).toBe(6);
  });

  it('reprovisions an agent and waits until the new machine is up, like its siblings; --no-wait returns at once', async () => {
    const oldPid = fleet.agentdPid('cli-plane', 'c1');
    const r = await planes(['reprovision', '--plane', 'cli-plane', '--name', 'c1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { agent } = JSON.parse(r.stdout) as { agent: { connected: boolean; health: { color: string } } };
    expect(agent).toMatchObject({ connected: true, health: { color: 'green' } });
    expect(fleet.agentdPid('cli-plane', 'c1')).not.toBe(oldPid);

    const quick = await planes(['reprovision', '--plane', 'cli-plane', '--name', 'c1', '--no-wait', '--json']);
    expect(quick.code, quick.stderr).toBe(0);
    expect((JSON.parse(quick.stdout) as { agent: { health: { color: string } } }).agent.health.color).not.toBe('green');
    await fleet.waitFor('cli-plane', 'c1', (a) => a.health.color === 'green');

    // Not up in time: exit 1, with the agent as it was.
    const late = await planes(['reprovision', '--plane', 'cli-plane', '--name', 'c1', '--timeout-seconds', '0', '--json']);
    expect(late.code, late.stderr).toBe(1);
    await fleet.waitFor('cli-plane', 'c1', (a) => a.health.color === 'green');
  });

  it('removes the agent and deletes the plane', async () => {
    expect((await planes(['remove-agent', '--plane', 'cli-plane', '--name', 'c1'])).code).toBe(0);
    const del = await planes(['delete', '--plane', 'cli-plane', '--json']);
    expect(del.code).toBe(0);
    expect(JSON.parse(del.stdout)).toEqual({ deleted: 'cli-plane', removedAgents: [] });
  });
});

describe('help', () => {
  const cli = (bin: string, ...args: string[]): Promise<Run> => run(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'] } });

  it('planes --help lists every command in its group, exit 0; planes alone exits 2', async () => {
    const help = await cli('bin/planes.js', '--help');
    expect(help.code).toBe(0);
    const groups = new Map<string, string[]>();
    let group = '';
    for (const line of help.stdout.split('\n')) {
      if (/^[A-Z]/.test(line)) groups.set((group = line.replace(/ \(.*$/, '')), []);
      else if (/^ {2}[a-z]/.test(line)) groups.get(group)?.push(line.trim().split(/[ |]/)[0] as string);
    }
    expect(groups.get('Agent lifecycle')).toEqual(['add-agent', 'update-agent', 'remove-agent', 'restart-agent', 'reprovision', 'logs']);
    expect(groups.get('Cost')).toEqual(['cost-report']);
    // Every command the API reference's command table documents is in the help.
    const api = readFileSync('docs/api.md', 'utf8');
    const table = api.slice(api.indexOf('### Commands'), api.indexOf('\n#', api.indexOf('### Commands') + 1));
    const documented = [...table.matchAll(/^\| `([a-z-]+)/gm)].map((m) => m[1] as string);
    expect(documented.length).toBeGreaterThan(25);
    for (const c of documented) expect(help.stdout, c).toMatch(new RegExp(`(^|[ |])${c}( |$)`, 'm'));
    expect((await cli('bin/planes.js', 'apply', '--help')).code).toBe(0);
    expect((await cli('bin/planes.js')).code).toBe(2);
    expect((await cli('bin/planes.js', 'toString')).stderr).toBe("planes: unknown command 'toString' (see 'planes help')\n");
  });

  it('hub --help and agentd --help print the usage and exit 0; hub alone exits 2', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['serve', '--help']]) {
      const r = await cli('bin/hub.js', ...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^usage:\n {2}hub serve --data-dir DIR/);
    }
    const bare = await cli('bin/hub.js');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^hub: a command is required\nusage:/);
    const agentd = await cli('bin/agentd.js', '--help');
    expect(agentd.code).toBe(0);
    expect(agentd.stdout).toMatch(/^usage:\n {2}agentd run/);
  });
});
