import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';
import type { GcpCalls } from './gcp-calls.ts';
import { gcpFailureOf, isAlreadyExists, isNotFound } from './gcp-errors.ts';
import { serviceAccountEmail } from './gcp-names.ts';
import type { IamPolicy } from './iam-policy.ts';

/** Projects get 100 service accounts by default; the provider says so instead of Google's bare 429/403. */
export const DEFAULT_SERVICE_ACCOUNT_QUOTA = 100;

/**
 * The agent's own service account through IAM v1 (@googleapis/iam). It holds
 * no project roles: it exists so the VM has an identity (instance-identity
 * enrolment) and, later, for per-secret read access.
 */
export class ServiceAccounts {
  readonly #calls: GcpCalls;

  constructor(calls: GcpCalls) {
    this.#calls = calls;
  }

  #name(project: string, email: string): string {
    return `projects/${project}/serviceAccounts/${email}`;
  }

  /** Creates it, or finds it there already (a retried provision); returns its e-mail. */
  async ensure(project: string, accountId: string, displayName: string, description: string): Promise<string> {
    const email = serviceAccountEmail(project, accountId);
    try {
      await this.#calls.run('iam.serviceAccounts.create', () =>
        this.#calls.clients.iam.projects.serviceAccounts.create({ name: `projects/${project}`, requestBody: { accountId, serviceAccount: { displayName, description } } }),
      );
      this.#calls.freshAccount(email);
    } catch (err) {
      if (isAlreadyExists(err)) return email;
      if (gcpFailureOf(err).quota?.metric === 'SERVICE_ACCOUNTS') {
        throw new PlaneError(
          ErrorCode.FailedPrecondition,
          `gcp: project ${project} has no room for another service account (default quota ${DEFAULT_SERVICE_ACCOUNT_QUOTA} per project; ask for more or use another project)`,
          { cause: err },
        );
      }
      throw err;
    }
    return email;
  }

  /** Deletes it; one that is gone already is fine. */
  async delete(project: string, email: string): Promise<boolean> {
    try {
      await this.#calls.run('iam.serviceAccounts.delete', () => this.#calls.clients.iam.projects.serviceAccounts.delete({ name: this.#name(project, email) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async exists(project: string, email: string): Promise<boolean> {
    try {
      await this.#calls.run('iam.serviceAccounts.get', () => this.#calls.clients.iam.projects.serviceAccounts.get({ name: this.#name(project, email) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** How many the project has (preflight: room for the plane under the quota). */
  async count(project: string): Promise<number> {
    let n = 0;
    let pageToken: string | undefined;
    do {
      const res = await this.#calls.run('iam.serviceAccounts.list', () =>
        this.#calls.clients.iam.projects.serviceAccounts.list({ name: `projects/${project}`, pageSize: 100, ...(pageToken ? { pageToken } : {}) }),
      );
      n += res.data.accounts?.length ?? 0;
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    return n;
  }

  /** The policy on the service account (who may act as it). */
  policyIo(project: string, email: string): { get: () => Promise<IamPolicy>; set: (p: IamPolicy) => Promise<unknown> } {
    const resource = this.#name(project, email);
    const sa = this.#calls.clients.iam.projects.serviceAccounts;
    return {
      get: async () => (await this.#calls.run('iam.serviceAccounts.getIamPolicy', () => sa.getIamPolicy({ resource, 'options.requestedPolicyVersion': 3 }))).data as IamPolicy,
      set: (policy) => this.#calls.run('iam.serviceAccounts.setIamPolicy', () => sa.setIamPolicy({ resource, requestBody: { policy: policy as never } })),
    };
  }
}
