import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { processAlive, waitUntil } from './helpers/fleet.ts';
import { testRuntimeRoot } from './helpers/runtime-cache.ts';

/**
 * `planes up -f examples/planes.yaml` on free ports with `args`, its output collected. If the test ends
 * before Ctrl-C (an assertion failed), it is still stopped, with the hub and its agents.
 */
function startUp(dataDir: string, args: string[]): { child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['bin/planes.js', 'up', '-f', 'examples/planes.yaml', '--data-dir', dataDir, '--grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', ...args],
    // No model key in the environment: gateways must come up anyway and say the key is missing.
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } },
  );
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  return { child, out, exited };
}

// The README's main command, run as a person would, on free ports.
describe('planes up (the main job)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'planes-up-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts a hub with three local agents running real gateways, prints the API and the table, and stops everything on Ctrl-C', async () => {
    const { child, out, exited } = startUp(dataDir, ['--runtime-root', testRuntimeRoot()]);

    await waitUntil(() => out.stdout.includes('Ctrl-C stops'), 170_000, `the up banner; stderr so far: ${out.stderr}`);
    const { stdout } = out;
    expect(stdout).toMatch(/REST API\s+http:\/\/127\.0\.0\.1:\d+/);
    for (const name of ['alice-agent', 'bob-agent', 'carol-agent']) {
      expect(stdout).toMatch(new RegExp(`acme-agents\\s+${name}\\s+\\S+\\s+yellow\\s+secret missing: secret:ANTHROPIC_API_KEY.*openclaw 2026\\.9\\.6\\s+running`));
    }
    expect(stdout).toMatch(/without a model key/);
    expect(stdout).not.toMatch(/apt1\./); // the admin token is never printed

    const agentsRoot = join(dataDir, 'local-agents', 'acme-agents');
    const pids = readdirSync(agentsRoot).map((a) => Number(readFileSync(join(agentsRoot, a, 'agentd.pid'), 'utf8')));
    expect(pids.every(processAlive)).toBe(true);

    // Each agent's gateway is a real OpenClaw process group.
    const gateways = readdirSync(agentsRoot).map((a) => Number(readFileSync(join(agentsRoot, a, 'state', 'run', 'gateway.pid'), 'utf8')));
    expect(gateways.every(processAlive)).toBe(true);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out.stderr).toMatch(/stopped\. State is kept/);
    await waitUntil(() => [...pids, ...gateways].every((p) => !processAlive(p)), 5000, 'agentd and gateway processes to exit');
  }, 240_000);

  it('takes --heal-red-after-ms as hub serve does: a killed agent is restarted after that long, not 120 s', async () => {
    const dir = join(dataDir, 'heal');
    const { child, out, exited } = startUp(dir, ['--runtime', 'placeholder', '--heartbeat-interval-ms', '300', '--heal-red-after-ms', '1000']);
    await waitUntil(() => out.stdout.includes('Ctrl-C stops') || child.exitCode !== null, 60_000, `the up banner; stderr so far: ${out.stderr}`);
    expect(child.exitCode, out.stderr).toBe(null);
    const pidFile = join(dir, 'local-agents', 'acme-agents', 'bob-agent', 'agentd.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    // Red within 3 heartbeats (0.9 s), then restarted by the hub after 1 s of red.
    await waitUntil(() => {
      const now = Number(readFileSync(pidFile, 'utf8'));
      return now !== pid && processAlive(now);
    }, 30_000, `a new agentd for bob-agent; stderr so far: ${out.stderr}`);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 120_000);
});
