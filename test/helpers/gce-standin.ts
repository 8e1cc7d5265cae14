import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for the two Google endpoints a first boot on Compute Engine
 * touches: the metadata server (instance attributes, the instance identity token,
 * `instance/preempted` with ETags and `wait_for_change`) and Google's JWK set
 * (https://www.googleapis.com/oauth2/v3/certs). Tokens are signed with an RSA key
 * generated here (or shared by several stand-ins, one per VM), published under
 * kid "test-key".
 */
export interface StandinInstance {
  projectId: string;
  zone: string;
  instanceName: string;
  instanceId: string;
}

export class GceStandin {
  readonly privateKey: KeyObject;
  readonly kid = 'test-key';
  attributes: Record<string, string> = {};
  instance: StandinInstance = { projectId: 'proj-1', zone: 'europe-west1-b', instanceName: 'vm', instanceId: '1234567890' };
  /** Answers without Metadata-Flavor (a captive portal, say) when false. */
  flavor = true;
  /** Tokens handed out, in order. */
  readonly issued: string[] = [];
  /** Requests seen without the Metadata-Flavor header. */
  unflavoredRequests = 0;
  readonly #publicJwk: Record<string, unknown>;
  #server: Server | undefined;
  host = '';
  #preempted = false;
  #preemptedEtag = 1;
  readonly #waiters = new Set<() => void>();
  /** Requests for instance/preempted, held ones included. */
  preemptedRequests = 0;

  /** `keys`: sign with a key shared by other stand-ins (one Google, many VMs). */
  constructor(keys?: { privateKey: KeyObject; publicKey: KeyObject }) {
    const { privateKey, publicKey } = keys ?? generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.#publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' };
  }

  /** Google sets this to TRUE about 30 s before it stops a Spot VM; held wait_for_change requests answer at once. */
  get preempted(): boolean {
    return this.#preempted;
  }

  set preempted(v: boolean) {
    if (v === this.#preempted) return;
    this.#preempted = v;
    this.#preemptedEtag++;
    for (const w of this.#waiters) w();
  }

  get certsUrl(): string {
    return `http://${this.host}/oauth2/v3/certs`;
  }

  jwks(): { keys: Array<Record<string, unknown>> } {
    return { keys: [this.#publicJwk] };
  }

  /** A Compute Engine identity token in the "full" format; `over` replaces claims, `key`/`kid` the signer. */
  token(audience: string, over: Record<string, unknown> = {}, signer: { key?: KeyObject; kid?: string; alg?: string } = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: signer.alg ?? 'RS256', kid: signer.kid ?? this.kid, typ: 'JWT' };
    const claims = {
      iss: 'https://accounts.google.com',
      aud: audience,
      azp: '100000000000000000001',
      sub: '100000000000000000001',
      iat: now,
      exp: now + 3600,
      google: {
        compute_engine: {
          project_id: this.instance.projectId,
          project_number: 123456789012,
          zone: this.instance.zone,
          instance_id: this.instance.instanceId,
          instance_name: this.instance.instanceName,
          instance_creation_timestamp: now - 60,
        },
      },
      ...over,
    };
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const data = `${enc(header)}.${enc(claims)}`;
    return `${data}.${sign('RSA-SHA256', Buffer.from(data), signer.key ?? this.privateKey).toString('base64url')}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const send = (status: number, body: string, type = 'application/text', extra: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': type, ...(this.flavor ? { 'metadata-flavor': 'Google' } : {}), ...extra });
        res.end(body);
      };
      if (url.pathname === '/oauth2/v3/certs') return send(200, JSON.stringify(this.jwks()), 'application/json', { 'cache-control': 'public, max-age=300' });
      if (!url.pathname.startsWith('/computeMetadata/v1/')) return send(404, 'not found');
      if (req.headers['metadata-flavor'] !== 'Google') {
        this.unflavoredRequests++;
        return send(403, 'Missing Metadata-Flavor:Google header.');
      }
      const path = url.pathname.slice('/computeMetadata/v1/'.length);
      if (path === 'instance/attributes/' && url.searchParams.get('recursive') === 'true') return send(200, JSON.stringify(this.attributes), 'application/json');
      if (path === 'instance/preempted') {
        this.preemptedRequests++;
        const answer = (): void => send(200, this.#preempted ? 'TRUE' : 'FALSE', 'application/text', { etag: String(this.#preemptedEtag) });
        const last = url.searchParams.get('last_etag');
        if (url.searchParams.get('wait_for_change') !== 'true' || (last !== null && last !== String(this.#preemptedEtag))) return answer();
        const timer = setTimeout(() => done(), Number(url.searchParams.get('timeout_sec') ?? 60) * 1000);
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          if (!res.writableEnded) answer();
        };
        this.#waiters.add(done);
        res.on('close', () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
        });
        return;
      }
      if (path === 'instance/service-accounts/default/identity') {
        const audience = url.searchParams.get('audience');
        if (!audience) return send(400, 'non-empty audience parameter required');
        const token = url.searchParams.get('format') === 'full' ? this.token(audience) : this.token(audience, { google: undefined });
        this.issued.push(token);
        return send(200, token);
      }
      return send(404, 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
