/**
 * `agentd run --config FILE` (the daemon) and the operator verbs
 * `agentd status|doctor|logs`, which talk to a running agentd over its Unix
 * socket. The only module of agentd that handles signals or exits the process.
 * Exit codes: 0 clean stop / ok; 1 stop deadline exceeded, a runtime failure, or
 * doctor found problems; 2 usage; 5 agentd not reachable; 78 configuration
 * error, including a bootstrap that finds no identity (systemd must not restart
 * into it: RestartPreventExitStatus=78 in systemd/agentd.service).
 */
import { parseFlags } from '../../common/src/cli-args.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { LogRing } from '../../common/src/log-ring.ts';
import { Logger, type LogRecord, stderrSink } from '../../common/src/logger.ts';
import { join } from 'node:path';
import { operatorGet } from './operator/operator-client.ts';
import { VERSION } from '../../common/src/version.ts';
import { Agentd, type AgentdStatus } from './agentd.ts';
import { describeSync } from '../../common/src/brain/sync-view.ts';
import { resolveAgentdConfig } from './bootstrap.ts';
import { loadAgentdFileConfig } from './config.ts';
import { GceMetadata } from './gce-metadata.ts';
import { PreemptionWatch } from './preemption-watch.ts';

const EX_CONFIG = 78;
const DEFAULT_CONFIG = '/etc/agentd/agentd.yaml';
const USAGE = `usage:
  agentd run [--config FILE]
  agentd status [--json] [--config FILE | --socket PATH]
  agentd doctor [--json] [--config FILE | --socket PATH]
  agentd logs [--follow] [--lines N] [--json] [--config FILE | --socket PATH]
  agentd --version
The config defaults to $AGENTD_CONFIG or ${DEFAULT_CONFIG}.`;

async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' } });
  const configFile = values.config ?? process.env['AGENTD_CONFIG'] ?? DEFAULT_CONFIG;
  // Every record goes to stderr (the journal under systemd) and to a ring for `agentd logs`.
  const ring = new LogRing(5000);
  const log = new Logger('agentd', { sink: (r: LogRecord) => (stderrSink(r), ring.push(r)) });
  let cfg;
  try {
    // With a bootstrap section, plane, agent and enrolment come from the instance metadata or a local file.
    cfg = await resolveAgentdConfig(configFile, { log });
  } catch (err) {
    const e = PlaneError.from(err);
    console.error(`agentd: ${e.message}`);
    // A metadata server that answers with errors may recover: let systemd restart agentd.
    return e.code === ErrorCode.Unavailable ? 1 : EX_CONFIG;
  }
  const agentd = new Agentd(cfg, log, ring);
  let exitCode = 0;
  let preemption: PreemptionWatch | undefined;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals | 'preemption'): void => {
      if (agentd.state === 'stopping' || agentd.state === 'stopped') return;
      void preemption?.stop();
      log.info(signal === 'preemption' ? 'preempted; stopping within the notice' : 'signal received; stopping', { signal, deadlineMs: cfg.shutdownTimeoutMs });
      const hard = setTimeout(() => {
        log.error('stop deadline exceeded; exiting now', { deadlineMs: cfg.shutdownTimeoutMs });
        process.exit(1);
      }, cfg.shutdownTimeoutMs);
      hard.unref();
      agentd.stop().then(resolve, (err: unknown) => {
        log.error('stop failed', { error: err });
        exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // On Compute Engine: a Spot VM's 30 s notice is spent on the final brain sync and a clean report
    // (shutdownTimeoutMs, 25 s by default, fits inside it), before the guest is shut down.
    if (loadAgentdFileConfig(configFile).bootstrap?.source === 'gce-metadata') {
      preemption = new PreemptionWatch(new GceMetadata(), log, () => {
        agentd.report('agentd.preempted', 'the Spot VM is being preempted; final sync and stop within the notice');
        onSignal('preemption');
      });
      preemption.start();
    }
  });
  try {
    await agentd.start();
  } catch (err) {
    const e = PlaneError.from(err);
    if (e.code === ErrorCode.Aborted) {
      await stopped;
      return exitCode;
    }
    log.error('agentd could not start', { reason: e.message, code: e.code });
    await agentd.stop().catch(() => undefined);
    return e.code === ErrorCode.InvalidArgument || e.code === ErrorCode.FailedPrecondition || e.code === ErrorCode.Unauthenticated ? EX_CONFIG : 1;
  }
  await stopped;
  return exitCode;
}

function socketPath(values: { socket?: string | undefined; config?: string | undefined }): string {
  if (values.socket) return values.socket;
  const cfg = loadAgentdFileConfig(values.config ?? process.env['AGENTD_CONFIG'] ?? DEFAULT_CONFIG);
  return join(cfg.stateDir, 'agentd.sock');
}

const mb = (n: unknown): string => (typeof n === 'number' && n > 0 ? `${Math.round(n / 1024 / 1024)}M` : '-');

function printStatus(s: AgentdStatus): void {
  const gw = s.gateway;
  const state = String(gw.state ?? '').replace('GATEWAY_STATE_', '').toLowerCase();
  const lines = [
    ['agent', `${s.plane}/${s.agent}${s.agentId ? ` (${s.agentId})` : ''}`],
    ['agentd', `${s.agentd.state}, v${s.agentd.version}, up ${s.agentd.uptimeS}s, pid ${s.agentd.pid}`],
    ['hub', `${s.hub.connection} (${s.hub.address ?? 'not enrolled'})`],
    ['gateway', `${state}${gw.ready ? ', ready' : ', not ready'}, ${gw.runtime ?? ''} ${gw.version ?? ''}${gw.pid ? `, pid ${gw.pid}` : ''}${s.runtime.port ? `, port ${s.runtime.port}` : ''}, restarts ${gw.restartCount ?? 0}`],
    ['', `rss ${mb(gw.rssBytes)}, event loop p99 ${Math.round(Number(gw.eventLoopDelayMs ?? 0))}ms${gw.lastError ? `, last error: ${gw.lastError}` : ''}`],
    ['model', `${s.model ?? '-'}${s.paused ? ' (paused)' : ''}`],
    ['secrets', gw.degradedSecretOwners?.length ? `missing: ${gw.degradedSecretOwners.join('; ')}` : 'ok'],
    ['usage', s.usage ? `${String(s.usage.totalTokens)} tokens, $${Number(s.usage.totalCostUsd).toFixed(4)}` : '-'],
    ...(s.brain ? describeSync(s.brain) : [['brain', 'not syncing (no grant from the hub yet, sync off, or the bucket unreachable)'] as [string, string]]),
    ...(s.brain?.skippedList ?? []).map((f): [string, string] => ['', `  ${f.path}: ${f.reason}`]),
  ];
  for (const [k, v] of lines) console.log(`${(k ?? '').padEnd(8)} ${v}`);
}

async function operator(verb: 'status' | 'doctor' | 'logs', args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    config: { type: 'string' },
    socket: { type: 'string' },
    json: { type: 'boolean', default: false },
    follow: { type: 'boolean', default: false },
    lines: { type: 'string' },
  });
  const sock = socketPath(values);
  if (verb === 'status') {
    const body = await operatorGet(sock, '/status');
    if (values.json) process.stdout.write(body);
    else printStatus(JSON.parse(body) as AgentdStatus);
    return 0;
  }
  if (verb === 'doctor') {
    const report = JSON.parse(await operatorGet(sock, '/doctor')) as { status: string; checks: Array<{ name: string; status: string; detail: string; hint?: string }> };
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      const mark: Record<string, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
      for (const c of report.checks) console.log(`${mark[c.status] ?? c.status} ${c.name}: ${c.detail}${c.hint ? `\n     fix: ${c.hint}` : ''}`);
      console.log(`\ndoctor: ${report.status}`);
    }
    return report.status === 'ok' ? 0 : 1;
  }
  const lines = values.lines ? Number(values.lines) : 200;
  if (!Number.isInteger(lines) || lines < 0) throw new PlaneError(ErrorCode.InvalidArgument, `--lines must be a whole number, got '${values.lines}'`, { where: '--lines' });
  let partial = '';
  await operatorGet(sock, `/logs?lines=${lines}${values.follow ? '&follow=1' : ''}`, (chunk) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      if (!p) continue;
      if (values.json) console.log(p);
      else {
        const l = JSON.parse(p) as { atMs: number; source: string; text: string };
        console.log(`${new Date(l.atMs).toISOString()} ${l.source.padEnd(7)} ${l.text}`);
      }
    }
  });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version') return (console.log(VERSION), 0);
  if (argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) return (console.log(USAGE), 0);
  if (argv[0] === 'run') return run(argv.slice(1));
  if (argv[0] === 'status' || argv[0] === 'doctor' || argv[0] === 'logs') return operator(argv[0], argv.slice(1));
  throw new PlaneError(ErrorCode.InvalidArgument, USAGE);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = PlaneError.from(err);
    console.error(`agentd: ${e.message}`);
    process.exit(e.exitCode);
  },
);
