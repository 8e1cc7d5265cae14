import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { LocalBucket } from '../common/src/brain/local-bucket.ts';
import { bucketContract } from './helpers/bucket-contract.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('local directory bucket', () => {
  bucketContract(async () => {
    const d = mkdtempSync(join(tmpdir(), 'bucket-'));
    dirs.push(d);
    return new LocalBucket(d);
  });
});
