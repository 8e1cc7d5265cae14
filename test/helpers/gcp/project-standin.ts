import { GoogleError, type GoogleHttpServer, PolicyStore } from './google-http.ts';

/**
 * IAP tunnel IAM (`iap.googleapis.com/v1/{resource}:getIamPolicy|setIamPolicy`
 * on projects/P/iap_tunnel/zones/Z/instances/I, policy v3 for conditions),
 * and what `planes gcp preflight` asks of the project: enabled services
 * (Service Usage), the caller's permissions (`projects:testIamPermissions`)
 * and the project's policy (Resource Manager v3).
 */
export class ProjectStandin {
  readonly iap = new PolicyStore();
  readonly projectPolicy = new PolicyStore();
  /** Enabled APIs per project. */
  readonly services = new Map<string, Set<string>>();
  /** The permissions the caller (the hub's identity) holds, per project. */
  readonly permissions = new Map<string, Set<string>>();
  readonly projectNumber = '123456789012';

  register(http: GoogleHttpServer): void {
    const tunnel = '/v1/(projects/[^/]+/iap_tunnel/zones/[^/]+/instances/[^/:]+)';
    http.route('POST', new RegExp(`^${tunnel}:getIamPolicy$`), (_req, [resource]) => this.iap.get(resource as string));
    http.route('POST', new RegExp(`^${tunnel}:setIamPolicy$`), (req, [resource]) => this.iap.set(resource as string, (req.body['policy'] ?? {})));
    http.route('GET', /^\/v1\/projects\/([^/]+)\/services$/, (req, [project]) => {
      if (req.query.get('filter') !== 'state:ENABLED') throw new GoogleError(400, 'invalid', 'The stand-in lists with filter=state:ENABLED only.');
      return { services: [...(this.services.get(project as string) ?? [])].map((s) => ({ name: `projects/${this.projectNumber}/services/${s}`, config: { name: s }, state: 'ENABLED' })) };
    });
    http.route('POST', /^\/v3\/projects\/([^/:]+):testIamPermissions$/, (req, [project]) => {
      const held = this.permissions.get(project as string) ?? new Set<string>();
      const asked = (req.body['permissions'] as string[] | undefined) ?? [];
      if (asked.length > 100) throw new GoogleError(400, 'invalid', 'At most 100 permissions may be tested at once.');
      return { permissions: asked.filter((p) => held.has(p)) };
    });
    http.route('POST', /^\/v3\/(projects\/[^/:]+):getIamPolicy$/, (_req, [resource]) => this.projectPolicy.get(resource as string));
  }

  enable(project: string, ...services: string[]): void {
    const set = this.services.get(project) ?? new Set<string>();
    for (const s of services) set.add(s);
    this.services.set(project, set);
  }

  grant(project: string, ...permissions: string[]): void {
    const set = this.permissions.get(project) ?? new Set<string>();
    for (const p of permissions) set.add(p);
    this.permissions.set(project, set);
  }
}
