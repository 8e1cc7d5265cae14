/**
 * The gcp infra provider through the real Google clients (@google-cloud/compute
 * over REST with protocol http, @googleapis/iam and google-auth-library with a
 * rootUrl, PassThroughClient: no credentials) against the loopback stand-ins in
 * helpers/gcp/. Google Cloud itself cannot be reached from here.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, PlaneError } from '../common/src/errors.ts';
import { gceInstanceName, ownerLabel, serviceAccountEmail, serviceAccountId } from '../hub/src/infra/gcp/gcp-names.ts';
import { CA, PROJECT, ProviderHarness, ZONE } from './helpers/gcp/provider-harness.ts';
import { startGsmStandin, type GsmStandin } from './helpers/gsm-standin.ts';
import { waitUntil } from './helpers/fleet.ts';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const sa = (agent: string): string => serviceAccountEmail(PROJECT, serviceAccountId('acme', agent));
const tunnel = (agent: string): string => `projects/${PROJECT}/iap_tunnel/zones/${ZONE}/instances/${gceInstanceName('acme', agent)}`;
const instanceRes = (agent: string): string => `projects/${PROJECT}/zones/${ZONE}/instances/${gceInstanceName('acme', agent)}`;

describe('gcp provider', () => {
  let h: ProviderHarness;
  beforeEach(async () => {
    h = await new ProviderHarness().start();
  });
  afterEach(async () => {
    await h.close();
  });

  it('provisions a VM with its own service account, no external IP, Shielded VM, OS Login, the agent tag and identity enrolment', async () => {
    const inst = await h.provider.provision(h.agent('alice'));
    expect(inst).toMatchObject({ state: 'running', location: ZONE, providerStatus: 'RUNNING', machineType: 'e2-small' });
    const vm = h.google.compute.vms.get(h.google.compute.key(PROJECT, ZONE, 'acme-alice'));
    expect(vm?.serviceAccount).toBe(sa('alice'));
    expect(h.google.iam.has(sa('alice'))).toBe(true);
    const body = vm?.body as { networkInterfaces: unknown; shieldedInstanceConfig: unknown; tags: unknown; scheduling: unknown; disks: Array<{ initializeParams: unknown }> };
    expect(body.networkInterfaces).toEqual([{ network: `projects/${PROJECT}/global/networks/default` }]);
    expect(JSON.stringify(body.networkInterfaces)).not.toContain('accessConfigs');
    expect(body.shieldedInstanceConfig).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    expect(body.tags).toEqual({ items: ['ap-agent'] });
    expect(body.disks[0]?.initializeParams).toMatchObject({ sourceImage: `projects/${PROJECT}/global/images/family/agents-plane-agentd`, diskSizeGb: '20' });
    expect(vm?.metadata).toMatchObject({
      'enable-oslogin': 'TRUE',
      'block-project-ssh-keys': 'TRUE',
      'agents-plane-plane': 'acme',
      'agents-plane-agent': 'alice',
      'agents-plane-hub': 'hub.internal:7443',
      'agents-plane-hub-ca': CA,
      'agents-plane-enrollment': 'instance-identity',
    });
    // The one-time bundle never reaches the machine: identity enrolment needs no secret in metadata.
    expect(JSON.stringify(body)).not.toContain('apb1.');
    expect(vm?.labels).toEqual({ 'agents-plane': 'acme', agent: 'alice', plane: 'acme', 'model-tier': 'sonnet', owner: ownerLabel('alice_acme_example'), 'managed-by': 'agents-plane' });
    expect(JSON.stringify(vm?.labels)).not.toContain('alice_acme');
    expect(body.scheduling).toMatchObject({ provisioningModel: 'STANDARD' });
    // The plane network's two rules: SSH from IAP only, and the higher-priority agent-to-agent deny.
    const rules = [...h.google.catalog.firewalls.values()];
    expect(rules.map((r) => r.name).sort()).toEqual(['ap-default-allow-iap-ssh', 'ap-default-deny-agent-to-agent']);
    expect(rules.find((r) => r.name.endsWith('allow-iap-ssh'))).toMatchObject({ direction: 'INGRESS', sourceRanges: ['35.235.240.0/20'], targetTags: ['ap-agent'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }], priority: 1000 });
    expect(rules.find((r) => r.name.endsWith('deny-agent-to-agent'))).toMatchObject({ sourceTags: ['ap-agent'], targetTags: ['ap-agent'], denied: [{ IPProtocol: 'all' }], priority: 900 });
  });

  it('grants the owner, and only the owner, the three bindings, each audited', async () => {
    await h.provider.provision(h.agent('alice'));
    expect(h.google.project.iap.get(tunnel('alice'))).toMatchObject({
      version: 3,
      bindings: [{ role: 'roles/iap.tunnelResourceAccessor', members: ['user:alice@acme.example'], condition: { expression: 'destination.port == 22' } }],
    });
    expect(h.google.compute.iam.get(instanceRes('alice'))).toMatchObject({ bindings: [{ role: 'roles/compute.osLogin', members: ['user:alice@acme.example'] }] });
    expect(h.google.iam.policies.get(sa('alice'))).toMatchObject({ bindings: [{ role: 'roles/iam.serviceAccountUser', members: ['user:alice@acme.example'] }] });
    expect(h.audit.filter((e) => e.action === 'gcp.access.grant' && e.outcome === 'ok').map((e) => e.detail['role'])).toEqual(['roles/iap.tunnelResourceAccessor', 'roles/compute.osLogin', 'roles/iam.serviceAccountUser']);
  });

  it('moves access on an owner change, leaving other members and a concurrent writer alone (etag-guarded)', async () => {
    await h.provider.provision(h.agent('alice'));
    h.google.compute.iam.addOutside(instanceRes('alice'), 'roles/compute.osLogin', 'user:auditor@acme.example');
    // Someone else writes the tunnel policy between our read and our write: our write is refused, we read again.
    h.google.project.iap.raceOnce(tunnel('alice'), 'roles/iap.tunnelResourceAccessor', 'group:sre@acme.example');
    await h.provider.setOwner('ag_alice', 'alice@acme.example', 'carol@acme.example');
    expect(h.google.project.iap.conflicts).toBe(1);
    const iap = JSON.stringify(h.google.project.iap.get(tunnel('alice')));
    expect(iap).toContain('user:carol@acme.example');
    expect(iap).toContain('group:sre@acme.example');
    expect(iap).not.toContain('alice@');
    const osLogin = h.google.compute.iam.get(instanceRes('alice')) as { bindings: Array<{ members: string[] }> };
    expect(osLogin.bindings.flatMap((b) => b.members).sort()).toEqual(['user:auditor@acme.example', 'user:carol@acme.example']);
    expect(JSON.stringify(h.google.iam.policies.get(sa('alice')))).not.toContain('alice@');
    expect(h.audit.filter((e) => e.action === 'gcp.access.revoke').map((e) => e.detail['owner'])).toEqual(['alice@acme.example', 'alice@acme.example', 'alice@acme.example']);
  });

  it('runs a Spot VM that stops when preempted', async () => {
    await h.provider.provision(h.agent('bob', undefined, { spot: true }));
    const vm = h.google.compute.vms.get(h.google.compute.key(PROJECT, ZONE, 'acme-bob'));
    expect(vm?.body['scheduling']).toEqual({ provisioningModel: 'SPOT', instanceTerminationAction: 'STOP', automaticRestart: false, onHostMaintenance: 'TERMINATE' });
    await h.google.compute.preempt(PROJECT, ZONE, 'acme-bob');
    expect(await h.provider.status('ag_bob')).toMatchObject({ state: 'stopped', detail: 'instance TERMINATED', providerStatus: 'TERMINATED' });
    // Restart of a stopped VM starts it again.
    await h.provider.restart('ag_bob');
    expect(vm?.status).toBe('RUNNING');
  });

  it('retries 429, 503 and dropped waits, with one requestId for the insert, so a retried create makes one VM', async () => {
    h.google.http.inject({ method: 'POST', path: /\/instances$/, status: 429, reason: 'rateLimitExceeded', count: 1 });
    // The second insert is carried out, but its answer is lost: the retry must not make a second VM.
    h.google.http.inject({ method: 'POST', path: /\/instances$/, status: 503, reason: 'backendError', count: 1, afterHandling: true });
    h.google.http.inject({ method: 'POST', path: /\/operations\/.*\/wait$/, status: 503, reason: 'backendError', count: 1 });
    h.google.http.inject({ method: 'POST', path: /\/serviceAccounts$/, status: 429, reason: 'rateLimitExceeded', count: 1 });
    await h.provider.provision(h.agent('alice'));
    const inserts = h.google.http.requests.filter((r) => r.method === 'POST' && /\/zones\/[^/]+\/instances$/.test(r.path));
    expect(inserts).toHaveLength(3);
    const ids = new Set(inserts.map((r) => new URLSearchParams(r.query).get('requestId')));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(h.google.compute.duplicateInserts).toBe(1);
    expect(h.google.compute.vms.size).toBe(1);
    expect(h.setup.calls.retries).toBe(4);
  });

  it('a provision that fails half-way on quota removes what it made and says why in one sentence', async () => {
    h.secretIds.set('acme/alice', []);
    h.google.compute.failNextOperation.set('insert', [{ code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-east4.", httpStatus: 403, quota: { metric: 'CPUS', limit: 24, region: 'us-east4' } }]);
    const err = (await h.provider.provision(h.agent('alice')).catch((e: unknown) => e)) as PlaneError;
    expect(err).toBeInstanceOf(PlaneError);
    expect(err.message).toBe('gcp: quota CPUS exceeded in us-east4 (limit 24)');
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(h.google.residue(PROJECT, ZONE, 'acme-alice', sa('alice'), 'alice@acme.example')).toEqual([]);
    expect(h.google.iam.accounts.size).toBe(0);
    // The same from Compute's synchronous answer when the region's CPUs run out.
    h.google.catalog.cpuLimit.set('us-east4', 2);
    await h.provider.provision(h.agent('bob'));
    await expect(h.provider.provision(h.agent('carol'))).rejects.toThrow(/^gcp: quota CPUS exceeded in us-east4 \(limit 2\)$/);
    expect(h.google.residue(PROJECT, ZONE, 'acme-carol', sa('carol'), 'carol@acme.example')).toEqual([]);
  });

  it('waits out IAM propagation: a new service account unknown for a moment to Compute and IAM reads', async () => {
    h.google.iam.propagationMs = 400;
    await h.provider.provision(h.agent('alice'));
    expect(h.google.compute.vms.get(h.google.compute.key(PROJECT, ZONE, 'acme-alice'))?.status).toBe('RUNNING');
    expect(h.google.http.requests.some((r) => r.status === 400 && /\/instances$/.test(r.path))).toBe(true);
    // And a half-failed provision still deletes the account it made a moment ago (a delete may 404 meanwhile).
    h.google.compute.failNextOperation.set('insert', [{ code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-east4.", httpStatus: 403 }]);
    h.google.compute.latencyMs['insert'] = 0;
    await expect(h.provider.provision(h.agent('bob'))).rejects.toThrow('gcp: quota CPUS exceeded in us-east4 (limit 24)');
    expect(h.google.residue(PROJECT, ZONE, 'acme-bob', sa('bob'), 'bob@acme.example')).toEqual([]);
  });

  it('a missing image or a full service account quota fail before anything is left behind', async () => {
    h.planes.set('acme', { ...(h.planes.get('acme') as NonNullable<ReturnType<typeof h.planes.get>>), image: `projects/${PROJECT}/global/images/family/nope` });
    await expect(h.provider.provision(h.agent('alice'))).rejects.toThrow(/^gcp: not found: The resource 'projects\/acme-prod\/global\/images\/family\/nope' was not found$/);
    expect(h.google.iam.accounts.size).toBe(0);
    h.planes.set('acme', { project: PROJECT, region: 'us-east4', zone: ZONE, network: 'default' });
    h.google.iam.quota = 0;
    const before = h.google.http.count(/^POST \/v1\/projects\/acme-prod\/serviceAccounts$/);
    const err = (await h.provider.provision(h.agent('bob')).catch((e: unknown) => e)) as PlaneError;
    expect(err.message).toMatch(/^gcp: project acme-prod has no room for another service account \(default quota 100 per project/);
    // A quota is not retried: waiting does not raise it.
    expect(h.google.http.count(/^POST \/v1\/projects\/acme-prod\/serviceAccounts$/) - before).toBe(1);
  });

  it('waits for operations in a loop until DONE, within a deadline', async () => {
    h.google.ops.waitCapMs = 20;
    h.google.compute.latencyMs['insert'] = 150;
    await h.provider.provision(h.agent('alice'));
    expect(h.setup.calls.counts.get('zoneOperations.wait')).toBeGreaterThan(2);
    await h.close();
    h = await new ProviderHarness().start({ operationDeadlineMs: 200 });
    h.google.compute.latencyMs['insert'] = 2000;
    h.google.ops.waitCapMs = 50;
    await expect(h.provider.provision(h.agent('bob'))).rejects.toThrow(/operation .* not done after 0 s/);
    await h.google.ops.settle();
  });

  it('resizes with a final sync, stop, setMachineType, start and the health gate; labels follow with their fingerprint', async () => {
    await h.provider.provision(h.agent('alice'));
    await h.provider.resize('ag_alice', { machineType: 'e2-standard-2', labels: { 'agents-plane': 'acme', agent: 'alice', owner: 'x', 'model-tier': 'opus' } });
    const vm = h.google.compute.vms.get(h.google.compute.key(PROJECT, ZONE, 'acme-alice'));
    expect(vm).toMatchObject({ machineType: 'e2-standard-2', status: 'RUNNING' });
    expect(vm?.labels['model-tier']).toBe('opus');
    expect(h.synced).toEqual(['ag_alice']);
    expect(h.gated).toEqual(['ag_alice']);
    const calls = h.google.http.requests.map((r) => `${r.method} ${r.path.split('/').slice(-1)[0]}`);
    const i = calls.indexOf('POST stop');
    expect(calls.slice(i).filter((c) => /stop|setMachineType|start/.test(c))).toEqual(['POST stop', 'POST setMachineType', 'POST start']);
    // Google refuses setMachineType on a running instance: the stop is not optional.
    await expect(h.setup.calls.clients.instances.setMachineType({ project: PROJECT, zone: ZONE, instance: 'acme-alice', instancesSetMachineTypeRequestResource: { machineType: `zones/${ZONE}/machineTypes/e2-micro` } }, { retry: null })).rejects.toThrow(/must be stopped/);
    await h.provider.resize('ag_alice', { diskSizeGb: 40 });
    expect(vm?.diskSizeGb).toBe(40);
  });

  it('a restart asked for during a resize (self-healing sees the stopped VM red) waits for it instead of breaking it', async () => {
    await h.provider.provision(h.agent('alice'));
    h.google.compute.latencyMs['setMachineType'] = 300;
    const vm = h.google.compute.vms.get(h.google.compute.key(PROJECT, ZONE, 'acme-alice'));
    const resizing = h.provider.resize('ag_alice', { machineType: 'e2-standard-2' });
    await waitUntil(() => vm?.status === 'TERMINATED', 5000, 'the stop');
    expect(await h.provider.status('ag_alice')).toMatchObject({ state: 'provisioning', detail: `resizing in ${ZONE}` });
    await Promise.all([resizing, h.provider.restart('ag_alice')]);
    expect(vm).toMatchObject({ machineType: 'e2-standard-2', status: 'RUNNING' });
    expect(h.google.http.count(/^POST .*\/acme-alice\/(start|reset)$/)).toBe(1);
  });

  it('restart resets a running VM; a missing one says so; status and listInstances show drift', async () => {
    await h.provider.provision(h.agent('alice'));
    await h.provider.provision(h.agent('bob'));
    h.agent('carol');
    await h.provider.restart('ag_alice');
    expect(h.google.http.count(/^POST .*\/acme-alice\/reset$/)).toBe(1);
    await h.google.compute.stopOutside(PROJECT, ZONE, 'acme-bob');
    const list = await h.provider.listInstances('acme');
    expect(list.map((i) => [i.agentName, i.state, i.providerStatus])).toEqual([
      ['alice', 'running', 'RUNNING'],
      ['bob', 'stopped', 'TERMINATED'],
      ['carol', 'missing', 'MISSING'],
    ]);
    expect(h.google.http.count(/^GET .*\/instances$/)).toBe(1);
    await h.google.compute.deleteOutside(PROJECT, ZONE, 'acme-alice');
    expect(await h.provider.status('ag_alice')).toMatchObject({ state: 'missing', detail: 'instance missing in GCP' });
    await expect(h.provider.restart('ag_alice')).rejects.toThrow(/^instance missing in GCP/);
  });

  it('deprovision syncs, deletes the VM, revokes access, deletes the service account; the network rules stay', async () => {
    await h.provider.provision(h.agent('alice'));
    await h.provider.provision(h.agent('bob'));
    await h.provider.deprovision('ag_alice');
    expect(h.synced).toContain('ag_alice');
    expect(h.google.residue(PROJECT, ZONE, 'acme-alice', sa('alice'), 'alice@acme.example')).toEqual([]);
    expect(h.google.residue(PROJECT, ZONE, 'acme-bob', sa('bob'), 'bob@acme.example')).toHaveLength(5);
    expect(h.google.catalog.firewalls.size).toBe(2);
    expect(h.audit.filter((e) => e.action === 'gcp.access.revoke' && e.agent === 'alice').map((e) => e.outcome)).toEqual(['ok', 'ok', 'ok']);
    // Twice is fine: nothing is left to remove.
    await h.provider.deprovision('ag_alice');
  });
});

describe('gcp provider with Secret Manager', () => {
  let h: ProviderHarness;
  let gsm: GsmStandin;
  beforeEach(async () => {
    gsm = await startGsmStandin({ projectId: PROJECT });
    h = await new ProviderHarness().start({}, { project: PROJECT, apiEndpoint: `${gsm.host}:${gsm.port}` });
  });
  afterEach(async () => {
    await h.close();
    await gsm.close();
  });

  it("binds secretAccessor per secret for the agent's own account, and new secrets as they come", async () => {
    const { v1 } = await import('@google-cloud/secret-manager');
    const grpc = await import('@grpc/grpc-js');
    const client = new v1.SecretManagerServiceClient({ apiEndpoint: gsm.host, port: gsm.port, sslCreds: grpc.credentials.createInsecure() });
    const make = async (id: string): Promise<void> => {
      await client.createSecret({ parent: `projects/${PROJECT}`, secretId: id, secret: { replication: { automatic: {} } } });
    };
    await make('ap_acme_alice_brain-data-key');
    await make('ap_acme_bob_brain-data-key');
    h.secretIds.set('acme/alice', ['ap_acme_alice_brain-data-key']);
    await h.provider.provision(h.agent('alice'));
    expect(gsm.policies().get('ap_acme_alice_brain-data-key')).toEqual({ 'roles/secretmanager.secretAccessor': [`serviceAccount:${sa('alice')}`] });
    expect(gsm.policies().get('ap_acme_bob_brain-data-key')).toEqual({});
    await make('ap_acme_alice_ANTHROPIC_API_KEY');
    h.secretIds.set('acme/alice', ['ap_acme_alice_brain-data-key', 'ap_acme_alice_ANTHROPIC_API_KEY']);
    await h.provider.secretsChanged('ag_alice');
    expect(gsm.policies().get('ap_acme_alice_ANTHROPIC_API_KEY')).toEqual({ 'roles/secretmanager.secretAccessor': [`serviceAccount:${sa('alice')}`] });
    await h.provider.deprovision('ag_alice');
    expect(gsm.policies().get('ap_acme_alice_brain-data-key')).toEqual({});
    await client.close();
  });
});
