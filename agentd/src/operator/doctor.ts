import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenClawRuntime } from '../runtime/openclaw-runtime.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorReport {
  status: CheckStatus;
  checks: DoctorCheck[];
}

/**
 * Findings that describe this design rather than a problem: the gateway is
 * loopback-only and fronted by nothing, on purpose.
 */
const ACCEPTED: Readonly<Record<string, string>> = {
  'core/doctor/node-hosting-preconditions': 'loopback-only by design; agents are reached through the hub, not directly',
  'gateway.trusted_proxies_missing': 'no reverse proxy by design; the gateway is loopback-only',
  'core/doctor/skill-workshop-tool-policy': 'tools are limited to the agent spec on purpose (messaging profile plus mapped tools)',
};

export function modeCheck(name: string, path: string, want: number): DoctorCheck {
  if (!existsSync(path)) return { name, status: 'warn', detail: `${path} does not exist yet` };
  const mode = statSync(path).mode & 0o777;
  if ((mode & ~want) === 0) return { name, status: 'ok', detail: `${path} is ${mode.toString(8)}` };
  return { name, status: 'fail', detail: `${path} is ${mode.toString(8)}, expected ${want.toString(8)} or stricter`, hint: `chmod ${want.toString(8)} ${path}` };
}

/** Addresses listening on `port` from /proc/net/tcp{,6}, as hex (0100007F = 127.0.0.1). */
export function listenAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [addr, p] = (f[1] ?? '').split(':');
      if (p === hexPort && f[3] === '0A' && addr) out.push(addr);
    }
  }
  return out;
}

const LOOPBACK_HEX = new Set(['0100007F', '00000000000000000000000001000000']);

export function loopbackCheck(runtime: OpenClawRuntime): DoctorCheck {
  let bind = '';
  try {
    bind = String((JSON.parse(readFileSync(runtime.configPath, 'utf8')) as { gateway?: { bind?: string } }).gateway?.bind ?? '');
  } catch {
    return { name: 'loopback bind', status: 'warn', detail: 'config not rendered yet' };
  }
  if (bind !== 'loopback') return { name: 'loopback bind', status: 'fail', detail: `gateway.bind is '${bind}'`, hint: 'remove the gateway.bind override; the gateway must only listen on loopback' };
  const addrs = listenAddresses(runtime.port);
  if (addrs.length === 0) return { name: 'loopback bind', status: 'warn', detail: `nothing listens on port ${runtime.port} (gateway down?)` };
  const exposed = addrs.filter((a) => !LOOPBACK_HEX.has(a));
  if (exposed.length > 0) return { name: 'loopback bind', status: 'fail', detail: `port ${runtime.port} listens beyond loopback (${exposed.join(', ')})`, hint: 'stop the gateway and check gateway.bind and --bind' };
  return { name: 'loopback bind', status: 'ok', detail: `port ${runtime.port} listens on loopback only` };
}

interface Finding {
  checkId?: string;
  severity?: string;
  title?: string;
  message?: string;
  detail?: string;
  remediation?: string;
  fixHint?: string;
}

/** Turns OpenClaw's JSON findings (security audit, doctor --lint) into checks, accepting the by-design ones. */
export function findingsCheck(name: string, findings: Finding[]): DoctorCheck {
  const real = findings.filter((f) => f.severity !== 'info' && !(f.checkId && ACCEPTED[f.checkId]));
  const accepted = findings.filter((f) => f.checkId && ACCEPTED[f.checkId]).map((f) => f.checkId as string);
  const critical = real.filter((f) => f.severity === 'critical' || f.severity === 'error');
  const note = accepted.length ? ` (accepted by design: ${accepted.join(', ')})` : '';
  if (real.length === 0) return { name, status: 'ok', detail: `no findings${note}` };
  const first = critical[0] ?? real[0];
  return {
    name,
    status: critical.length > 0 ? 'fail' : 'warn',
    detail: `${critical.length} critical, ${real.length - critical.length} warning: ${real.map((f) => `${f.checkId ?? '?'}: ${f.title ?? f.message ?? ''}`).join('; ')}${note}`,
    ...((first?.remediation ?? first?.fixHint) ? { hint: first?.remediation ?? first?.fixHint } : {}),
  };
}

/** Runs an OpenClaw CLI command with the gateway's environment and parses its JSON output. */
export function openclawJson(runtime: OpenClawRuntime, args: string[], timeoutMs = 60_000): Promise<{ code: number; json: unknown; error: string }> {
  const paths = runtime.paths;
  if (!paths) return Promise.resolve({ code: -1, json: undefined, error: 'runtime not installed yet' });
  return new Promise((resolve) => {
    execFile(paths.nodeBin, [paths.openclawEntry, ...args], { env: runtime.cliEnv(), timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout.slice(Math.max(0, stdout.indexOf('{'))));
      } catch {
        json = undefined;
      }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, json, error: json === undefined ? (stderr || stdout).trim().slice(-300) : '' });
    });
  });
}

/** All checks for an OpenClaw agent. Each one says what is wrong and how to fix it. */
export async function runDoctor(runtime: OpenClawRuntime, ctx: { stateDir: string; hubState: string; gatewayReady: boolean }): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [
    ctx.hubState === 'connected'
      ? { name: 'hub connection', status: 'ok', detail: 'connected' }
      : { name: 'hub connection', status: 'warn', detail: `not connected (${ctx.hubState})`, hint: 'check the hub address in credential.json and that the hub is up' },
    ctx.gatewayReady ? { name: 'gateway', status: 'ok', detail: 'running and ready' } : { name: 'gateway', status: 'fail', detail: 'not running or not ready', hint: 'see `agentd status` and `agentd logs`' },
    modeCheck('agentd state dir mode', ctx.stateDir, 0o700),
    modeCheck('credential file mode', join(ctx.stateDir, 'credential.json'), 0o600),
    modeCheck('OpenClaw state dir mode', join(ctx.stateDir, 'openclaw'), 0o700),
    modeCheck('OpenClaw config mode', runtime.configPath, 0o600),
    loopbackCheck(runtime),
  ];
  if (runtime.paths) {
    const issues = await runtime.validate(runtime.paths);
    checks.push(issues.length === 0 ? { name: 'openclaw config validate', status: 'ok', detail: 'valid' } : { name: 'openclaw config validate', status: 'fail', detail: issues.map((i) => `${i.path}: ${i.message}`).join('; '), hint: 'fix the agent spec or its configOverrides at the hub' });
    const [audit, lint] = await Promise.all([openclawJson(runtime, ['security', 'audit', '--deep', '--json']), openclawJson(runtime, ['doctor', '--lint', '--json'])]);
    checks.push(audit.json ? findingsCheck('openclaw security audit --deep', (audit.json as { findings?: Finding[] }).findings ?? []) : { name: 'openclaw security audit --deep', status: 'warn', detail: `no JSON output (exit ${audit.code}): ${audit.error}` });
    checks.push(lint.json ? findingsCheck('openclaw doctor --lint', (lint.json as { findings?: Finding[] }).findings ?? []) : { name: 'openclaw doctor --lint', status: 'warn', detail: `no JSON output (exit ${lint.code}): ${lint.error}` });
  } else {
    checks.push({ name: 'runtime', status: 'fail', detail: 'the pinned OpenClaw is not installed yet', hint: 'see `agentd logs` for the install' });
  }
  const status: CheckStatus = checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
  return { status, checks };
}
