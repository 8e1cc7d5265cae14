/**
 * The golden image's static checks: the systemd unit (systemd-analyze verify and
 * security), the Packer template (packer validate, packer fmt -check) and the
 * provisioning scripts (bash -n, shellcheck), plus the unit's agreement with
 * agentd's own numbers. The tools are Debian packages that .ci/run installs; a
 * missing tool fails the test (install: apt-get install packer systemd shellcheck).
 * Building the image is not tested here; `npm run test:image` runs the
 * provisioning scripts in a debootstrap chroot.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentdConfigSchema, parseAgentdFileConfig } from '../agentd/src/config.ts';

const ROOT = join(import.meta.dirname, '..');
const UNIT = join(ROOT, 'systemd/agentd.service');
const PACKER = join(ROOT, 'packer/agentd.pkr.hcl');
const PROVISION = join(ROOT, 'images/provision');
/** `systemd-analyze security` exposure, times ten: 2.0 is the ceiling ("OK" is below 4.0). */
const MAX_EXPOSURE = 20;

const scratch = mkdtempSync(join(tmpdir(), 'image-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', NO_COLOR: '1' } });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${cmd} is not installed (apt-get install -y packer systemd shellcheck; .ci/run does this)` : r.error.message);
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** [Section] -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec?.[1]) {
      current = new Map();
      sections.set(sec[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`unit line outside a section or without '=': ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** systemd time span ("35s", "15min", "1min 30s") in ms. */
function spanMs(v: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000, h: 3600_000 };
  let total = 0;
  for (const [, n, u] of v.matchAll(/(\d+)\s*([a-z]*)/g)) total += Number(n) * (units[u || 's'] ?? NaN);
  return total;
}

describe('systemd/agentd.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const unit = parseUnit(text);
  const service = unit.get('Service') ?? new Map<string, string[]>();
  const one = (k: string): string | undefined => service.get(k)?.at(-1);

  it('is the only unit, so "every unit" below is this one', () => {
    expect(readdirSync(join(ROOT, 'systemd')).filter((f) => /\.(service|socket|timer|path|target)$/.test(f))).toEqual(['agentd.service']);
  });

  it('passes systemd-analyze verify with no warnings', () => {
    // An offline root with the unit, a stand-in for the ExecStart binary and the host's
    // own units (verify resolves sysinit.target and friends).
    const root = join(scratch, 'verify-root');
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    writeFileSync(join(root, 'usr/local/bin/agentd'), '#!/bin/sh\n');
    chmodSync(join(root, 'usr/local/bin/agentd'), 0o755);
    cpSync(UNIT, join(root, 'etc/systemd/system/agentd.service'));
    const r = run('systemd-analyze', ['verify', '--man=no', '--generators=no', `--root=${root}`, '/etc/systemd/system/agentd.service']);
    // verify exits 0 on unknown keys and bad values (it only warns): any output is a failure.
    expect({ status: r.status, out: (r.stdout + r.stderr).trim() }).toEqual({ status: 0, out: '' });
  });

  it(`has a systemd-analyze security exposure of at most ${MAX_EXPOSURE / 10}`, () => {
    const r = run('systemd-analyze', ['security', '--offline=true', '--no-pager', `--threshold=${MAX_EXPOSURE}`, UNIT]);
    const level = /Overall exposure level for agentd\.service: ([\d.]+)/.exec(r.stdout)?.[1];
    expect(level, r.stdout + r.stderr).toBeDefined();
    console.log(`agentd.service exposure: ${level}`);
    expect(Number(level)).toBeLessThanOrEqual(MAX_EXPOSURE / 10);
    expect(r.status, r.stderr).toBe(0);
  });

  it('is a notify service that accepts the systemd-notify child and has a watchdog', () => {
    expect(one('Type')).toBe('notify');
    // agentd sends through the systemd-notify binary: a child, not the main PID.
    expect(one('NotifyAccess')).toBe('all');
    const watchdog = spanMs(one('WatchdogSec') ?? '0');
    // Well above the 5 s systemd-notify may wait for the manager (sd-notify.ts).
    expect(watchdog).toBeGreaterThanOrEqual(20_000);
  });

  it("does not restart into agentd's configuration exit code", () => {
    const main = readFileSync(join(ROOT, 'agentd/src/main.ts'), 'utf8');
    const exConfig = /const EX_CONFIG = (\d+);/.exec(main)?.[1];
    expect(exConfig).toBe('78');
    expect(one('RestartPreventExitStatus')?.split(/\s+/)).toContain(exConfig);
    expect(one('Restart')).toBe('on-failure');
  });

  it("gives agentd's stop budget room before the final SIGKILL", () => {
    const stopBudget = (AgentdConfigSchema.properties.shutdownTimeoutMs as { default: number }).default;
    expect(stopBudget).toBe(25_000);
    // agentd stops its own gateway: SIGTERM to agentd only, and well after its budget, SIGKILL.
    expect(one('KillMode')).toBe('mixed');
    expect(spanMs(one('TimeoutStopSec') ?? '0')).toBeGreaterThanOrEqual(stopBudget + 5000);
    // The first start includes enrolment and the gateway's start.
    expect(spanMs(one('TimeoutStartSec') ?? '0')).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it('runs as the agentd user with the config and directories the image provides', () => {
    expect(one('User')).toBe('agentd');
    expect(one('ExecStart')).toBe('/usr/local/bin/agentd run --config /etc/agentd/agentd.yaml');
    expect(one('StateDirectory')?.split(/\s+/).sort()).toEqual(['agentd', 'agentd-runtime']);
    expect(one('StateDirectoryMode')).toBe('0700');
    const cfg = parseAgentdFileConfig(readFileSync(join(ROOT, 'images/files/agentd.yaml'), 'utf8'), '/etc/agentd/agentd.yaml');
    expect(cfg.stateDir).toBe('/var/lib/agentd');
    expect(cfg.runtime.root).toBe('/var/lib/agentd-runtime');
    expect(cfg.runtime.workspaceDir?.startsWith('/var/lib/agentd/')).toBe(true);
    expect(cfg.bootstrap?.source).toBe('gce-metadata');
    const provision = readFileSync(join(PROVISION, '30-agentd.sh'), 'utf8');
    expect(provision).toContain('/usr/local/bin/agentd');
    expect(provision).toContain('systemctl enable agentd.service');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });
});

describe('packer/agentd.pkr.hcl', () => {
  it('is formatted (packer fmt -check)', () => {
    const r = run('packer', ['fmt', '-check', '-diff', PACKER]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('validates (packer validate)', () => {
    const tarball = join(scratch, 'agents-plane.tar.gz');
    writeFileSync(tarball, '');
    const r = run('packer', ['validate', '-var', 'project_id=example-project', '-var', `source_tarball=${tarball}`, PACKER], { cwd: join(ROOT, 'packer') });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('refuses bad variables through its validation rules', () => {
    const tarball = join(scratch, 'agents-plane.tar.gz');
    writeFileSync(tarball, '');
    const r = run('packer', ['validate', '-var', 'project_id=X', '-var', 'preinstall=everything', '-var', `source_tarball=${tarball}`, PACKER], { cwd: join(ROOT, 'packer') });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('The project_id must be a GCP project id');
    expect(r.stdout + r.stderr).toContain('The preinstall must be all, node or none');
  });

  it('builds a shielded VM without an external IP, runs every provisioning script and writes a manifest', () => {
    const template = readFileSync(PACKER, 'utf8');
    for (const setting of ['enable_secure_boot', 'enable_vtpm', 'enable_integrity_monitoring']) expect(template).toMatch(new RegExp(`${setting}\\s+= true`));
    expect(template).toMatch(/omit_external_ip\s+= var.omit_external_ip/);
    expect(template).toMatch(/variable "omit_external_ip" \{[^}]*default\s+= true/);
    expect(template).toContain('${path.root}/../images/provision');
    expect(template).toContain('/tmp/provision/[0-9]*.sh');
    expect(template).toContain('post-processor "manifest"');
    // Debian's packer 1.6.6 does not know required_plugins (packer/README.md has the install for current Packer).
    expect(template).not.toMatch(/^\s*required_plugins/m);
  });
});

describe('images/provision', () => {
  const scripts = readdirSync(PROVISION).filter((f) => f.endsWith('.sh')).sort();

  it('has the numbered steps and the shared settings', () => {
    expect(scripts).toEqual(['10-packages.sh', '20-app.sh', '30-agentd.sh', '90-cleanup.sh', 'lib.sh']);
  });

  it.each(scripts)('%s parses (bash -n)', (script) => {
    const r = run('bash', ['-n', join(PROVISION, script)]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('passes shellcheck', () => {
    const r = run('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts.map((s) => join('images/provision', s)), '.ci/run']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('builds from the pinned runtime', () => {
    const install = readFileSync(join(ROOT, 'images/install-runtime.ts'), 'utf8');
    expect(install).toContain('PINNED_RUNTIME');
    const app = readFileSync(join(PROVISION, '20-app.sh'), 'utf8');
    expect(app).toContain('images/install-runtime.ts');
  });
});
