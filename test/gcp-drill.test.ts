/**
 * The cloud drill: a real hub with the gcp provider, driven through its REST
 * API, against the Google stand-ins (Compute, IAM, IAP over REST; Secret
 * Manager over gRPC; Cloud Storage for brains). When the Compute stand-in
 * inserts an instance, a real agentd process boots for it with its own
 * metadata stand-in, exactly as on the golden image: nothing but the
 * instance's metadata and identity token tells it who it is.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll } from '../common/src/brain/bucket.ts';
import { openBucket } from '../common/src/brain/open-bucket.ts';
import { serviceAccountEmail, serviceAccountId } from '../hub/src/infra/gcp/gcp-names.ts';
import { TestFleet } from './helpers/fleet.ts';
import { GoogleStandin } from './helpers/gcp/google-standin.ts';
import { VmFarm } from './helpers/gcp/vm-farm.ts';
import { type GcsStandin, startGcsStandin } from './helpers/gcs-standin.ts';
import { type GsmStandin, startGsmStandin } from './helpers/gsm-standin.ts';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const PROJECT = 'acme-prod';
const ZONE = 'us-east4-b';
const BUCKET = 'gs://acme-brains/planes';
const sa = (agent: string): string => serviceAccountEmail(PROJECT, serviceAccountId('acme', agent));

interface AgentView {
  name: string;
  connected: boolean;
  health: { color: string; reason: string };
  instance: { state: string; location: string | null; status: string | null } | null;
}

describe('cloud drill: gcp provider, real agentd per VM', () => {
  const google = new GoogleStandin();
  let farm: VmFarm;
  let gsm: GsmStandin;
  let gcs: GcsStandin;
  let fleet: TestFleet;
  let root: string;
  const started = Date.now();

  const vm = (agent: string) => google.compute.vms.get(google.compute.key(PROJECT, ZONE, `acme-${agent}`));
  const view = async (name: string): Promise<AgentView> => (await fleet.api<AgentView>('GET', `/v1/planes/acme/agents/${name}`)).body;
  const waitGreen = (name: string, ms = 60_000) => fleet.waitFor('acme', name, (a) => a.connected && a.health.color === 'green', ms);
  const audit = async (action: string) =>
    (await fleet.api<{ events: Array<{ action: string; agent: string; outcome: string; detail: Record<string, unknown> }> }>('GET', '/v1/audit?plane=acme&limit=5000')).body.events.filter((e) => e.action === action);
  const brainObjects = async (agent: string): Promise<string[]> => {
    const bucket = await openBucket(BUCKET, { gcsApiEndpoint: gcs.endpoint });
    const out: string[] = [];
    for await (const o of listAll(bucket, `planes/acme/agents/${agent}/`)) out.push(o.name);
    return out;
  };
  const diagnose = (name: string): string => `agentd stderr of ${name}:\n${farm.guest(`acme-${name}`)?.stderr.slice(-4000) ?? '(no guest)'}`;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gcp-drill-'));
    await google.start();
    google.catalog.addImage(PROJECT, 'agents-plane-agentd-20261201-000000', 'agents-plane-agentd');
    google.compute.latencyMs = { insert: 300, delete: 50, stop: 50, start: 100, reset: 50, setMachineType: 50, setLabels: 20, resize: 20 };
    google.ops.waitCapMs = 2000;
    // A new service account is unknown to Compute and IAM reads for a moment, as in Google Cloud.
    google.iam.propagationMs = 500;
    farm = await new VmFarm({ root, preemptionNoticeMs: 15_000, shutdownGraceMs: 20_000 }).start();
    google.compute.lifecycle = farm;
    gsm = await startGsmStandin({ projectId: PROJECT });
    gcs = await startGcsStandin();
    fleet = await new TestFleet({
      heartbeatIntervalMs: 300,
      // Short, so the preempted agent comes back within the test; long enough that a loaded machine's late heartbeats do not trigger it.
      healRedAfterMs: 4000,
      googleCertsUrl: farm.google.certsUrl,
      secretsProvider: `gcp-secret-manager:${PROJECT}`,
      secretsApiEndpoint: `${gsm.host}:${gsm.port}`,
      bucketUrl: BUCKET,
      gcsApiEndpoint: gcs.endpoint,
      gcp: { apiEndpoint: google.url, insertsPerSecond: 20, retryInitialDelayMs: 50, retryMaxDelayMs: 500, driftIntervalMs: 300, healthGateMs: 60_000, operationDeadlineMs: 90_000, callTimeoutMs: 30_000, maxAttempts: 6 },
    }).start();
  });

  afterAll(async () => {
    await fleet?.destroy();
    await farm?.close();
    await google.close();
    await gsm?.close();
    await gcs?.close();
    rmSync(root, { recursive: true, force: true });
    console.log(`cloud drill: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('provisions three agents that enrol by instance identity and turn green with nothing else', async () => {
    const plane = await fleet.api('POST', '/v1/planes', { name: 'acme', infraProvider: 'gcp', project: PROJECT, region: 'us-east4', zone: ZONE });
    expect(plane.status).toBe(201);
    const doc = {
      apiVersion: 'openclaw.dev/v1alpha1',
      kind: 'AgentsPlane',
      metadata: { name: 'acme' },
      spec: {
        infrastructure: { provider: 'gcp', project: PROJECT, region: 'us-east4', zone: ZONE },
        agents: [
          { name: 'alice', owner: 'alice@acme.example' },
          { name: 'bob', owner: 'bob@acme.example', spot: true },
          { name: 'carol', owner: 'carol@acme.example' },
        ],
      },
    };
    const applied = await fleet.api<{ summary: { ok: number; failed: number }; results: Array<{ agent: string; outcome: string; message: string }> }>('POST', '/v1/planes/acme/apply', { document: doc });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    expect(applied.body.summary).toMatchObject({ ok: 3, failed: 0 });
    for (const name of ['alice', 'bob', 'carol']) {
      try {
        await waitGreen(name);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${diagnose(name)}`);
      }
      expect(vm(name)?.status).toBe('RUNNING');
      expect((await view(name)).instance).toEqual({ state: 'running', location: ZONE, status: 'RUNNING' });
    }
    expect(vm('bob')?.spot).toBe(true);
    const enrolled = await audit('agent.enroll');
    expect(enrolled.filter((e) => e.outcome === 'ok').map((e) => e.detail['method'])).toEqual(['instance-identity', 'instance-identity', 'instance-identity']);
    // Each agent's service account reads its own data key, and nobody else's.
    const policies = gsm.policies();
    expect(policies.get('ap_acme_alice_brain-data-key')).toEqual({ 'roles/secretmanager.secretAccessor': [`serviceAccount:${sa('alice')}`] });
    expect(policies.get('ap_acme_bob_brain-data-key')).toEqual({ 'roles/secretmanager.secretAccessor': [`serviceAccount:${sa('bob')}`] });
  });

  it('resizes one: final sync, stop, setMachineType, start, and green again on the same disk', async () => {
    const bootsBefore = farm.guest('acme-alice')?.boots;
    const r = await fleet.api<{ agent: { spec: { machineType: string } } }>('PATCH', '/v1/planes/acme/agents/alice', { machineType: 'e2-standard-2' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(vm('alice')).toMatchObject({ machineType: 'e2-standard-2', status: 'RUNNING' });
    expect(farm.guest('acme-alice')?.boots).toBe((bootsBefore ?? 0) + 1);
    await waitGreen('alice');
    // The final sync was asked of agentd (a sync-now command) before the stop.
    expect((await audit('command.sync-now')).filter((e) => e.agent === 'alice')).toHaveLength(1);
  });

  it("an owner change moves the owner's access and the VM's owner label", async () => {
    const before = vm('alice')?.labels['owner'];
    const r = await fleet.api('PATCH', '/v1/planes/acme/agents/alice', { ownerEmail: 'alice.new@acme.example' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const tunnel = JSON.stringify(google.project.iap.get(`projects/${PROJECT}/iap_tunnel/zones/${ZONE}/instances/acme-alice`));
    expect(tunnel).toContain('user:alice.new@acme.example');
    expect(tunnel).not.toContain('user:alice@acme.example');
    expect(JSON.stringify(google.compute.iam.get(`projects/${PROJECT}/zones/${ZONE}/instances/acme-alice`))).toContain('user:alice.new@acme.example');
    expect(JSON.stringify(google.iam.policies.get(sa('alice')))).toContain('user:alice.new@acme.example');
    expect(vm('alice')?.labels['owner']).not.toBe(before);
    expect((await audit('gcp.access.revoke')).filter((e) => e.agent === 'alice').map((e) => e.detail['owner'])).toEqual(['alice@acme.example', 'alice@acme.example', 'alice@acme.example']);
  });

  it('a preempted Spot VM spends its notice on the final sync, goes red, and self-healing brings it back with the same brain', async () => {
    const guest = farm.guest('acme-bob');
    const note = `written before preemption at ${Date.now()}\n`;
    writeFileSync(join(guest?.disk ?? '', 'workspace', 'NOTES.md'), note);
    await google.compute.preempt(PROJECT, ZONE, 'acme-bob');
    expect(farm.preemptions.at(-1)).toMatchObject({ name: 'acme-bob', selfStopped: true, exitCode: 0 });
    expect(guest?.stderr).toContain('this Spot VM is being preempted');
    const red = await fleet.waitFor('acme', 'bob', (a) => a.health.color === 'red' && /instance TERMINATED|instance missing in GCP/.test(a.health.reason), 20_000);
    expect(red.health.reason).toMatch(/^instance (TERMINATED|missing in GCP)( \(placeholder child, not an OpenClaw gateway\))?$/);
    expect((await audit('agent.preempted')).map((e) => e.agent)).toEqual(['bob']);
    await fleet.waitFor('acme', 'bob', (a) => a.connected && a.health.color === 'green', 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${diagnose('bob')}`);
    });
    expect((await audit('agent.heal.reprovision')).map((e) => e.agent)).toContain('bob');
    const fresh = farm.guest('acme-bob');
    expect(fresh?.vm.id).not.toBe(guest?.vm.id);
    expect(readFileSync(join(fresh?.disk ?? '', 'workspace', 'NOTES.md'), 'utf8')).toBe(note);
  });

  it('removes one, and the stand-ins hold nothing of it: instance, service account, bindings, secrets, brain', async () => {
    expect(await brainObjects('carol')).not.toEqual([]);
    expect([...gsm.secrets().keys()].some((k) => k.startsWith('ap_acme_carol_'))).toBe(true);
    const r = await fleet.api('DELETE', '/v1/planes/acme/agents/carol');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(google.residue(PROJECT, ZONE, 'acme-carol', sa('carol'), 'carol@acme.example')).toEqual([]);
    expect([...gsm.secrets().keys()].filter((k) => k.startsWith('ap_acme_carol_'))).toEqual([]);
    expect(await brainObjects('carol')).toEqual([]);
    expect(readdirSync(root).some((d) => d.startsWith('acme-carol-'))).toBe(false);
    expect((await audit('gcp.access.revoke')).filter((e) => e.agent === 'carol').map((e) => e.outcome)).toEqual(['ok', 'ok', 'ok']);
    // The others are untouched.
    expect(google.residue(PROJECT, ZONE, 'acme-alice', sa('alice'), 'alice@acme.example').length).toBeGreaterThan(0);
  });

  it('a create that fails on quota half-way leaves nothing behind and says why', async () => {
    const inUse = [...google.compute.vms.values()].filter((v) => v.status !== 'TERMINATED').length * 2;
    google.catalog.cpuLimit.set('us-east4', inUse);
    const r = await fleet.api<{ error: { code: string; message: string } }>('POST', '/v1/planes/acme/agents', { name: 'dave', ownerEmail: 'dave@acme.example' });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toBe(`gcp: quota CPUS exceeded in us-east4 (limit ${inUse})`);
    expect(google.residue(PROJECT, ZONE, 'acme-dave', sa('dave'), 'dave@acme.example')).toEqual([]);
    expect((await fleet.api('GET', '/v1/planes/acme/agents/dave')).status).toBe(404);
    expect([...gsm.secrets().keys()].filter((k) => k.startsWith('ap_acme_dave_'))).toEqual([]);
    expect(existsSync(join(root, 'acme-dave'))).toBe(false);
    const failed = (await audit('agent.provision')).filter((e) => e.agent === 'dave');
    expect(failed).toMatchObject([{ outcome: 'failed', detail: { reason: `gcp: quota CPUS exceeded in us-east4 (limit ${inUse})` } }]);
  });
});
