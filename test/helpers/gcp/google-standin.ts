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
 * Not covered:
 * - Authentication and authorization: no credential is checked; IAM policies
 *   are stored with etags but never enforced, and conditions (the tunnel's
 *   `destination.port == 22`) are never evaluated. Permissions exist only as
 *   the answers to preflight's testIamPermissions that a test sets.
 * - IAP and OS Login themselves: no TCP is forwarded, nobody logs in; only the
 *   tunnel resource's IAM policy exists. What Google does with that policy
 *   when the instance is deleted was not found; here it stays.
 * - Networking: networks and subnetworks are not checked, firewall rules are
 *   stored but no packet meets them, no Private Google Access, Cloud NAT or
 *   routes.
 * - Quotas: only the region's CPUS (answered 403 at insert) and an insert
 *   rate per second (429); not IN_USE_ADDRESSES, DISKS_TOTAL_GB or the
 *   per-minute request quotas (inject those), nor IAM's 600 writes a minute.
 * - Compute breadth: two regions, five e2 machine types, images by name or
 *   family (no deprecation, no cross-project image permissions), the boot
 *   disk's size only, no instance templates or managed instance groups, no
 *   SUSPENDED or REPAIRING states, no host maintenance, region operations,
 *   setMetadata, setTags or setServiceAccount; list filters are one
 *   `labels.K=V` term. Spot capacity shortages exist only as injected
 *   operation errors, and preemption happens when a test calls `preempt`.
 * - Timing: fixed operation latencies without Google's jitter or long tail;
 *   IAM propagation as a fixed delay (`iam.propagationMs`).
 * - IAM breadth: no keys, disabling, undelete or the deleted-account
 *   markers Google leaves in policies.
 * - Service Usage lists enabled services only; Resource Manager answers
 *   testIamPermissions and getIamPolicy only; no audit logs are written.
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
