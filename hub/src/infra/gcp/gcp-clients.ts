import { DisksClient, FirewallsClient, GlobalOperationsClient, ImagesClient, InstancesClient, MachineTypesClient, RegionsClient, ZoneOperationsClient } from '@google-cloud/compute';
import { iam, type iam_v1 } from '@googleapis/iam';
import { type AuthClient, GoogleAuth, PassThroughClient } from 'google-auth-library';

/**
 * The real Google clients the gcp provider uses, built once per hub. In
 * production they use the hub's own identity (Application Default
 * Credentials: the hub VM's service account). Tests pass `apiEndpoint`, a
 * plain-HTTP stand-in on loopback, and the clients send no credentials
 * (PassThroughClient); the calls on the wire are the same.
 */
export interface GcpClientOptions {
  /** Tests only: http://127.0.0.1:PORT serving Compute, IAM, IAP, Service Usage and Resource Manager paths. */
  apiEndpoint?: string | undefined;
}

export interface GcpClients {
  instances: InstancesClient;
  zoneOperations: ZoneOperationsClient;
  globalOperations: GlobalOperationsClient;
  firewalls: FirewallsClient;
  disks: DisksClient;
  images: ImagesClient;
  regions: RegionsClient;
  machineTypes: MachineTypesClient;
  iam: iam_v1.Iam;
  /** Plain REST for APIs without a split client (IAP tunnel IAM, Service Usage, Resource Manager). */
  rest: RestCaller;
  /** The e-mail of the identity the clients call as, when the credentials say (a service account). */
  identity(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** One REST call through google-auth-library: the hub's credentials, JSON in and out. */
export interface RestCaller {
  call<T>(api: 'iap' | 'serviceusage' | 'cloudresourcemanager', path: string, options?: { method?: 'GET' | 'POST'; body?: unknown; query?: Record<string, string> }): Promise<T>;
}

type GaxiosOptions = Parameters<AuthClient['request']>[0];

const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

export function createGcpClients(options: GcpClientOptions = {}): GcpClients {
  const local = options.apiEndpoint ? new URL(options.apiEndpoint) : undefined;
  const auth: AuthClient | GoogleAuth = local ? new PassThroughClient() : new GoogleAuth({ scopes: SCOPES });
  // google-gax: REST is the default transport for Compute; `protocol` switches it to plain HTTP.
  const computeOptions = local
    ? { apiEndpoint: local.hostname, port: Number(local.port), protocol: local.protocol.replace(':', ''), authClient: auth as AuthClient }
    : { auth: auth as GoogleAuth };
  const instances = new InstancesClient(computeOptions);
  const zoneOperations = new ZoneOperationsClient(computeOptions);
  const globalOperations = new GlobalOperationsClient(computeOptions);
  const firewalls = new FirewallsClient(computeOptions);
  const disks = new DisksClient(computeOptions);
  const images = new ImagesClient(computeOptions);
  const regions = new RegionsClient(computeOptions);
  const machineTypes = new MachineTypesClient(computeOptions);
  // gaxios retries 429 and 5xx by itself; retries belong to our classifier alone. googleapis-common
  // pins an older google-auth-library; it only calls request() on the client, which both versions have.
  const iamClient = iam({ version: 'v1', auth: auth as unknown as iam_v1.Options['auth'], retry: false, ...(local ? { rootUrl: `${local.origin}/` } : {}) });
  const rootOf = (api: string): string => (local ? local.origin : `https://${api}.googleapis.com`);
  const rest: RestCaller = {
    async call<T>(api: 'iap' | 'serviceusage' | 'cloudresourcemanager', path: string, o: { method?: 'GET' | 'POST'; body?: unknown; query?: Record<string, string> } = {}): Promise<T> {
      const url = new URL(`${rootOf(api)}/${path.replace(/^\//, '')}`);
      for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
      const req: GaxiosOptions = { url: url.href, method: o.method ?? (o.body === undefined ? 'GET' : 'POST'), retry: false, responseType: 'json' };
      if (o.body !== undefined) req.data = o.body;
      const client = auth instanceof GoogleAuth ? await auth.getClient() : auth;
      const res = await client.request<T>(req);
      return res.data;
    },
  };
  return {
    instances,
    zoneOperations,
    globalOperations,
    firewalls,
    disks,
    images,
    regions,
    machineTypes,
    iam: iamClient,
    rest,
    async identity() {
      if (!(auth instanceof GoogleAuth)) return undefined;
      return (await auth.getCredentials().catch(() => undefined))?.client_email ?? undefined;
    },
    async close() {
      await Promise.all([instances, zoneOperations, globalOperations, firewalls, disks, images, regions, machineTypes].map((c) => c.close().catch(() => undefined)));
    },
  };
}
