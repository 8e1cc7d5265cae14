import { createHash } from 'node:crypto';
import { GoogleError, type GoogleHttpServer, invalid, PolicyStore, str } from './google-http.ts';

interface ServiceAccount {
  createdAt: number;
  email: string;
  project: string;
  uniqueId: string;
  displayName: string;
  description: string;
}

const ACCOUNT_ID = /^[a-z]([-a-z0-9]*[a-z0-9])$/;

/**
 * IAM v1 service accounts on the stand-in server, as `@googleapis/iam`
 * calls them: create (6-30 character ids, ALREADY_EXISTS, the per-project
 * quota answered like Google: 429 "Maximum number of service accounts on
 * project reached."), get, list with pages, delete, and each account's own
 * IAM policy with etags (gone with the account).
 */
export class IamStandin {
  readonly accounts = new Map<string, ServiceAccount>();
  readonly policies = new PolicyStore();
  /** Per project, as Google's default. */
  quota = 100;
  /**
   * IAM is eventually consistent: for this long after creation an account is
   * unknown to reads (404) and to Compute (400). Google says a minute or more.
   */
  propagationMs = 0;

  register(http: GoogleHttpServer): void {
    const P = '/v1/projects/([^/]+)/serviceAccounts';
    http.route('POST', new RegExp(`^${P}$`), (req, [project]) => this.#create(project as string, req.body));
    http.route('GET', new RegExp(`^${P}$`), (req, [project]) => {
      const all = [...this.accounts.values()].filter((a) => a.project === project);
      const size = Number(req.query.get('pageSize') ?? 100) || 100;
      const start = Number(req.query.get('pageToken') ?? 0);
      const page = all.slice(start, start + size);
      return { accounts: page.map((a) => this.#view(a)), ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}) };
    });
    http.route('POST', new RegExp(`^${P}/([^/:]+):getIamPolicy$`), (_req, [project, email]) => this.policies.get(this.#find(project as string, email as string).email));
    http.route('POST', new RegExp(`^${P}/([^/:]+):setIamPolicy$`), (req, [project, email]) =>
      this.policies.set(this.#find(project as string, email as string).email, (req.body['policy'] ?? {})),
    );
    http.route('GET', new RegExp(`^${P}/([^/:]+)$`), (_req, [project, email]) => this.#view(this.#find(project as string, email as string)));
    http.route('DELETE', new RegExp(`^${P}/([^/:]+)$`), (_req, [project, email]) => {
      const a = this.#find(project as string, email as string);
      this.accounts.delete(a.email);
      this.policies.delete(a.email);
      return {};
    });
  }

  /** Known to other APIs (and to reads): created, and propagated. */
  has(email: string): boolean {
    const a = this.accounts.get(email);
    return a !== undefined && Date.now() >= a.createdAt + this.propagationMs;
  }

  /** Created, propagated or not (what must be gone after a removal). */
  exists(email: string): boolean {
    return this.accounts.has(email);
  }

  #view(a: ServiceAccount): Record<string, unknown> {
    return { name: `projects/${a.project}/serviceAccounts/${a.email}`, projectId: a.project, uniqueId: a.uniqueId, email: a.email, displayName: a.displayName, description: a.description, oauth2ClientId: a.uniqueId };
  }

  #find(project: string, email: string): ServiceAccount {
    const a = this.accounts.get(email);
    if (!a || (a.project !== project && project !== '-') || !this.has(email)) throw new GoogleError(404, '', `Unknown service account`, 'NOT_FOUND');
    return a;
  }

  #create(project: string, body: Record<string, unknown>): unknown {
    const id = str(body['accountId']);
    if (id.length < 6 || id.length > 30 || !ACCOUNT_ID.test(id)) {
      throw invalid(`ServiceAccount.accountId must be between 6 and 30 characters, match [a-z]([-a-z0-9]*[a-z0-9]); got ${JSON.stringify(id)}.`);
    }
    const email = `${id}@${project}.iam.gserviceaccount.com`;
    if (this.accounts.has(email)) throw new GoogleError(409, '', `Service account ${id} already exists within project projects/${project}.`, 'ALREADY_EXISTS');
    if ([...this.accounts.values()].filter((a) => a.project === project).length >= this.quota) {
      throw new GoogleError(429, '', 'Maximum number of service accounts on project reached.', 'RESOURCE_EXHAUSTED');
    }
    const sa = (body['serviceAccount'] ?? {}) as { displayName?: string; description?: string };
    const a: ServiceAccount = {
      createdAt: Date.now(),
      email,
      project,
      uniqueId: BigInt(`0x${createHash('sha256').update(email).digest('hex').slice(0, 15)}`).toString(),
      displayName: sa.displayName ?? '',
      description: sa.description ?? '',
    };
    this.accounts.set(email, a);
    return this.#view(a);
  }
}
