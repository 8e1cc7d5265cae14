import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_UPGRADE_GATE_ENV } from '../agentd/src/commands/upgrade-command.ts';
import { agentTurn, openclawFleet } from './helpers/gateway.ts';
import type { TestFleet } from './helpers/fleet.ts';
import { type AgentJson, run, waitUntil } from './helpers/fleet.ts';
import { LlmStub } from './helpers/llm-stub.ts';

// Two real OpenClaw releases from the npm registry: agents start on FROM, the upgrade targets TO.
const FROM = '2026.9.5';
const TO = '2026.9.6';
const MODEL_KEY = 'sk-upgrade-test-51d0-not-a-real-key';
const CODE_WORD = 'QUINCE-2290';

type GwAgent = AgentJson & { heartbeat: { heartbeat: { gateway: { pid: number; version: string; restartCount: number } | null } } | null };
interface Result {
  agent: string;
  state: string;
  wave: number | null;
  commands: Array<{ kind: string; id: string }>;
  error: string | null;
  output: { upgrade?: { from?: string; to?: string; snapshot?: string; changed?: boolean; rollback?: { rolledBack: boolean; intact: boolean; to: string } } } | null;
}

function databaseMentions(path: string, text: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    return tables.some(({ name }) => db.prepare(`SELECT * FROM "${name}"`).all().some((row) => JSON.stringify(row).includes(text)));
  } finally {
    db.close();
  }
}

/**
 * The target is made to fail its health gate with agentd's fault-injection
 * switch (AGENTD_FAULT_UPGRADE_GATE names the release): everything else is
 * real - the install beside the current release, OpenClaw's own database
 * preflight, the stop, the quiet snapshot, the switch, doctor --fix, the start
 * on the new release, and then the whole rollback (old release, snapshot
 * restored, continuity checked). Only the canary agent gets the switch (it is
 * in its agentd's environment); the other agent does not.
 */
describe('rolling upgrade across two real OpenClaw releases', () => {
  const stub = new LlmStub({ reply: 'Noted.' });
  let fleet: TestFleet;
  const plane = 'upg';
  const agent = (name: string): Promise<GwAgent> => fleet.agent(plane, name) as Promise<GwAgent>;
  const version = async (name: string): Promise<string | undefined> => (await agent(name)).heartbeat?.heartbeat.gateway?.version;
  const gwPort = (name: string): number => fleet.gatewayPort(plane, name);
  const workspace = (name: string): string => fleet.workspaceDir(plane, name);
  const agentDb = (name: string): string => fleet.agentDbPath(plane, name);
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args, '--plane', plane, '--json'], {
      env: fleet.cliEnv(),
      timeoutMs: 900_000,
    });

  beforeAll(async () => {
    const { baseUrl } = await stub.start();
    fleet = await openclawFleet(plane, baseUrl, MODEL_KEY, {}, { localOpenclawVersion: FROM });
    // The local provider passes this process's environment to the agentd it spawns, at spawn time.
    process.env[FAULT_UPGRADE_GATE_ENV] = TO;
    try {
      await fleet.addAgent(plane, 'canary');
    } finally {
      delete process.env[FAULT_UPGRADE_GATE_ENV];
    }
    await fleet.addAgent(plane, 'other');
    for (const n of ['canary', 'other']) await fleet.waitFor(plane, n, (x) => x.health.color === 'green', 300_000);
  }, 600_000);
  afterAll(async () => {
    await fleet.destroy();
    await stub.close();
  });

  it('rolls the canary back when the target fails its gate, with its memory intact, and stops the rollout', async () => {
    expect(await version('canary')).toBe(FROM);
    expect(await version('other')).toBe(FROM);
    const a = await agent('canary');
    const turn = await agentTurn(a.heartbeat?.heartbeat.gateway?.pid ?? 0, gwPort('canary'), `Remember the code word ${CODE_WORD}.`);
    expect(turn.code, turn.stderr).toBe(0);
    mkdirSync(join(workspace('canary'), 'memory'), { recursive: true });
    writeFileSync(join(workspace('canary'), 'memory', '2026-11-21.md'), `The user's code word is ${CODE_WORD}.\n`);
    expect(databaseMentions(agentDb('canary'), CODE_WORD)).toBe(true);
    const otherBefore = await agent('other');

    const r = await planes('upgrade', '--version', TO, '--canary', '1', '--max-unavailable', '1');
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { run: { state: string; stopReason: string; waves: number[] }; results: Result[] };
    expect(out.run.state).toBe('stopped');
    expect(out.run.waves).toEqual([1, 1]);
    const [canary, other] = out.results;
    expect(canary).toMatchObject({ agent: 'canary', state: 'failed', wave: 0 });
    expect(canary?.commands.map((c) => c.kind)).toEqual(['sync-now', 'upgrade']);
    expect(canary?.error).toMatch(new RegExp(`upgrade to openclaw ${TO.replace(/\./g, '\\.')} failed its health gate .*fault injection.*rolled back to ${FROM.replace(/\./g, '\\.')} with snapshot \\S+: continuity intact`));
    expect(canary?.output?.upgrade).toMatchObject({ from: FROM, to: TO, rollback: { rolledBack: true, intact: true, to: FROM } });
    // The rollout stopped: the other agent was not touched.
    expect(other).toMatchObject({ agent: 'other', state: 'skipped', wave: 1, commands: [] });

    // The canary runs the old release again, green, with its memory: the file and the transcript.
    await waitUntil(async () => (await version('canary')) === FROM && (await agent('canary')).health.color === 'green', 60_000, 'canary back on the old release');
    expect(readFileSync(join(workspace('canary'), 'memory', '2026-11-21.md'), 'utf8')).toContain(CODE_WORD);
    expect(databaseMentions(agentDb('canary'), CODE_WORD)).toBe(true);
    const seen = stub.requests.length;
    const b = await agent('canary');
    const again = await agentTurn(b.heartbeat?.heartbeat.gateway?.pid ?? 0, gwPort('canary'), 'What was the code word?');
    expect(again.code, again.stderr).toBe(0);
    expect(stub.requests.slice(seen).some((q) => q.bodyText.includes(CODE_WORD))).toBe(true);

    const otherAfter = await agent('other');
    expect(otherAfter.heartbeat?.heartbeat.gateway?.version).toBe(FROM);
    expect(otherAfter.heartbeat?.heartbeat.gateway?.pid).toBe(otherBefore.heartbeat?.heartbeat.gateway?.pid);

    const audit = await fleet.api<{ events: Array<{ action: string; agent: string | null; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=100`);
    expect(audit.body.events.some((e) => e.action === 'upgrade.agent' && e.agent === 'canary' && e.outcome === 'failed')).toBe(true);
    expect(audit.body.events.some((e) => e.action === 'upgrade.wave' && e.detail['wave'] === 0 && e.outcome === 'failed')).toBe(true);
    expect(audit.body.events.some((e) => e.action === 'upgrade.wave' && e.detail['wave'] === 1)).toBe(false);
  }, 900_000);

  it('upgrades an agent whose gate passes, keeps the release across an agentd restart and a reprovision, and rolls the plane back', async () => {
    const up = await planes('upgrade', '--version', TO, '--name', 'other');
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const res = (JSON.parse(up.stdout) as { results: Result[] }).results[0];
    expect(res?.output?.upgrade).toMatchObject({ changed: true, from: FROM, to: TO });
    await waitUntil(async () => (await version('other')) === TO, 60_000, 'other on the new release');

    // The chosen release survives agentd restarting (agentd's journal, not its config's pin).
    const id = (await agent('other')).id;
    await fleet.hub.localProvider.stop(id);
    await fleet.waitFor(plane, 'other', (x) => !x.connected, 60_000);
    await fleet.hub.localProvider.start(id);
    await fleet.waitFor(plane, 'other', (x) => x.health.color === 'green', 300_000);
    expect(await version('other')).toBe(TO);

    // A new machine for it (reprovision) comes back on the upgraded release, with its brain.
    const re = await planes('reprovision', '--name', 'other');
    expect(re.code, re.stderr + re.stdout).toBe(0);
    await fleet.waitFor(plane, 'other', (x) => x.health.color === 'green' && x.connected, 300_000);
    expect(await version('other')).toBe(TO);

    // --rollback returns what the last upgrade moved to the release it came from.
    const back = await planes('upgrade', '--rollback');
    expect(back.code, back.stderr + back.stdout).toBe(0);
    const rb = JSON.parse(back.stdout) as { run: { args: Record<string, unknown> }; results: Result[] };
    expect(rb.results.map((x) => [x.agent, x.state])).toEqual([['other', 'succeeded']]);
    expect(rb.results[0]?.output?.upgrade).toMatchObject({ changed: true, from: TO, to: FROM });
    await waitUntil(async () => (await version('other')) === FROM, 60_000, 'other back on the old release');
  }, 900_000);
});
