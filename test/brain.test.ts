import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentTurn, openclawFleet } from './helpers/gateway.ts';
import type { TestFleet} from './helpers/fleet.ts';
import { type AgentJson, run, waitUntil } from './helpers/fleet.ts';
import { LlmStub } from './helpers/llm-stub.ts';

const MODEL_KEY = 'sk-brain-test-9c2e-not-a-real-key';
const CODE_WORD = 'PLUM-4711';

interface SyncView {
  state: string;
  snapshot: string;
  lagMs: number;
  sessions: number;
  memoryFiles: number;
  fence: number;
  lastError: string;
}
type BrainAgent = AgentJson & { heartbeat: { heartbeat: { gateway: { pid: number } | null; sync: SyncView | null } } | null };

/** Whether any row of any table in the database mentions the text. */
function databaseMentions(path: string, text: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    return tables.some(({ name }) => (db.prepare(`SELECT * FROM "${name}"`).all()).some((row) => JSON.stringify(row).includes(text)));
  } finally {
    db.close();
  }
}

function listTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listTree(root, r));
    else out.push(r);
  }
  return out.sort();
}

// Real agentd + real OpenClaw gateways, the embedded local-directory bucket, an LLM stub.
describe('the brain outlives its machine', () => {
  const stub = new LlmStub({ reply: 'Noted.' });
  let fleet: TestFleet;
  const plane = 'brain';
  const agent = (name: string): Promise<BrainAgent> => fleet.agent(plane, name) as Promise<BrainAgent>;
  const sync = async (name: string): Promise<SyncView | null> => (await agent(name)).heartbeat?.heartbeat.sync ?? null;
  const gwPort = (name: string): number => fleet.gatewayPort(plane, name);
  const workspace = (name: string): string => fleet.workspaceDir(plane, name);
  const agentDb = (name: string): string => fleet.agentDbPath(plane, name);
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args, '--plane', plane, '--json'], {
      env: fleet.cliEnv(),
      timeoutMs: 300_000,
    });

  beforeAll(async () => {
    const { baseUrl } = await stub.start();
    fleet = await openclawFleet(plane, baseUrl, MODEL_KEY);
  });
  afterAll(async () => {
    await fleet.destroy();
    await stub.close();
  });

  it('memory from a real agent turn survives destroying the agent directories and a reprovision', async () => {
    await fleet.addAgent(plane, 'mem');
    let a = (await fleet.waitFor(plane, 'mem', (x) => x.health.color === 'green', 150_000)) as BrainAgent;
    const turn = await agentTurn(a.heartbeat?.heartbeat.gateway?.pid ?? 0, gwPort('mem'), `Remember the code word ${CODE_WORD}.`);
    expect(turn.code, turn.stderr).toBe(0);
    mkdirSync(join(workspace('mem'), 'memory'), { recursive: true });
    writeFileSync(join(workspace('mem'), 'memory', '2026-11-21.md'), `The user's code word is ${CODE_WORD}.\n`);

    const backup = await planes('backup', '--name', 'mem');
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const snapshot = (JSON.parse(backup.stdout) as { command: { output: { snapshot: string } } }).command.output.snapshot;
    await waitUntil(async () => (await sync('mem'))?.snapshot === snapshot, 10_000, 'heartbeat with the backup snapshot');
    const reported = await sync('mem');
    expect(reported?.sessions).toBeGreaterThanOrEqual(1);
    expect(reported?.memoryFiles).toBe(1);

    const drill = await planes('verify-backup', '--name', 'mem');
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    const report = JSON.parse(drill.stdout) as { ok: boolean; databases: { name: string; integrity: string }[]; sessions: { restored: number; reported: number } };
    expect(report.ok).toBe(true);
    expect(report.databases.map((d) => d.integrity)).toEqual(report.databases.map(() => 'ok'));
    expect(report.databases.map((d) => d.name)).toContain('agents/main/agent/openclaw-agent.sqlite');
    expect(report.sessions.restored).toBe(reported?.sessions);

    // The workspace's own .git is not synced (snapshots are the history); everything else is.
    const filesBefore = listTree(workspace('mem')).filter((p) => !p.startsWith('.git/'));
    const soulBefore = readFileSync(join(workspace('mem'), 'AGENTS.md'), 'utf8');
    const oldDir = fleet.agentDir(plane, 'mem');
    const fenceBefore = reported?.fence ?? 0;

    // A fresh machine: the old directories are destroyed, a new agentd enrols and restores.
    const re = await planes('reprovision', '--name', 'mem');
    expect(re.code, re.stdout + re.stderr).toBe(0);
    a = (await fleet.waitFor(plane, 'mem', (x) => x.health.color === 'green', 150_000)) as BrainAgent;
    expect(existsSync(oldDir)).toBe(true); // the same path, but a new machine's files
    const after = await sync('mem');
    expect(after?.fence).toBeGreaterThan(fenceBefore);
    expect(listTree(workspace('mem'))).toEqual(expect.arrayContaining(filesBefore));
    expect(readFileSync(join(workspace('mem'), 'AGENTS.md'), 'utf8')).toBe(soulBefore);
    expect(readFileSync(join(workspace('mem'), 'memory', '2026-11-21.md'), 'utf8')).toContain(CODE_WORD);
    expect(databaseMentions(agentDb('mem'), CODE_WORD)).toBe(true);

    // The restored agent continues the conversation: the model is sent the earlier turn.
    const seen = stub.requests.length;
    const again = await agentTurn(a.heartbeat?.heartbeat.gateway?.pid ?? 0, gwPort('mem'), 'What was the code word?');
    expect(again.code, again.stderr).toBe(0);
    expect(stub.requests.slice(seen).some((r) => r.bodyText.includes(CODE_WORD))).toBe(true);
  }, 400_000);

  it('pushes a workspace change within seconds, and restore --at brings an earlier version back', async () => {
    const note = join(workspace('mem'), 'memory', 'note.md');
    const pushedWith = async (size: number): Promise<string> => {
      let id = '';
      await waitUntil(
        async () => {
          const s = await sync('mem');
          id = s?.snapshot ?? '';
          return s?.lagMs === 0 && s.state === 'idle' && id !== '';
        },
        10_000,
        `push of a ${size}-byte note`,
      );
      return id;
    };
    const before = (await sync('mem'))?.snapshot;
    writeFileSync(note, 'version one\n');
    const t0 = Date.now();
    await waitUntil(async () => (await sync('mem'))?.snapshot !== before, 10_000, 'snapshot after a change');
    expect(Date.now() - t0).toBeLessThan(5000);
    await pushedWith(12);
    // Snapshot ids carry milliseconds: every snapshot with version two is taken after this instant.
    const at = new Date().toISOString();
    writeFileSync(note, 'version two, longer\n');
    await waitUntil(async () => (await sync('mem'))?.snapshot !== before, 10_000, 'second snapshot');
    await pushedWith(20);

    const r = await planes('restore', '--name', 'mem', '--at', at);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = (JSON.parse(r.stdout) as { command: { output: { current: string; continuity: { gateway: string; sessions: { expected: number; found: number } } } } }).command.output;
    expect(out.continuity.gateway).toBe('running');
    expect(out.continuity.sessions.found).toBe(out.continuity.sessions.expected);
    expect(readFileSync(note, 'utf8')).toBe('version one\n');
    await fleet.waitFor(plane, 'mem', (x) => x.health.color === 'green', 60_000);

    // History stays linear: the restore is a new snapshot after the second version. The restarted
    // gateway may write its database right away, so the agent's own snapshots can follow it;
    // none of them brings version two back.
    const snaps = await planes('snapshots', '--name', 'mem');
    const list = (JSON.parse(snaps.stdout) as { snapshots: { id: string; reason: string; current: boolean }[] }).snapshots;
    expect(list.filter((s) => s.current)).toHaveLength(1);
    const restoredAt = list.findIndex((s) => s.id === out.current);
    expect(list[restoredAt]).toMatchObject({ reason: 'restore' });
    expect(list.findIndex((s) => s.current)).toBeGreaterThanOrEqual(restoredAt);
    expect(list.slice(restoredAt + 1).map((s) => s.reason)).not.toContain('restore');
    expect(readFileSync(note, 'utf8')).toBe('version one\n');
  }, 200_000);

  it('clone-agent copies the brain to a new agent with its own SOUL and no credentials', async () => {
    const soulFile = join(fleet.dataDir, 'clone-soul.md');
    writeFileSync(soulFile, 'You are the clone.\n');
    const r = await planes('clone-agent', '--from', 'mem', '--name', 'mem2', '--owner', 'mem2@example.com', '--soul-file', soulFile);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // A clone is a new identity: it gets no secrets of its source; an admin gives it its own key.
    expect((await fleet.hub.context.secrets.list(plane, 'mem2')).map((x) => x.name)).not.toContain('FAKEAI_API_KEY');
    expect((await fleet.api('PUT', `/v1/planes/${plane}/agents/mem2/secrets/FAKEAI_API_KEY`, { value: MODEL_KEY })).status).toBe(200);
    await fleet.waitFor(plane, 'mem2', (x) => x.health.color === 'green', 150_000);
    expect(readFileSync(join(workspace('mem2'), 'SOUL.md'), 'utf8')).toBe('You are the clone.\n');
    expect(readFileSync(join(workspace('mem2'), 'memory', '2026-11-21.md'), 'utf8')).toContain(CODE_WORD);
    expect(databaseMentions(agentDb('mem2'), CODE_WORD)).toBe(true);
    const db = new Database(agentDb('mem2'), { readonly: true });
    try {
      const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'auth_profile_store'").get();
      if (has) expect((db.prepare('SELECT count(*) AS n FROM auth_profile_store').get() as { n: number }).n).toBe(0);
    } finally {
      db.close();
    }
  }, 300_000);
});
