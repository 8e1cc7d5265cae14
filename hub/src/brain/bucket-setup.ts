import { openBucket } from '../../../common/src/brain/open-bucket.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';

/**
 * The one step that makes the brains' bucket (Bucket.setUp), run at hub start.
 * A hub on a new data dir, or started with --create-bucket, makes a missing
 * local directory and takes an empty location; otherwise a bucket that has
 * lost its marker (moved away, unmounted, deleted, emptied) is left alone and
 * reported: agents show it in their health until it is back. A location that
 * holds brains from before markers is adopted. Never throws: the hub serves
 * without its bucket, and says why.
 */
export async function setUpBucket(o: { bucketUrl: string; gcsApiEndpoint?: string; create: boolean; log: Logger }): Promise<string | null> {
  try {
    const bucket = await openBucket(o.bucketUrl, o.gcsApiEndpoint ? { gcsApiEndpoint: o.gcsApiEndpoint } : {});
    const how = await bucket.setUp({ createRoot: o.create, adoptEmpty: o.create });
    if (how !== 'present') o.log.info(how === 'created' ? 'created the brains bucket' : 'marked the brains bucket as ours', { bucket: bucket.url });
    return null;
  } catch (err) {
    const e = PlaneError.from(err);
    o.log.error('the brains bucket is not usable; agents cannot sync or restore until it is (start the hub with --create-bucket to begin a new, empty one)', { bucket: o.bucketUrl, reason: e.message });
    return e.message;
  }
}
