import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentTurn, openclawFleet } from './helpers/gateway.ts';
import type { AgentJson, TestFleet } from './helpers/fleet.ts';
import { waitUntil } from './helpers/fleet.ts';
import { LlmStub } from './helpers/llm-stub.ts';

// Canaries: distinctive, so any occurrence anywhere is a leak.
const CANARY_1 = 'sk-canary-first-7d3c91ab52e0';
const CANARY_2 = 'sk-canary-second-e81f04c6d9a2';

type GwAgent = AgentJson & { heartbeat: { heartbeat: { gateway: { pid: number } | null; secretsVersion: string } } | null };

/** Every regular file under root (symlinks not followed). */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Files and process command lines that contain any of the needles (as bytes). */
function scan(roots: string[], needles: string[]): string[] {
  const hits: string[] = [];
  const bufs = needles.map((n) => Buffer.from(n));
  for (const f of roots.flatMap(filesUnder)) {
    let data: Buffer;
    try {
      if (statSync(f).size > 512 * 1024 * 1024) continue;
      data = readFileSync(f);
    } catch {
      continue; // removed while scanning (a rotated log, a finished temp file)
    }
    for (const [i, b] of bufs.entries()) if (data.includes(b)) hits.push(`${f} contains canary ${i + 1}`);
  }
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline: Buffer;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`);
    } catch {
      continue;
    }
    for (const [i, b] of bufs.entries()) if (cmdline.includes(b)) hits.push(`process ${pid} command line contains canary ${i + 1}`);
  }
  return hits;
}

// The leak test: a canary model key through its whole life with a real gateway.
describe('a secret leaves no trace', () => {
  const stub = new LlmStub({ reply: 'ok' });
  let fleet: TestFleet;
  const plane = 'leak';
  const responses: string[] = [];
  const agent = async (): Promise<GwAgent> => (await fleet.agent(plane, 'canary')) as GwAgent;
  const gwPort = (): number => fleet.gatewayPort(plane, 'canary');
  const env = (): NodeJS.ProcessEnv => fleet.cliEnv();

  /** Runs the planes CLI with the given stdin; records its output as an API response. */
  const planes = (args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['bin/planes.js', ...args, '--json'], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => {
        responses.push(stdout, stderr);
        resolve({ code: code ?? 1, stdout, stderr });
      });
      child.stdin.end(stdin);
    });

  const turnUses = async (key: string): Promise<void> => {
    const a = await agent();
    const before = stub.requests.length;
    const turn = await agentTurn(a.heartbeat?.heartbeat.gateway?.pid ?? 0, gwPort(), 'hello');
    expect(turn.code, turn.stderr).toBe(0);
    const seen = stub.requests.slice(before).map((r) => r.authorization);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((h) => h === `Bearer ${key}`), `Authorization headers seen: ${seen.map((h) => (h === `Bearer ${CANARY_1}` ? 'canary 1' : h === `Bearer ${CANARY_2}` ? 'canary 2' : 'other')).join(', ')}`).toBe(true);
  };

  beforeAll(async () => {
    const { baseUrl } = await stub.start();
    fleet = await openclawFleet(plane, baseUrl, CANARY_1);
    fleet.agentSecrets = {};
  });
  afterAll(async () => {
    await fleet.destroy();
    await stub.close();
  });

  it('is set through the CLI from stdin and used by a real gateway turn (the stub checks Authorization)', async () => {
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents`, { name: 'canary', ownerEmail: 'c@example.com' })).status).toBe(201);
    // Without the secret the gateway runs degraded and the agent says which key is missing.
    const degraded = await fleet.waitFor(plane, 'canary', (x) => x.health.reason.startsWith('secret missing:') && x.connected, 180_000);
    expect(degraded.health.color).toBe('yellow');
    expect(degraded.health.reason).toContain('secret:FAKEAI_API_KEY');
    const set = await planes(['secrets', 'set', '--plane', plane, '--name', 'canary', 'FAKEAI_API_KEY'], `${CANARY_1}\n`);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ secret: { name: 'FAKEAI_API_KEY', version: 1 } });
    await fleet.waitFor(plane, 'canary', (x) => x.health.color === 'green', 180_000);
    await turnUses(CANARY_1);
  }, 240_000);

  it('a new value reaches the running gateway through secrets reload, without a restart', async () => {
    const pid = (await agent()).heartbeat?.heartbeat.gateway?.pid;
    const revision = (await agent()).heartbeat?.heartbeat.secretsVersion;
    const set = await planes(['secrets', 'set', '--plane', plane, '--name', 'canary', 'FAKEAI_API_KEY'], CANARY_2);
    expect(set.code, set.stderr).toBe(0);
    await fleet.waitFor(plane, 'canary', (x) => (x as GwAgent).heartbeat?.heartbeat.secretsVersion !== revision && x.health.color === 'green', 60_000);
    const id = fleet.hub.context.agents.get(plane, 'canary').id;
    await waitUntil(() => fleet.hub.context.commands.openFor(id).length === 0, 60_000, 'the refresh-secrets command to finish');
    const done = fleet.hub.context.db.prepare("SELECT output_json FROM commands WHERE agent_id = ? AND kind = 'refresh-secrets' AND state = 'succeeded' ORDER BY seq DESC LIMIT 1").get(id) as { output_json: string };
    expect(JSON.parse(done.output_json)).toMatchObject({ changed: ['FAKEAI_API_KEY'], gateway: 'reloaded' });
    expect((await agent()).heartbeat?.heartbeat.gateway?.pid).toBe(pid);
    await turnUses(CANARY_2);
  }, 120_000);

  it('rotate-secrets regenerates the credential, gateway token and brain data key, and the agent keeps working', async () => {
    const credFile = join(fleet.agentDir(plane, 'canary'), 'state', 'credential.json');
    const before = (JSON.parse(readFileSync(credFile, 'utf8')) as { credential: string }).credential;
    const r = await planes(['rotate-secrets', '--plane', plane, '--name', 'canary']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout) as { results: Array<{ agent: string; state: string; output: { gateway: string; revision: string } }> };
    expect(out.results).toHaveLength(1);
    // The brain (its OpenClaw databases included) was re-encrypted under a new data key first.
    expect(out.results[0]).toMatchObject({ agent: 'canary', state: 'succeeded', output: { gateway: 'restarted', regenerated: ['agent-credential', 'gateway-token', 'brain-data-key'] } });
    const after = (JSON.parse(readFileSync(credFile, 'utf8')) as { credential: string }).credential;
    expect(after).not.toBe(before);
    // The hub holds the new credential's hash: the old one no longer authenticates.
    expect(fleet.hub.context.agents.authenticate(before)).toBeUndefined();
    expect(fleet.hub.context.agents.authenticate(after)?.name).toBe('canary');
    await fleet.waitFor(plane, 'canary', (x) => x.health.color === 'green', 120_000);
    await turnUses(CANARY_2);
    const audit = await fleet.api<{ events: Array<{ action: string; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&agent=canary&limit=500`);
    responses.push(JSON.stringify(audit.body));
    expect(audit.body.events.some((e) => e.action === 'secret.rotate' && e.outcome === 'ok' && e.detail['phase'] === 'done')).toBe(true);
    expect(audit.body.events.filter((e) => e.action === 'secret.access' && e.outcome === 'ok').length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('after remove-agent nothing anywhere holds either canary: files, databases, bucket, logs, API responses, command lines', async () => {
    // While the agent runs: its state, workspace, gateway logs and databases.
    const live = scan([fleet.dataDir], [CANARY_1, CANARY_2]);
    expect(live).toEqual([]);
    const del = await fleet.api('DELETE', `/v1/planes/${plane}/agents/canary`);
    responses.push(JSON.stringify(del.body));
    expect(del.status).toBe(200);
    await waitUntil(() => !existsSync(fleet.agentDir(plane, 'canary')), 30_000, 'the agent directory to go');
    fleet.hub.context.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(scan([fleet.dataDir], [CANARY_1, CANARY_2])).toEqual([]);
    expect(fleet.hub.context.db.prepare("SELECT COUNT(*) AS n FROM secrets WHERE plane = 'leak'").get()).toEqual({ n: 0 });
    const everything = `${responses.join('\n')}\n${JSON.stringify(fleet.logs)}`;
    expect(everything.includes(CANARY_1)).toBe(false);
    expect(everything.includes(CANARY_2)).toBe(false);
    // The scan can fail: the stub's own memory holds the canaries it was sent.
    expect(JSON.stringify(stub.requests)).toContain(CANARY_2);
  }, 120_000);
});
