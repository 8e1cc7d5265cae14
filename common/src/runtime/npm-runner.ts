import { spawn } from 'node:child_process';
import { ErrorCode, PlaneError } from '../errors.ts';

/**
 * Runs npm (and the installed binaries, to verify them) for the runtime
 * manager: argument arrays only, never a shell string; bounded output, a
 * timeout and cancellation; npm's failures as PlaneErrors with the lines that
 * matter.
 */

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Named in errors: "npm install openclaw@2026.9.6". */
  what: string;
  /** The PlaneError `where` for a failure to start the command. */
  where: string;
}

const MAX_CAPTURE = 1 << 20;

export function run(command: string, args: string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new PlaneError(ErrorCode.Aborted, `${o.what}: cancelled`));
      return;
    }
    let stdout = '';
    let stderr = '';
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let failure: PlaneError | undefined;
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_CAPTURE);
    });
    const stop = (err: PlaneError): void => {
      if (failure) return;
      failure = err;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      killTimer.unref();
    };
    const timer = setTimeout(() => stop(new PlaneError(ErrorCode.DeadlineExceeded, `${o.what}: no result after ${Math.round(o.timeoutMs / 1000)} s`)), o.timeoutMs);
    timer.unref();
    const onAbort = (): void => stop(new PlaneError(ErrorCode.Aborted, `${o.what}: cancelled`));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      finish();
      const hint = err.code === 'ENOENT' ? ` (is "${command}" installed and on PATH?)` : '';
      reject(new PlaneError(ErrorCode.Unavailable, `${o.what}: cannot run ${command}: ${err.message}${hint}`, { cause: err, where: o.where }));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      finish();
      if (failure) reject(failure);
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

// npm noise that says nothing about the failure.
const NOISE = /^npm warn (Unknown (user|env|project|builtin) config|config )/;

export function tail(text: string, lines = 15, chars = 2000): string {
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l && !NOISE.test(l));
  return kept.slice(-lines).join('\n').slice(-chars);
}

/** The error code npm printed ("npm error code E404"), if any. */
function npmErrorCode(stderr: string): string | undefined {
  return /npm (?:error|ERR!) code (\S+)/.exec(stderr)?.[1];
}

export function npmFailure(what: string, result: RunResult, where: string): PlaneError {
  const npmCode = npmErrorCode(result.stderr);
  const status = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
  const detail = tail(result.stderr) || tail(result.stdout) || '(no output)';
  let code: ErrorCode = ErrorCode.Unavailable;
  let reason = 'npm failed';
  if (npmCode === 'E404' || npmCode === 'ETARGET') {
    code = ErrorCode.NotFound;
    reason = 'not found in the registry';
  } else if (npmCode === 'EINTEGRITY') {
    code = ErrorCode.FailedPrecondition;
    reason = 'the downloaded tarball does not match the registry integrity';
  } else if (npmCode === 'EACCES' || npmCode === 'EPERM') {
    code = ErrorCode.PermissionDenied;
    reason = 'permission denied';
  } else if (npmCode === 'ENOSPC') {
    reason = 'no space left on the device';
  }
  return new PlaneError(code, `${what}: ${reason} (${status}${npmCode ? `, ${npmCode}` : ''}):\n${detail}`, { where });
}

// Settings an `npm run` parent exports to its scripts (loglevel=silent, its own
// prefix, global, …) must not leak into our installs; registry, proxy and TLS
// settings given in the environment are kept.
const NPM_ENV_KEEP = /registry|proxy|^npm_config_(cafile|ca|cert|key|strict_ssl|userconfig|globalconfig|maxsockets|fetch_)/i;

export function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !NPM_ENV_KEEP.test(k)) continue;
    env[k] = v;
  }
  delete env['NODE_OPTIONS'];
  env['NO_UPDATE_NOTIFIER'] = '1';
  return env;
}
