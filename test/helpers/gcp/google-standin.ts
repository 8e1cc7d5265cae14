import { ComputeCatalog } from './compute-catalog.ts';
import { OperationBook } from './compute-operations.ts';
import { ComputeStandin } from './compute-standin.ts';
import { GoogleHttpServer } from './google-http.ts';
import { IamStandin } from './iam-standin.ts';
import { ProjectStandin } from './project-standin.ts';

/**
 * Google Cloud's REST APIs the gcp provider calls, on one loopback HTTP
 * server, driven by the real clients (`@google-cloud/compute` with
 * `protocol: 'http'`, `@googleapis/iam` and google-auth-library with a
 * `rootUrl`, all with PassThroughClient: no credentials):
 *
 * - Compute: instances (compute-standin.ts), zone and global operations
 *   (compute-operations.ts), images, machine types, regions with the CPUS
 *   quota, firewalls (compute-catalog.ts);
 * - IAM: service accounts and their policies (iam-standin.ts);
 * - IAP tunnel IAM, Service Usage and Resource Manager (project-standin.ts).
 *
 * Errors are Google's error JSON; `http.inject` makes the next matching
 * requests fail (429, 503, 403, ...), `compute.failNextOperation` makes an
 * operation end with an error. Secret Manager is gRPC and lives in
 * gsm-standin.ts.
 *
 * Not covered: authentication and authorization (every caller may do
 * everything; permissions exist only as preflight's testIamPermissions
 * answers), IAM condition evaluation, Compute's per-minute request quotas
 * other than the insert rate, zones and regions beyond two, instance
 * templates, managed instance groups, the IAP tunnel itself (no TCP is
 * forwarded) and OS Login, Private Google Access and Cloud NAT (no network
 * exists), persistent disks apart from the boot disk, real boot times, and
 * what happens to an IAP tunnel policy when its instance is deleted (kept
 * here; Google's behaviour was not found).
 */
export class GoogleStandin {
  readonly http = new GoogleHttpServer();
  readonly ops = new OperationBook();
  readonly catalog = new ComputeCatalog(this.ops);
  readonly compute = new ComputeStandin(this.ops, this.catalog);
  readonly iam = new IamStandin();
  readonly project = new ProjectStandin();

  constructor() {
    this.ops.register(this.http);
    this.catalog.register(this.http);
    this.compute.register(this.http);
    this.iam.register(this.http);
    this.project.register(this.http);
    this.compute.serviceAccountExists = (email) => this.iam.has(email);
  }

  get url(): string {
    return this.http.url;
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /**
   * Everything of one agent the stand-ins still hold: instance, service
   * account, and any binding naming the account or the owner.
   */
  residue(project: string, zone: string, instance: string, serviceAccount: string, owner: string): string[] {
    const out: string[] = [];
    if (this.compute.vms.has(this.compute.key(project, zone, instance))) out.push(`instance ${instance}`);
    if (this.iam.exists(serviceAccount)) out.push(`service account ${serviceAccount}`);
    for (const store of [this.compute.iam, this.iam.policies, this.project.iap]) {
      for (const member of [`serviceAccount:${serviceAccount}`, `user:${owner}`]) {
        for (const g of store.grantsOf(member)) if (g.resource.includes(instance) || g.resource.includes(serviceAccount)) out.push(`binding ${g.role} for ${member} on ${g.resource}`);
      }
    }
    return out;
  }
}
