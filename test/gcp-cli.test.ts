/**
 * The Google Cloud verbs end to end: the planes CLI (a child process) against a
 * real hub started with the gcp provider, which asks the Google stand-ins
 * (helpers/gcp/) through the real clients. Here the VMs run nothing (no agentd):
 * this is about preflight, plane creation, status and SSH.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_APIS, REQUIRED_PERMISSIONS } from '../hub/src/infra/gcp/preflight.ts';
import { run, TestFleet } from './helpers/fleet.ts';
import { GoogleStandin } from './helpers/gcp/google-standin.ts';

process.env['METADATA_SERVER_DETECTION'] = 'none';
const PROJECT = 'acme-prod';

describe('planes gcp preflight, create, status and ssh', () => {
  const google = new GoogleStandin();
  let fleet: TestFleet;
  let bin: string;
  const planes = (...args: string[]) => run(process.execPath, ['bin/planes.js', ...args], { env: { ...fleet.cliEnv(), PATH: `${bin}:${process.env['PATH'] ?? ''}` } });

  beforeAll(async () => {
    await google.start();
    google.compute.latencyMs = { insert: 20, delete: 10, stop: 10, start: 10, reset: 5, setMachineType: 5, setLabels: 5, resize: 5 };
    fleet = await new TestFleet({ gcp: { apiEndpoint: google.url, retryInitialDelayMs: 20, retryMaxDelayMs: 100, driftIntervalMs: 200 } }).start();
    bin = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
    // A stand-in gcloud that records how it was called.
    writeFileSync(join(bin, 'gcloud'), `#!/bin/sh\necho "$@" > ${join(bin, 'called')}\nexit 7\n`);
    chmodSync(join(bin, 'gcloud'), 0o755);
  });
  afterAll(async () => {
    await fleet?.destroy();
    await google.close();
    rmSync(bin, { recursive: true, force: true });
  });

  it('lists what a bare project lacks, each with the gcloud command that fixes it', async () => {
    const r = await planes('gcp', 'preflight', '--project', PROJECT, '--region', 'us-east4', '--agents', '3');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain(`gcloud services enable ${REQUIRED_APIS.join(' ')} --project ${PROJECT}`);
    for (const role of new Set(REQUIRED_PERMISSIONS.map((p) => p.role))) {
      expect(r.stdout).toContain(`gcloud projects add-iam-policy-binding ${PROJECT} --member=serviceAccount:HUB_SERVICE_ACCOUNT --role=${role}`);
    }
    expect(r.stdout).toMatch(/FAIL +image +no image projects\/acme-prod\/global\/images\/family\/agents-plane-agentd/);
    expect(r.stdout).toContain('preflight: FAILED');
    // planes create --infra-provider gcp runs it first and creates nothing.
    const c = await planes('create', '--name', 'acme', '--infra-provider', 'gcp', '--project', PROJECT, '--region', 'us-east4');
    expect(c.code).toBe(6);
    expect(c.stderr).toContain('plane acme not created: project acme-prod failed preflight');
    expect((await fleet.api('GET', '/v1/planes/acme')).status).toBe(404);
  });

  it('passes once the project is ready; flags a hub identity with far more than it needs; counts quotas', async () => {
    google.project.enable(PROJECT, ...REQUIRED_APIS);
    google.project.grant(PROJECT, ...REQUIRED_PERMISSIONS.map((p) => p.permission));
    google.catalog.addImage(PROJECT, 'agents-plane-agentd-20261201-000000', 'agents-plane-agentd');
    const ok = await planes('gcp', 'preflight', '--project', PROJECT, '--region', 'us-east4', '--agents', '3', '--json');
    expect(ok.code, ok.stdout).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['apis', 'ok'],
      ['roles', 'ok'],
      ['image', 'ok'],
      ['quota CPUS', 'ok'],
      ['quota service accounts', 'ok'],
    ]);
    google.project.projectPolicy.addOutside(`projects/${PROJECT}`, 'roles/editor', 'serviceAccount:hub@acme-prod.iam.gserviceaccount.com');
    google.catalog.cpuLimit.set('us-east4', 4);
    const tight = await planes('gcp', 'preflight', '--project', PROJECT, '--region', 'us-east4', '--agents', '3', '--identity', 'hub@acme-prod.iam.gserviceaccount.com');
    expect(tight.code).toBe(1);
    expect(tight.stdout).toMatch(/warn +role roles\/editor +the hub holds roles\/editor, far more than it needs/);
    expect(tight.stdout).toContain(`gcloud projects remove-iam-policy-binding ${PROJECT} --member=serviceAccount:hub@acme-prod.iam.gserviceaccount.com --role=roles/editor`);
    expect(tight.stdout).toMatch(/FAIL +quota CPUS +4 of 4 vCPUs free in us-east4; 3 x e2-small needs 6/);
    google.catalog.cpuLimit.set('us-east4', 24);
  });

  it('creates a gcp plane, shows the zone and VM status, and drift, in planes status', async () => {
    const c = await planes('create', '--name', 'acme', '--infra-provider', 'gcp', '--project', PROJECT, '--region', 'us-east4', '--zone', 'us-east4-c');
    expect(c.code, c.stderr).toBe(0);
    const a = await planes('add-agent', '--plane', 'acme', '--name', 'alice', '--owner', 'alice@acme.example', '--no-wait');
    expect(a.code, a.stderr).toBe(0);
    expect(google.compute.vms.get(google.compute.key(PROJECT, 'us-east4-c', 'acme-alice'))?.status).toBe('RUNNING');
    const s = await planes('status', '--plane', 'acme');
    expect(s.stdout).toMatch(/INSTANCE/);
    expect(s.stdout).toMatch(/alice .* us-east4-c RUNNING/);
    await google.compute.deleteOutside(PROJECT, 'us-east4-c', 'acme-alice');
    await fleet.waitFor('acme', 'alice', (x) => x.health.reason === 'instance missing in GCP', 10_000);
    const s2 = await planes('status', '--plane', 'acme');
    expect(s2.stdout).toMatch(/alice .* red +instance missing in GCP +us-east4-c MISSING/);
  });

  it("prints the owner's SSH command through IAP, and runs it with --exec", async () => {
    const p = await planes('ssh', '--plane', 'acme', '--name', 'alice');
    expect(p.code).toBe(0);
    expect(p.stdout.split('\n')[0]).toBe(`gcloud compute ssh acme-alice --project=${PROJECT} --zone=us-east4-c --tunnel-through-iap`);
    expect(p.stdout).toContain('only alice@acme.example can use it');
    const e = await planes('ssh', '--plane', 'acme', '--name', 'alice', '--exec');
    expect(e.code).toBe(7);
    expect(readFileSync(join(bin, 'called'), 'utf8').trim()).toBe(`compute ssh acme-alice --project=${PROJECT} --zone=us-east4-c --tunnel-through-iap`);
    await fleet.createPlane('local-one');
    const l = await planes('ssh', '--plane', 'local-one', '--name', 'x');
    expect(l.code).toBe(3);
  });
});
