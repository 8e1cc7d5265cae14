import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, PlaneError } from '../errors.ts';
import type { Bucket } from './bucket.ts';
import { LocalBucket } from './local-bucket.ts';

export interface OpenBucketOptions {
  /** GCS only: a JSON API endpoint other than Google's (a stand-in on loopback in tests). */
  gcsApiEndpoint?: string;
  /** GCS only: the project to bill; defaults from the environment. */
  gcsProjectId?: string;
}

/**
 * A bucket from its URL: `file:///abs/dir` or `gs://bucket[/prefix]`. The GCS
 * client is loaded only when a gs:// URL is used, so agents on the embedded
 * defaults never load it.
 */
export async function openBucket(url: string, options: OpenBucketOptions = {}): Promise<Bucket> {
  if (url.startsWith('file://')) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (cause) {
      throw new PlaneError(ErrorCode.InvalidArgument, `bucket URL ${url}: ${(cause as Error).message}`, { where: 'bucket', cause });
    }
    if (!isAbsolute(path)) throw new PlaneError(ErrorCode.InvalidArgument, `bucket URL ${url}: the path must be absolute`, { where: 'bucket' });
    return new LocalBucket(path);
  }
  if (url.startsWith('gs://')) {
    const { GcsBucket } = await import('./gcs-bucket.ts');
    return GcsBucket.fromUrl(url, options);
  }
  throw new PlaneError(ErrorCode.InvalidArgument, `bucket URL ${url}: expected file:///absolute/dir or gs://bucket[/prefix]`, { where: 'bucket' });
}
