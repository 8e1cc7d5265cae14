import { ErrorCode, PlaneError } from '../../common/src/errors.ts';

/**
 * The Compute Engine metadata server: instance attributes and the instance
 * identity token. Plain HTTP to a link-local address that only the instance can
 * reach; every request carries `Metadata-Flavor: Google` and every answer must
 * carry it back (anything else is not the metadata server).
 *
 * The host is GCE_METADATA_HOST when set (as in Google's own client libraries;
 * tests point it at a loopback stand-in), else metadata.google.internal.
 */
export const DEFAULT_METADATA_HOST = 'metadata.google.internal';
const FLAVOR = 'Google';

export interface GceMetadataOptions {
  /** host[:port]; default GCE_METADATA_HOST, else metadata.google.internal. */
  host?: string;
  /** Per request; default 3 s. */
  timeoutMs?: number;
}

/** The metadata server did not answer (not on Compute Engine, or not yet): retry or fall back. */
export class MetadataUnreachable extends PlaneError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.Unavailable, message, { cause });
  }
}

export class GceMetadata {
  readonly host: string;
  readonly #timeoutMs: number;

  constructor(options: GceMetadataOptions = {}) {
    this.host = options.host ?? (process.env['GCE_METADATA_HOST'] || DEFAULT_METADATA_HOST);
    this.#timeoutMs = options.timeoutMs ?? 3000;
  }

  /** GET computeMetadata/v1/<path>; undefined for 404. */
  async get(path: string): Promise<string | undefined> {
    const url = `http://${this.host}/computeMetadata/v1/${path}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { 'Metadata-Flavor': FLAVOR }, signal: AbortSignal.timeout(this.#timeoutMs), redirect: 'error' });
    } catch (cause) {
      const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).name;
      throw new MetadataUnreachable(`metadata server ${this.host} not reachable (${reason})`, cause);
    }
    const body = await res.text();
    if (res.headers.get('metadata-flavor') !== FLAVOR) {
      throw new MetadataUnreachable(`${this.host} answered without Metadata-Flavor: ${FLAVOR}; not a metadata server`);
    }
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new PlaneError(ErrorCode.Unavailable, `metadata server: GET ${path} answered ${res.status}: ${body.slice(0, 200)}`);
    return body;
  }

  /**
   * A value and its ETag. With `etag`, the metadata server's `wait_for_change`:
   * the answer comes when the value no longer has that ETag, or after
   * `timeoutSec` with the value unchanged. Without it, the value now.
   */
  async watch(path: string, etag: string | undefined, timeoutSec: number, signal?: AbortSignal): Promise<{ value: string; etag: string }> {
    const query = etag === undefined ? '' : `?wait_for_change=true&timeout_sec=${timeoutSec}&last_etag=${encodeURIComponent(etag)}`;
    const url = `http://${this.host}/computeMetadata/v1/${path}${query}`;
    const limit = AbortSignal.timeout(etag === undefined ? this.#timeoutMs : (timeoutSec + 5) * 1000);
    let res: Response;
    try {
      res = await fetch(url, { headers: { 'Metadata-Flavor': FLAVOR }, signal: signal ? AbortSignal.any([signal, limit]) : limit, redirect: 'error' });
    } catch (cause) {
      const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).name;
      throw new MetadataUnreachable(`metadata server ${this.host} not reachable (${reason})`, cause);
    }
    const body = await res.text();
    if (res.headers.get('metadata-flavor') !== FLAVOR) throw new MetadataUnreachable(`${this.host} answered without Metadata-Flavor: ${FLAVOR}; not a metadata server`);
    if (res.status !== 200) throw new PlaneError(ErrorCode.Unavailable, `metadata server: GET ${path} answered ${res.status}: ${body.slice(0, 200)}`);
    return { value: body, etag: res.headers.get('etag') ?? '' };
  }

  /** Every custom instance attribute (one request). */
  async attributes(): Promise<Record<string, string>> {
    const body = await this.get('instance/attributes/?recursive=true');
    if (body === undefined) return {};
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (cause) {
      throw new PlaneError(ErrorCode.Unavailable, 'metadata server: instance attributes are not JSON', { cause });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  /**
   * A fresh instance identity token (a JWT signed by Google, valid one hour) for
   * `audience`, in the full format that names the project and the instance. Needs
   * a service account on the instance.
   */
  async identityToken(audience: string): Promise<string> {
    const token = await this.get(`instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`);
    if (!token) {
      throw new PlaneError(ErrorCode.FailedPrecondition, 'the metadata server has no identity token: the instance needs a service account for instance-identity enrolment');
    }
    return token.trim();
  }
}
