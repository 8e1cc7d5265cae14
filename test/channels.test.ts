import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openclawFleet } from './helpers/gateway.ts';
import { type TestFleet, processAlive, run, waitUntil } from './helpers/fleet.ts';
import { LlmStub } from './helpers/llm-stub.ts';
import { TelegramStub } from './helpers/telegram-stub.ts';

const TOKEN = '4242:canary-telegram-token-5be1c07d';

// A channel token set by an admin reaches a real OpenClaw gateway only as a 0600 file in a 0700
// directory on tmpfs (systemd's $RUNTIME_DIRECTORY; here /dev/shm), and is gone when agentd stops.
describe('channels', () => {
  const llm = new LlmStub({ reply: 'ok' });
  const telegram = new TelegramStub();
  // /dev/shm is a tmpfs, as /run/agentd is under systemd.
  const runtimeDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'agentd-run-'));
  const plane = 'chan';
  let fleet: TestFleet;
  const status = async (): Promise<{ channelsPending: string[] }> => {
    const r = await run(process.execPath, ['bin/agentd.js', 'status', '--json', '--socket', join(fleet.agentDir(plane, 'tg'), 'state', 'agentd.sock')]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { channelsPending: string[] };
  };

  beforeAll(async () => {
    const { baseUrl } = await llm.start();
    const apiRoot = await telegram.start();
    fleet = await openclawFleet(plane, baseUrl, 'sk-model-key-for-channels', {}, { localAgentEnv: { RUNTIME_DIRECTORY: runtimeDir } });
    const r = await fleet.api('POST', `/v1/planes/${plane}/agents`, {
      name: 'tg',
      ownerEmail: 'tg@example.com',
      channels: ['telegram', 'carrier-pigeon'],
      // The Bot API root is the stand-in; everything else about the channel is what agentd renders.
      configOverrides: { channels: { telegram: { apiRoot } } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect((await fleet.api('PUT', `/v1/planes/${plane}/agents/tg/secrets/FAKEAI_API_KEY`, { value: 'sk-model-key-for-channels' })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await fleet.destroy();
    await telegram.close();
    await llm.close();
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  it('without its token the channel is pending, named with the secret to set, and OpenClaw never calls Telegram', async () => {
    const a = await fleet.waitFor(plane, 'tg', (x) => x.connected && x.health.reason.startsWith('secret missing:'), 180_000);
    expect(a.health.color).toBe('yellow');
    expect(a.health.reason).toBe('secret missing: secret:TELEGRAM_BOT_TOKEN');
    expect((await status()).channelsPending).toEqual(['telegram (secret TELEGRAM_BOT_TOKEN not set)', 'carrier-pigeon (not supported by this agentd yet)']);
    expect(telegram.calls).toEqual([]);
  }, 200_000);

  it('a token set from stdin is written to a 0600 file on tmpfs that OpenClaw reads; the config names the file, never the token', async () => {
    const set = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/planes.js', 'secrets', 'set', '--plane', plane, '--name', 'tg', 'TELEGRAM_BOT_TOKEN'], { env: fleet.cliEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
      child.stdin.end(`${TOKEN}\n`);
    });
    expect(set.code, set.stderr).toBe(0);
    await fleet.waitFor(plane, 'tg', (x) => x.health.color === 'green', 180_000);
    // The real gateway's telegram channel called the Bot API with the token it read from the file.
    await waitUntil(() => telegram.calls.some((c) => c.method === 'getMe'), 60_000, 'the gateway to call getMe');
    expect(new Set(telegram.calls.map((c) => c.token))).toEqual(new Set([TOKEN]));

    const dir = join(runtimeDir, 'secret-files');
    const file = join(dir, 'TELEGRAM_BOT_TOKEN');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(TOKEN);
    const config = readFileSync(join(fleet.agentDir(plane, 'tg'), 'state', 'openclaw', 'openclaw.json'), 'utf8');
    expect(JSON.parse(config)).toMatchObject({ channels: { telegram: { enabled: true, tokenFile: file, dmPolicy: 'pairing' } } });
    expect(config).not.toContain(TOKEN);
    expect((await status()).channelsPending).toEqual(['carrier-pigeon (not supported by this agentd yet)']);
    // Nowhere under the hub's data directory (agent state, logs, bucket, hub.db) holds the token.
    fleet.hub.context.db.pragma('wal_checkpoint(TRUNCATE)');
    const hits: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && readFileSync(p).includes(TOKEN)) hits.push(p);
      }
    };
    walk(fleet.dataDir);
    expect(hits).toEqual([]);
  }, 300_000);

  it('agentd removes the token file when it stops', async () => {
    const pid = fleet.agentdPid(plane, 'tg');
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => !processAlive(pid), 30_000, 'agentd to exit');
    expect(readdirSync(join(runtimeDir, 'secret-files'))).toEqual([]);
  }, 60_000);
});
