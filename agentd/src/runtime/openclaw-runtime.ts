import { execFile } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { sleep } from '../../../common/src/backoff.ts';
import type { AgentRuntimeSpec } from '../../../common/src/agent-spec.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { ChildSpec } from '../supervisor/child-supervisor.ts';
import type { GatewayRuntime } from './gateway-runtime.ts';
import { realpathSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requiredSecrets, renderOpenClawConfig, SECRETS_SOCKET_ENV } from './openclaw-config.ts';
import type { SecretFiles } from '../secrets/secret-files.ts';
import type { AgentSecrets } from '../secrets/agent-secrets.ts';
import type { RuntimeManager, RuntimePaths } from '../../../common/src/runtime/runtime-manager.ts';
import type { RuntimeSet } from '../../../common/src/runtime/runtime-versions.ts';

export interface OpenClawRuntimeOptions {
  /** OpenClaw's state dir (OPENCLAW_STATE_DIR), 0700. */
  stateDir: string;
  workspaceDir: string;
  port: number;
  set: RuntimeSet;
  manager: RuntimeManager;
  /** The last spec the hub sent; undefined until the first one arrives. */
  spec: () => AgentRuntimeSpec | undefined;
  log: Logger;
  /** The agent's secrets (memory only): model keys for the gateway. */
  secrets: AgentSecrets;
  /** agentd's resolver socket (SecretResolverServer), passed to the resolver through the gateway's environment. */
  secretsSocket: string;
  /** Where channel tokens are written for OpenClaw to read (tmpfs under systemd). */
  secretFiles: SecretFiles;
  validateTimeoutMs?: number;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * The gateway's HTTP probes (no auth; loopback only). node:http rather than
 * global fetch: fetch (undici + its WebAssembly parser) costs agentd ~12 MB of
 * resident memory for what is one small GET every few seconds.
 */
export function probe(port: number, path: '/healthz' | '/startupz' | '/readyz', timeoutMs = 2000): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (text.length < 1_000_000) text += c;
      });
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // a non-JSON answer still tells us the port is alive
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * The real gateway: the pinned OpenClaw under the pinned Node, configured from
 * the agent's spec, validated by OpenClaw itself before every start, bound to
 * loopback with a per-boot token that never touches disk.
 */
export class OpenClawRuntime implements GatewayRuntime {
  readonly kind = 'openclaw' as const;
  readonly fatalExitCodes: Record<number, string> = {
    78: 'OpenClaw refused to start: bad config, state lock held by another gateway, or a database schema newer than this release',
  };
  // Node also exits 1 on an uncaught exception, so 1 means "secrets missing" only before the first ready.
  readonly startupFatalExitCodes: Record<number, string> = { 1: 'OpenClaw exited 1 while starting: required secrets are missing' };
  readonly #o: OpenClawRuntimeOptions;
  /** 256 bits, base64url (43 chars); lives only in memory and the gateway's environment. */
  #token = randomBytes(32).toString('base64url');
  #paths: RuntimePaths | undefined;
  /** The release in use; an upgrade switches it (see use()). */
  #set: RuntimeSet;

  constructor(options: OpenClawRuntimeOptions) {
    this.#o = options;
    this.#set = { ...options.set };
  }

  get version(): string {
    return this.#set.openclaw;
  }

  get nodeVersion(): string {
    return this.#set.node;
  }

  /** Installs (or verifies) another OpenClaw release beside the current one; does not switch. */
  installRelease(openclaw: string, signal?: AbortSignal): Promise<RuntimePaths> {
    return this.#o.manager.install({ node: this.#set.node, openclaw }, signal);
  }

  /** Switches the release the next start uses (installed and verified at that start). The gateway must be stopped. */
  use(openclaw: string): void {
    this.#set = { ...this.#set, openclaw };
    this.#paths = undefined;
  }

  /**
   * `openclaw database preflight` from a given release against consistent copies
   * of this agent's databases (the gateway may be running): whether that release
   * can open them. One result per database; `exact`, `startup-repairable` and
   * `migration-required` are fine, `incompatible` (a newer schema) and
   * `indeterminate` are not.
   */
  async preflight(paths: RuntimePaths, databases: string[], copy: (source: string, dest: string) => Promise<void>, scratch: string): Promise<Array<{ database: string; status: string; detail: string }>> {
    const out: Array<{ database: string; status: string; detail: string }> = [];
    ensureDir(scratch, 0o700);
    for (const rel of databases) {
      const agent = /^agents\/([^/]+)\/agent\//.exec(rel)?.[1];
      if (!agent && rel !== 'state/openclaw.sqlite') continue;
      const dest = join(scratch, rel.replace(/\//g, '__'));
      await copy(join(this.#o.stateDir, rel), dest);
      const args = agent ? ['database', 'preflight-agent', dest, '--agent-id', agent, '--json'] : ['database', 'preflight', dest, '--json'];
      const r = await this.#cli(paths, args, 120_000);
      let parsed: { status?: unknown; foundVersion?: unknown; targetVersion?: unknown; issues?: unknown[]; reason?: unknown } = {};
      try {
        parsed = JSON.parse(r.out.slice(Math.max(0, r.out.indexOf('{')))) as typeof parsed;
      } catch {
        parsed = {};
      }
      let status = typeof parsed.status === 'string' ? parsed.status : `exit ${r.code}`;
      const found = typeof parsed.foundVersion === 'number' ? parsed.foundVersion : undefined;
      const wanted = typeof parsed.targetVersion === 'number' ? parsed.targetVersion : undefined;
      let detail = typeof parsed.reason === 'string' ? parsed.reason : r.code === 0 ? '' : r.out.trim().slice(-300);
      // preflight-agent calls any schema but its own "incompatible", an older one included; an older
      // schema without other issues is what `doctor --fix` migrates (the shared-state preflight says so).
      if (status === 'incompatible' && found !== undefined && wanted !== undefined && found < wanted && (parsed.issues?.length ?? 0) === 0) {
        status = 'migration-required';
        detail = `schema ${found} -> ${wanted}`;
      }
      if (found !== undefined && wanted !== undefined && !detail) detail = `schema ${found}${found === wanted ? '' : ` -> ${wanted}`}`;
      out.push({ database: rel, status, detail });
    }
    return out;
  }

  /** `openclaw doctor --fix --non-interactive` from the release in use, with the gateway stopped: its supported migrations. */
  async doctorFix(): Promise<{ code: number; out: string }> {
    const paths = this.#paths ?? (await this.ensureInstalled());
    return this.#cli(paths, ['doctor', '--fix', '--non-interactive'], 300_000);
  }

  #cli(paths: RuntimePaths, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      execFile(paths.nodeBin, [paths.openclawEntry, ...args], { env: this.#baseEnv(paths), cwd: this.#o.stateDir, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  }

  get port(): number {
    return this.#o.port;
  }

  /** For the operator surface and probes on this machine only; never sent anywhere. */
  get gatewayToken(): string {
    return this.#token;
  }

  get configPath(): string {
    return join(this.#o.stateDir, 'openclaw.json');
  }

  get logFile(): string {
    return join(this.#o.stateDir, 'logs', 'gateway.log');
  }

  get paths(): RuntimePaths | undefined {
    return this.#paths;
  }

  /** A new gateway token; the gateway uses it from its next start. */
  rotateToken(): void {
    this.#token = randomBytes(32).toString('base64url');
  }

  /** Secret names the current spec needs: through the exec resolver, or in the gateway's environment. */
  requiredSecrets(): { exec: string[]; env: string[]; file: string[] } {
    const spec = this.#o.spec();
    return spec ? requiredSecrets(spec) : { exec: [], env: [], file: [] };
  }

  /**
   * Secrets the config needs that agentd does not have, as "secret:NAME".
   * OpenClaw's own degradedSecretOwners does not cover built-in providers that
   * read their key from the environment, so agentd reports every missing one.
   */
  get missingSecrets(): string[] {
    const r = this.requiredSecrets();
    return [...r.exec, ...r.env, ...r.file].filter((n) => !this.#o.secrets.has(n)).map((n) => `secret:${n}`);
  }

  /** `openclaw secrets reload`: the running gateway re-resolves its SecretRefs through agentd. */
  async reloadSecrets(): Promise<void> {
    const paths = this.#paths;
    if (!paths) throw new PlaneError(ErrorCode.FailedPrecondition, 'runtime not installed');
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(paths.nodeBin, [paths.openclawEntry, 'secrets', 'reload'], { env: this.cliEnv(), cwd: this.#o.stateDir, timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
    if (code !== 0) throw new PlaneError(ErrorCode.Unavailable, `openclaw secrets reload exited ${code}: ${out.trim().slice(-300)}`);
  }

  /** Installs (or reuses) the pinned runtime. Long on first use; idempotent. */
  async ensureInstalled(signal?: AbortSignal): Promise<RuntimePaths> {
    this.#paths = await this.#o.manager.install(this.#set, signal);
    return this.#paths;
  }

  /** Environment for OpenClaw CLI commands run beside the gateway (doctor, audit): they need its token. */
  cliEnv(): Record<string, string | undefined> {
    if (!this.#paths) return {};
    return { ...this.#baseEnv(this.#paths), OPENCLAW_GATEWAY_TOKEN: this.#token, OPENCLAW_GATEWAY_PORT: String(this.#o.port) };
  }

  #baseEnv(paths: RuntimePaths): Record<string, string | undefined> {
    return {
      [SECRETS_SOCKET_ENV]: this.#o.secretsSocket,
      PATH: `${dirname(paths.nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: join(this.#o.stateDir, 'home'),
      LANG: 'C.UTF-8',
      OPENCLAW_STATE_DIR: this.#o.stateDir,
      OPENCLAW_CONFIG_PATH: this.configPath,
    };
  }

  async prepare(): Promise<ChildSpec> {
    const paths = this.#paths ?? (await this.ensureInstalled());
    const spec = this.#o.spec();
    if (!spec) throw new PlaneError(ErrorCode.FailedPrecondition, 'no agent spec from the hub yet; cannot render the OpenClaw config');
    ensureDir(this.#o.stateDir, 0o700);
    ensureDir(join(this.#o.stateDir, 'home'), 0o700);
    ensureDir(join(this.#o.stateDir, 'logs'), 0o700);
    ensureDir(this.#o.workspaceDir, 0o700);
    // Channel tokens go to files OpenClaw reads; one without its value is left out of the config.
    const channelFiles = new Map<string, string>();
    for (const name of requiredSecrets(spec).file) {
      const v = this.#o.secrets.value(name);
      if (v) channelFiles.set(name, this.#o.secretFiles.write(name, v));
      else this.#o.secretFiles.remove(name);
    }
    const config = renderOpenClawConfig(spec, {
      channelFiles,
      workspaceDir: this.#o.workspaceDir,
      port: this.#o.port,
      logFile: this.logFile,
      // OpenClaw refuses a symlinked exec command: name the real Node binary.
      secretsResolver: { command: realpathSync(paths.nodeBin), args: [resolverScriptPath()] },
    });
    writeFileAtomic(this.configPath, `${JSON.stringify(config, null, 2)}\n`, 0o600);
    const issues = await this.validate(paths);
    if (issues.length > 0) {
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `OpenClaw config invalid: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
        { cause: issues, where: this.configPath },
      );
    }
    // Built-in providers read their key from the environment; a missing one is left out, never blank.
    const keys: Record<string, string> = {};
    for (const name of requiredSecrets(spec).env) {
      const v = this.#o.secrets.value(name);
      if (v) keys[name] = v;
    }
    return {
      command: paths.nodeBin,
      args: [paths.openclawEntry, 'gateway', 'run', '--port', String(this.#o.port), '--bind', 'loopback', '--auth', 'token'],
      cwd: this.#o.stateDir,
      env: {
        ...this.#baseEnv(paths),
        ...keys,
        OPENCLAW_GATEWAY_TOKEN: this.#token,
        [SECRETS_SOCKET_ENV]: this.#o.secretsSocket,
        OPENCLAW_SUPERVISOR_MODE: 'external',
        OPENCLAW_SERVICE_REPAIR_POLICY: 'external',
        OPENCLAW_NO_AUTO_UPDATE: '1',
        OPENCLAW_CONFIG_READONLY: '1',
      },
    };
  }

  /** Runs `openclaw config validate --json`; returns OpenClaw's own issues (empty when valid). */
  async validate(paths: RuntimePaths): Promise<ConfigIssue[]> {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        paths.nodeBin,
        [paths.openclawEntry, 'config', 'validate', '--json'],
        { env: this.#baseEnv(paths), cwd: this.#o.stateDir, timeout: this.#o.validateTimeoutMs ?? 60_000, maxBuffer: 4 * 1024 * 1024 },
        (err, out, errOut) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: out, stderr: errOut }),
      );
    });
    let parsed: { valid?: boolean; issues?: ConfigIssue[] } | undefined;
    try {
      // The JSON may be pretty-printed over many lines, after any log lines.
      parsed = JSON.parse(stdout.slice(Math.max(0, stdout.indexOf('{')))) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (code === 0 && parsed?.valid !== false) return [];
    if (parsed?.issues?.length) return parsed.issues.map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }));
    return [{ path: '', message: `openclaw config validate exited ${code}: ${(stderr || stdout).trim().slice(-500)}` }];
  }

  /** Ready = /startupz says started and /readyz says ready (OpenClaw's own definition). */
  async waitReady(_pid: number, signal: AbortSignal): Promise<void> {
    let started = false;
    while (!signal.aborted) {
      if (!started) {
        const s = await probe(this.#o.port, '/startupz');
        started = s?.status === 200;
      }
      if (started) {
        const r = await probe(this.#o.port, '/readyz');
        if (r?.status === 200 && r.body['ready'] === true) return;
      }
      await sleep(250, signal);
    }
  }
}

/** bin/agentd-secret-resolver.js of this installation (repository or package; dist/ sits beside bin/). */
export function resolverScriptPath(): string {
  for (const rel of ['../../../bin/agentd-secret-resolver.js', '../../../../bin/agentd-secret-resolver.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new PlaneError(ErrorCode.FailedPrecondition, 'bin/agentd-secret-resolver.js is missing from this installation');
}
