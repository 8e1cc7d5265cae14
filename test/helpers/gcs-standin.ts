import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

/**
 * An in-memory stand-in for the Google Cloud Storage JSON API v1, on loopback,
 * speaking what @google-cloud/storage needs for objects: metadata, media
 * download, listing, delete, multipart and resumable uploads, generation
 * preconditions and checksums. Buckets exist as soon as they are named, until
 * a test takes one away (every call on it is then 404, as on a deleted bucket);
 * no request is authenticated.
 */
export interface GcsStandin {
  /** Pass as apiEndpoint / gcsApiEndpoint. */
  endpoint: string;
  close(): Promise<void>;
  requests: { method: string; path: string; query: Record<string, string> }[];
  /**
   * The next `count` requests fail with `status`. With `after`, each is carried
   * out first and only its response is replaced: a reply lost on the way back.
   */
  failNext(status: number, count?: number, when?: 'before' | 'after'): void;
  /** Takes a bucket away (deleted, or its project gone): every call on it is 404 until it is put back. Returns its objects. */
  takeBucket(bucket: string): BucketCopy;
  /** Puts a bucket back with these objects (the same ones, or an older copy: a restored bucket). */
  putBucket(bucket: string, copy: BucketCopy): void;
  /** A copy of a bucket's objects as they are now. */
  copyBucket(bucket: string): BucketCopy;
  /** Names in a bucket, with or without a prefix. */
  names(bucket: string, prefix?: string): string[];
  /** Deletes one object behind every client's back. */
  deleteObject(bucket: string, name: string): void;
}

/** A bucket's objects, opaque to tests. */
export type BucketCopy = Map<string, unknown>;

interface StoredObject {
  name: string;
  data: Buffer;
  generation: number;
  contentType: string;
  metadata: Record<string, string> | undefined;
  created: string;
  crc32c: string;
  md5Hash: string;
}

interface UploadSession {
  bucket: string;
  name: string;
  query: Record<string, string>;
  resource: Record<string, unknown>;
  contentType: string;
  chunks: Buffer[];
  received: number;
  done?: Record<string, unknown>;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
}

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const REASONS: Record<number, [string, string]> = {
  401: ['required', 'Anonymous caller does not have storage.objects.get access.'],
  403: ['forbidden', 'caller@example.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.'],
  429: ['rateLimitExceeded', 'The rate of change requests to the object exceeds the rate limit.'],
  500: ['backendError', 'Backend Error'],
  503: ['backendError', 'Backend Error'],
};

export async function startGcsStandin(): Promise<GcsStandin> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, UploadSession>();
  const requests: GcsStandin['requests'] = [];
  const failures: { status: number; when: 'before' | 'after' }[] = [];
  // GCS generations are microsecond timestamps; keep them that large so precision bugs show.
  let lastGeneration = Date.now() * 1000;

  const gone = new Set<string>();
  const objectsOf = (bucket: string): Map<string, StoredObject> => {
    if (gone.has(bucket)) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    let objects = buckets.get(bucket);
    if (!objects) buckets.set(bucket, (objects = new Map<string, StoredObject>()));
    return objects;
  };

  const resource = (bucket: string, o: StoredObject): Record<string, unknown> => ({
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    selfLink: `${endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(o.name)}`,
    mediaLink: `${endpoint}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(o.name)}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: Buffer.from(String(o.generation)).toString('base64'),
    timeCreated: o.created,
    updated: o.created,
    timeStorageClassUpdated: o.created,
    ...(o.metadata ? { metadata: o.metadata } : {}),
  });

  const checkPreconditions = (current: StoredObject | undefined, query: Record<string, string>): void => {
    const generation = current?.generation ?? 0;
    const { ifGenerationMatch: match, ifGenerationNotMatch: notMatch, ifMetagenerationMatch: metaMatch, ifMetagenerationNotMatch: metaNotMatch } = query;
    if ((match !== undefined && Number(match) !== generation) || (notMatch !== undefined && Number(notMatch) === generation)) {
      throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
    if (!current && (metaMatch !== undefined || metaNotMatch !== undefined)) throw new HttpError(404, 'notFound', 'No such object.');
    if ((metaMatch !== undefined && metaMatch !== '1') || metaNotMatch === '1') {
      throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
  };

  const find = (bucket: string, name: string, query: Record<string, string>): StoredObject => {
    const o = objectsOf(bucket).get(name);
    if (!o || (query.generation !== undefined && Number(query.generation) !== o.generation)) {
      throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
    }
    checkPreconditions(o, query);
    return o;
  };

  /** Creates the object if the preconditions and any checksums sent by the client hold. */
  const finalize = (
    bucket: string,
    name: string,
    data: Buffer,
    query: Record<string, string>,
    meta: Record<string, unknown>,
    contentType: string,
    hashHeader: string | undefined,
  ): Record<string, unknown> => {
    const crc = new CRC32C();
    crc.update(data);
    const crc32c = crc.toString();
    const md5Hash = createHash('md5').update(data).digest('base64');
    const sent = Object.fromEntries((hashHeader ?? '').split(',').map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1)]));
    for (const [label, expected, actual] of [
      ['CRC32C', meta.crc32c ?? sent.crc32c, crc32c],
      ['MD5', meta.md5Hash ?? sent.md5, md5Hash],
    ] as const) {
      if (typeof expected === 'string' && expected !== actual) {
        throw new HttpError(400, 'invalid', `Provided ${label} "${expected}" doesn't match calculated ${label} "${actual}".`);
      }
    }
    const objects = objectsOf(bucket);
    checkPreconditions(objects.get(name), query);
    const o: StoredObject = {
      name,
      data,
      generation: ++lastGeneration,
      contentType,
      metadata: meta.metadata && typeof meta.metadata === 'object' ? (meta.metadata as Record<string, string>) : undefined,
      created: new Date().toISOString(),
      crc32c,
      md5Hash,
    };
    objects.set(name, o);
    return resource(bucket, o);
  };

  const list = (bucket: string, query: Record<string, string>): Record<string, unknown> => {
    const prefix = query.prefix ?? '';
    const max = Math.min(Number(query.maxResults ?? 1000) || 1000, 1000);
    const after = query.pageToken ? Buffer.from(query.pageToken, 'base64url') : undefined;
    // GCS orders names by their UTF-8 bytes.
    const names = [...objectsOf(bucket).keys()]
      .filter((n) => n.startsWith(prefix))
      .map((n) => Buffer.from(n))
      .filter((n) => !after || Buffer.compare(n, after) > 0)
      .sort((a, b) => Buffer.compare(a, b));
    const page = names.slice(0, max);
    const last = page.at(-1);
    return {
      kind: 'storage#objects',
      items: page.map((n) => resource(bucket, objectsOf(bucket).get(n.toString()) as StoredObject)),
      ...(names.length > max && last ? { nextPageToken: last.toString('base64url') } : {}),
    };
  };

  const multipart = (bucket: string, query: Record<string, string>, req: IncomingMessage, body: Buffer): Record<string, unknown> => {
    const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
    if (!boundary) throw new HttpError(400, 'invalid', 'Missing multipart boundary.');
    const [metaPart, mediaPart] = parseMultipart(body, boundary);
    if (!metaPart || !mediaPart) throw new HttpError(400, 'invalid', 'A multipart upload needs a metadata part and a media part.');
    const meta = JSON.parse(metaPart.body.toString('utf8')) as Record<string, unknown>;
    const name = typeof meta.name === 'string' ? meta.name : query.name;
    if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
    const contentType = typeof meta.contentType === 'string' ? meta.contentType : (mediaPart.headers['content-type'] ?? 'application/octet-stream');
    return finalize(bucket, name, mediaPart.body, query, meta, contentType, req.headers['x-goog-hash'] as string | undefined);
  };

  const startSession = (bucket: string, query: Record<string, string>, req: IncomingMessage, body: Buffer): string => {
    const meta = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    const name = typeof meta.name === 'string' ? meta.name : query.name;
    if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
    checkPreconditions(objectsOf(bucket).get(name), query);
    const id = randomUUID();
    const contentType = (req.headers['x-upload-content-type'] as string | undefined) ?? (typeof meta.contentType === 'string' ? meta.contentType : 'application/octet-stream');
    sessions.set(id, { bucket, name, query, resource: meta, contentType, chunks: [], received: 0 });
    return `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
  };

  /** One PUT to a resumable session: a chunk, the whole rest, or a status query (`bytes * /total`). */
  const putChunk = (s: UploadSession, req: IncomingMessage, body: Buffer): Reply => {
    if (s.done) return json(200, s.done);
    const range = req.headers['content-range'];
    const m = range === undefined ? null : /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(range);
    if (range !== undefined && !m) throw new HttpError(400, 'invalid', `Invalid Content-Range: ${range}`);
    const [, start, end, total] = m ?? [];
    if (start !== undefined) {
      const from = Number(start);
      if (from > s.received) throw new HttpError(400, 'invalid', `Chunk starts at ${from} but only ${s.received} bytes were received.`);
      const fresh = body.subarray(s.received - from);
      s.chunks.push(fresh);
      s.received += fresh.length;
    }
    // A known total that is reached, an open-ended range or no range at all completes the upload.
    const complete = total !== undefined && total !== '*' ? s.received === Number(total) : range === undefined || end === '*';
    if (!complete) return { status: 308, headers: s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {} };
    s.done = finalize(s.bucket, s.name, Buffer.concat(s.chunks), s.query, s.resource, s.contentType, req.headers['x-goog-hash'] as string | undefined);
    s.chunks = [];
    return json(200, s.done);
  };

  const handle = (req: IncomingMessage, body: Buffer): Reply => {
    const url = new URL(req.url ?? '/', endpoint);
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;
    if ((m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname))) {
      const bucket = decodeURIComponent(m[1] ?? '');
      const name = decodeURIComponent(m[2] ?? '');
      if (method === 'GET') {
        const o = find(bucket, name, query);
        if (query.alt !== 'media') return json(200, resource(bucket, o));
        return {
          status: 200,
          headers: {
            'content-type': o.contentType,
            'x-goog-generation': String(o.generation),
            'x-goog-metageneration': '1',
            'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
            'x-goog-stored-content-encoding': 'identity',
            'x-goog-stored-content-length': String(o.data.length),
            etag: Buffer.from(String(o.generation)).toString('base64'),
          },
          body: o.data,
        };
      }
      if (method === 'DELETE') {
        find(bucket, name, query);
        objectsOf(bucket).delete(name);
        return { status: 204 };
      }
    } else if ((m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname)) && method === 'GET') {
      return json(200, list(decodeURIComponent(m[1] ?? ''), query));
    } else if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname))) {
      const bucket = decodeURIComponent(m[1] ?? '');
      if (method === 'POST' && query.uploadType === 'multipart') return json(200, multipart(bucket, query, req, body));
      if (method === 'POST' && query.uploadType === 'media') {
        if (!query.name) throw new HttpError(400, 'required', 'Required parameter: name');
        return json(200, finalize(bucket, query.name, body, query, {}, req.headers['content-type'] ?? 'application/octet-stream', req.headers['x-goog-hash'] as string | undefined));
      }
      if (method === 'POST' && query.uploadType === 'resumable') return { status: 200, headers: { location: startSession(bucket, query, req, body) } };
      const session = query.upload_id ? sessions.get(query.upload_id) : undefined;
      if (session && method === 'PUT') return putChunk(session, req, body);
      if (session && method === 'DELETE') {
        sessions.delete(query.upload_id ?? '');
        return { status: 499 };
      }
      if (query.upload_id) throw new HttpError(404, 'notFound', 'No such upload session.');
    }
    throw new HttpError(501, 'notImplemented', `The GCS stand-in does not implement ${method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', endpoint);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams) });
      const failure = failures.shift();
      const injected = failure && errorReply(new HttpError(failure.status, ...(REASONS[failure.status] ?? ['error', 'Injected failure'])));
      let reply: Reply | undefined = failure?.when === 'before' ? injected : undefined;
      try {
        reply ??= handle(req, Buffer.concat(chunks));
      } catch (err) {
        reply = errorReply(err instanceof HttpError ? err : new HttpError(400, 'invalid', `The GCS stand-in could not handle this request: ${String(err)}`));
      }
      // Injected after the fact, the failure replaces the real response.
      reply = injected ?? reply;
      res.writeHead(reply.status, { ...reply.headers, 'content-length': reply.body?.length ?? 0 }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    requests,
    failNext(status, count = 1, when = 'before') {
      for (let i = 0; i < count; i++) failures.push({ status, when });
    },
    takeBucket(bucket) {
      const copy = new Map(objectsOf(bucket));
      buckets.delete(bucket);
      gone.add(bucket);
      return copy;
    },
    putBucket(bucket, copy) {
      gone.delete(bucket);
      buckets.set(bucket, new Map(copy as Map<string, StoredObject>));
    },
    copyBucket: (bucket) => new Map(objectsOf(bucket)),
    names: (bucket, prefix = '') => [...objectsOf(bucket).keys()].filter((n) => n.startsWith(prefix)).sort(),
    deleteObject(bucket, name) {
      objectsOf(bucket).delete(name);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: Buffer.from(JSON.stringify(body)) };
}

/** The error body GCS sends. */
function errorReply(err: HttpError): Reply {
  return json(err.status, { error: { code: err.status, message: err.message, errors: [{ message: err.message, domain: 'global', reason: err.reason }] } });
}

function parseMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, body[next - 2] === 13 && body[next - 1] === 10 ? next - 2 : next);
    const split = part.indexOf('\r\n\r\n');
    const headers = Object.fromEntries(
      part
        .subarray(0, split)
        .toString('utf8')
        .split('\r\n')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    parts.push({ headers, body: part.subarray(split + 4) });
    at = next;
  }
  return parts;
}
