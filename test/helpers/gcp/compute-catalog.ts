import type { OperationBook } from './compute-operations.ts';
import { GoogleError, type GoogleHttpServer, invalid, notFound } from './google-http.ts';

/** Machine types the stand-in knows, with their vCPUs (the CPUS quota counts these). */
export const MACHINE_TYPES: Record<string, { guestCpus: number; memoryMb: number }> = {
  'e2-micro': { guestCpus: 2, memoryMb: 1024 },
  'e2-small': { guestCpus: 2, memoryMb: 2048 },
  'e2-medium': { guestCpus: 2, memoryMb: 4096 },
  'e2-standard-2': { guestCpus: 2, memoryMb: 8192 },
  'e2-standard-4': { guestCpus: 4, memoryMb: 16384 },
};

interface Firewall extends Record<string, unknown> {
  name: string;
}

/**
 * The parts of Compute around instances: images and families, machine types,
 * regions with their zones and quotas, and VPC firewall rules (global
 * operations). Images are per project; a family resolves to its newest image.
 */
export class ComputeCatalog {
  /** project -> images (name, family, created order). */
  readonly images = new Map<string, Array<{ name: string; family: string }>>();
  readonly firewalls = new Map<string, Firewall>();
  /** region -> zones. */
  readonly regions = new Map<string, string[]>([
    ['us-east4', ['us-east4-a', 'us-east4-b', 'us-east4-c']],
    ['europe-west1', ['europe-west1-b', 'europe-west1-c', 'europe-west1-d']],
  ]);
  /** region -> CPUS limit. */
  readonly cpuLimit = new Map<string, number>();
  /** Filled by the instance stand-in: vCPUs in use per region. */
  cpusInUse: (region: string) => number = () => 0;
  readonly #ops: OperationBook;
  latencyMs = 5;

  constructor(ops: OperationBook) {
    this.#ops = ops;
  }

  addImage(project: string, name: string, family: string): void {
    const list = this.images.get(project) ?? [];
    list.push({ name, family });
    this.images.set(project, list);
  }

  /** Resolves projects/P/global/images/(family/)NAME; throws Google's 404 when there is none. */
  resolveImage(path: string): string {
    const m = /^(?:https:\/\/[^/]+\/compute\/v1\/)?projects\/([^/]+)\/global\/images\/(family\/)?([^/]+)$/.exec(path);
    if (!m) throw invalid(`Invalid value for field 'resource.disks[0].initializeParams.sourceImage': '${path}'.`);
    const [, project, family, name] = m as unknown as [string, string, string | undefined, string];
    const list = this.images.get(project) ?? [];
    const img = family ? list.filter((i) => i.family === name).at(-1) : list.find((i) => i.name === name);
    if (!img) throw notFound(`projects/${project}/global/images/${family ? `family/${name}` : name}`);
    return img.name;
  }

  regionOf(zone: string): string {
    for (const [r, zones] of this.regions) if (zones.includes(zone)) return r;
    throw invalid(`Invalid value for field 'zone': '${zone}'. Unknown zone.`);
  }

  register(http: GoogleHttpServer): void {
    const P = '^/compute/v1/projects/([^/]+)';
    const image = (project: string, i: { name: string; family: string }): Record<string, unknown> => ({
      name: i.name,
      family: i.family,
      status: 'READY',
      selfLink: `https://www.googleapis.com/compute/v1/projects/${project}/global/images/${i.name}`,
      shieldedInstanceInitialState: {},
      guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }, { type: 'GVNIC' }],
    });
    http.route('GET', new RegExp(`${P}/global/images/family/([^/]+)$`), (_r, [project, family]) => {
      const img = (this.images.get(project as string) ?? []).filter((i) => i.family === family).at(-1);
      if (!img) throw notFound(`projects/${project}/global/images/family/${family}`);
      return image(project as string, img);
    });
    http.route('GET', new RegExp(`${P}/global/images/([^/]+)$`), (_r, [project, name]) => {
      const img = (this.images.get(project as string) ?? []).find((i) => i.name === name);
      if (!img) throw notFound(`projects/${project}/global/images/${name}`);
      return image(project as string, img);
    });
    http.route('GET', new RegExp(`${P}/zones/([^/]+)/machineTypes/([^/]+)$`), (_r, [, zone, type]) => {
      this.regionOf(zone as string);
      const mt = MACHINE_TYPES[type as string];
      if (!mt) throw notFound(`zones/${zone}/machineTypes/${type}`);
      return { name: type, zone, ...mt };
    });
    http.route('GET', new RegExp(`${P}/regions/([^/]+)$`), (_r, [project, region]) => {
      const zones = this.regions.get(region as string);
      if (!zones) throw notFound(`projects/${project}/regions/${region}`);
      return {
        name: region,
        status: 'UP',
        zones: zones.map((z) => `https://www.googleapis.com/compute/v1/projects/${project}/zones/${z}`),
        quotas: [{ metric: 'CPUS', limit: this.cpuLimit.get(region as string) ?? 24, usage: this.cpusInUse(region as string) }],
      };
    });
    http.route('GET', new RegExp(`${P}/global/firewalls/([^/]+)$`), (_r, [project, name]) => {
      const f = this.firewalls.get(name as string);
      if (!f) throw notFound(`projects/${project}/global/firewalls/${name}`);
      return f;
    });
    http.route('POST', new RegExp(`${P}/global/firewalls$`), (req, [project]) => {
      const f = req.body as Firewall;
      if (!f.name || !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(f.name)) throw invalid(`Invalid value for field 'resource.name': '${String(f.name)}'.`);
      if (this.firewalls.has(f.name)) throw new GoogleError(409, 'alreadyExists', `The resource 'projects/${project}/global/firewalls/${f.name}' already exists`);
      if (!f['allowed'] && !f['denied']) throw invalid('Firewall rule must have allowed or denied.');
      return this.#ops.start('insert', `projects/${project}/global/firewalls/${f.name}`, undefined, async () => {
        await delay(this.latencyMs);
        this.firewalls.set(f.name, { ...f, selfLink: `projects/${project}/global/firewalls/${f.name}`, id: String(this.firewalls.size + 1) });
      });
    });
    http.route('PATCH', new RegExp(`${P}/global/firewalls/([^/]+)$`), (req, [project, name]) => {
      const f = this.firewalls.get(name as string);
      if (!f) throw notFound(`projects/${project}/global/firewalls/${name}`);
      return this.#ops.start('patch', `projects/${project}/global/firewalls/${name}`, undefined, async () => {
        await delay(this.latencyMs);
        this.firewalls.set(name as string, { ...f, ...req.body, name: name as string });
      });
    });
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
