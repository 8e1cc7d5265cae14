/**
 * The one retry classifier for Google calls, fed with the errors the real
 * clients throw (google-gax for Compute, gaxios for IAM and IAP) when the
 * stand-in answers in Google's error JSON, and with a failed operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyGcpError, GcpOperationError, gcpReason, isAlreadyExists, isConcurrencyConflict, isNotFound } from '../hub/src/infra/gcp/gcp-errors.ts';
import { createGcpClients, type GcpClients } from '../hub/src/infra/gcp/gcp-clients.ts';
import { GoogleHttpServer } from './helpers/gcp/google-http.ts';

process.env['METADATA_SERVER_DETECTION'] = 'none';

describe('classifyGcpError', () => {
  const http = new GoogleHttpServer();
  let clients: GcpClients;
  beforeAll(async () => {
    await http.start();
    clients = createGcpClients({ apiEndpoint: http.url });
  });
  afterAll(async () => {
    await clients.close();
    await http.close();
  });

  const compute = async (status: number, reason: string, message?: string): Promise<unknown> => {
    http.inject({ path: /instances\/vm$/, status, reason, ...(message ? { message } : {}) });
    return clients.instances.get({ project: 'p', zone: 'z', instance: 'vm' }, { retry: null }).catch((e: unknown) => e);
  };
  const iam = async (status: number, reason: string, message?: string): Promise<unknown> => {
    http.inject({ path: /serviceAccounts/, status, reason, ...(message ? { message } : {}) });
    return clients.iam.projects.serviceAccounts.create({ name: 'projects/p', requestBody: { accountId: 'ap-x-12345678' } }).catch((e: unknown) => e);
  };

  it.each<[string, number, string, string | undefined, 'retry' | 'fatal', RegExp]>([
    ['429', 429, 'rateLimitExceeded', undefined, 'retry', /^gcp: rate limited/],
    ['403 rateLimitExceeded (per-minute request quota)', 403, 'rateLimitExceeded', 'Rate Limit Exceeded', 'retry', /^gcp: rate limited: Rate Limit Exceeded$/],
    ['503', 503, 'backendError', undefined, 'retry', /^gcp: /],
    ['500', 500, 'internalError', undefined, 'retry', /^gcp: /],
    ['a resource quota', 403, 'quotaExceeded', "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-east4.", 'fatal', /^gcp: quota CPUS exceeded in us-east4 \(limit 24\)$/],
    ['permission denied', 403, 'forbidden', "Required 'compute.instances.get' permission for 'projects/p/zones/z/instances/vm'", 'fatal', /^gcp: permission denied: Required 'compute.instances.get' permission/],
    ['not found', 404, 'notFound', "The resource 'projects/p/zones/z/instances/vm' was not found", 'fatal', /^gcp: not found: /],
    ['bad request', 400, 'invalid', 'Invalid value for field', 'fatal', /^gcp: Invalid value for field$/],
  ])('Compute (google-gax): %s is %s', async (_what, status, reason, message, want, sentence) => {
    const err = await compute(status, reason, message);
    expect(classifyGcpError(err)).toBe(want);
    expect(gcpReason(err)).toMatch(sentence);
  });

  it.each<[string, number, string, string | undefined, 'retry' | 'fatal']>([
    ['429', 429, 'rateLimitExceeded', undefined, 'retry'],
    ['503', 503, '', undefined, 'retry'],
    ['the service account maximum (a 429 that waiting does not fix)', 429, '', 'Maximum number of service accounts on project reached.', 'fatal'],
    ['permission denied', 403, '', 'Permission iam.serviceAccounts.create is required', 'fatal'],
  ])('IAM (gaxios): %s is %s', async (_what, status, reason, message, want) => {
    expect(classifyGcpError(await iam(status, reason, message))).toBe(want);
  });

  it('tells already-exists, not-found and concurrent-change apart across clients', async () => {
    expect(isAlreadyExists(await compute(409, 'alreadyExists', "The resource 'projects/p/zones/z/instances/vm' already exists"))).toBe(true);
    expect(isAlreadyExists(await iam(409, '', 'Service account ap-x already exists within project projects/p.'))).toBe(true);
    const aborted = await iam(409, 'aborted', 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
    expect(isConcurrencyConflict(aborted)).toBe(true);
    expect(isAlreadyExists(aborted)).toBe(false);
    expect(isConcurrencyConflict(await compute(412, 'conditionNotMet', 'Labels fingerprint either invalid or resource labels have changed'))).toBe(true);
    expect(isNotFound(await compute(404, 'notFound'))).toBe(true);
  });

  it('a dropped connection is retried; a finished operation with an error is not', async () => {
    const dead = createGcpClients({ apiEndpoint: 'http://127.0.0.1:1' });
    const err = await dead.instances.get({ project: 'p', zone: 'z', instance: 'vm' }, { retry: null }).catch((e: unknown) => e);
    await dead.close();
    expect(classifyGcpError(err)).toBe('retry');
    const op = new GcpOperationError('operation-1', {
      status: 'DONE',
      httpErrorStatusCode: 403,
      error: { errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1.", errorDetails: [{ quotaInfo: { limitName: 'CPUS-per-project-region', limit: 8, dimensions: { region: 'europe-west1' } } }] }] },
    });
    expect(classifyGcpError(op)).toBe('fatal');
    expect(gcpReason(op)).toBe('gcp: quota CPUS exceeded in europe-west1 (limit 8)');
    const capacity = new GcpOperationError('operation-2', { status: 'DONE', httpErrorStatusCode: 503, error: { errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: 'The zone does not have enough resources available to fulfill the request.' }] } });
    expect(classifyGcpError(capacity)).toBe('fatal');
    expect(gcpReason(capacity)).toBe('gcp: The zone does not have enough resources available to fulfill the request');
  });
});
