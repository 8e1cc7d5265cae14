import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, PlaneError } from '../errors.ts';
import { PreconditionFailedError } from './bucket.ts';
import { classifyBucketError } from './bucket-retry.ts';
import { LocalBucket } from './local-bucket.ts';

describe('the bucket boundary classifier', () => {
  it('retries a local bucket that is gone, and gives up on a refused precondition or a bad name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bucket-retry-'));
    try {
      const b = await LocalBucket.create(join(dir, 'bucket'));
      await b.put('x', Buffer.from('1'), { ifGenerationMatch: '0' });
      const lost = await b.put('x', Buffer.from('2'), { ifGenerationMatch: '0' }).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(PreconditionFailedError);
      expect(classifyBucketError(lost)).toBe('fatal');
      expect(classifyBucketError(await b.get('../x').catch((e: unknown) => e))).toBe('fatal');
      rmSync(join(dir, 'bucket'), { recursive: true });
      const gone = await b.get('x').catch((e: unknown) => e);
      expect(gone).toMatchObject({ code: 'unavailable' });
      expect(classifyBucketError(gone)).toBe('retry');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries throttling, timeouts, server errors and lost connections from Storage, and nothing a request got wrong', () => {
    for (const code of [408, 429, 500, 503]) expect(classifyBucketError(Object.assign(new Error('x'), { code })), String(code)).toBe('retry');
    expect(classifyBucketError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('retry');
    expect(classifyBucketError({ response: { status: 502 } })).toBe('retry');
    for (const code of [400, 401, 403, 404, 412]) expect(classifyBucketError(Object.assign(new Error('x'), { code })), String(code)).toBe('fatal');
    expect(classifyBucketError(new Error('Could not load the default credentials'))).toBe('fatal');
    expect(classifyBucketError(new TypeError('x is not a function'))).toBe('fatal');
    expect(classifyBucketError(new PlaneError(ErrorCode.PermissionDenied, 'no'))).toBe('fatal');
  });
});
