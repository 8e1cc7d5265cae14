import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PINNED_RUNTIME } from '../../common/src/runtime/pins.ts';
import { testRuntimeRoot } from './runtime-cache.ts';
import type { HubOptions } from '../../hub/src/hub-options.ts';
import { TestFleet } from './fleet.ts';

const OPENCLAW = join(testRuntimeRoot(), 'openclaw', PINNED_RUNTIME.openclaw, 'node_modules', 'openclaw', 'openclaw.mjs');
const NODE = join(testRuntimeRoot(), 'node', PINNED_RUNTIME.node, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');

/** A running gateway's environment variable, read the way its owner could (tests run as the same user). */
export function gatewayEnv(pid: number, name: string): string {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const hit = env.find((e) => e.startsWith(`${name}=`));
  if (!hit) throw new Error(`gateway ${pid} has no ${name}`);
  return hit.slice(name.length + 1);
}

export interface TurnResult {
  code: number;
  json: { status?: string; result?: { meta?: { agentMeta?: { usage?: { input: number; output: number; total: number } } } } } | undefined;
  stderr: string;
}

/** Runs one real agent turn through the gateway with OpenClaw's own CLI. */
export function agentTurn(gatewayPid: number, port: number, message: string, timeoutMs = 120_000): Promise<TurnResult> {
  const token = gatewayEnv(gatewayPid, 'OPENCLAW_GATEWAY_TOKEN');
  const home = gatewayEnv(gatewayPid, 'HOME');
  return new Promise((resolve) => {
    execFile(
      NODE,
      [OPENCLAW, 'agent', '--agent', 'main', '--message', message, '--json'],
      { env: { PATH: process.env['PATH'], HOME: home, OPENCLAW_GATEWAY_PORT: String(port), OPENCLAW_GATEWAY_TOKEN: token }, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        let json: TurnResult['json'];
        try {
          json = JSON.parse(stdout) as TurnResult['json'];
        } catch {
          json = undefined;
        }
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, json, stderr });
      },
    );
  });
}

/**
 * A test hub whose local agents run real agentd + OpenClaw gateways, and a plane
 * whose every model tier is fakeai/fake-1 on the LLM stub at `baseUrl`.
 */
export async function openclawFleet(plane: string, baseUrl: string, modelKey: string, model: Record<string, unknown> = {}, hubOptions: Partial<HubOptions> = {}): Promise<TestFleet> {
  const fleet = new TestFleet({
    ...hubOptions,
    heartbeatIntervalMs: 1000,
    localRuntime: 'openclaw',
    localRuntimeRoot: testRuntimeRoot(),
    localProbeIntervalMs: 500,
    localRpcIntervalMs: 2000,
  });
  // Every agent added through the fleet gets the model key as its own secret, set
  // through the REST API the way an admin would.
  fleet.agentSecrets = { FAKEAI_API_KEY: modelKey };
  await fleet.start();
  const r = await fleet.api('POST', '/v1/planes', {
    name: plane,
    infraProvider: 'local',
    models: {
      tiers: { haiku: 'fakeai/fake-1', sonnet: 'fakeai/fake-1', opus: 'fakeai/fake-1' },
      providers: { fakeai: { baseUrl, api: 'openai-completions', apiKeyEnv: 'FAKEAI_API_KEY', models: [{ id: 'fake-1', name: 'Fake 1', ...model }] } },
    },
  });
  if (r.status !== 201) throw new Error(`create plane: ${r.status} ${JSON.stringify(r.body)}`);
  return fleet;
}
