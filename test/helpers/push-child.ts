// Pushes a workspace to a local bucket as lease 1; the kill -9 test kills it mid-way.
import { BrainKey } from '../../common/src/brain/brain-crypto.ts';
import { BrainStore } from '../../common/src/brain/brain-store.ts';
import { LocalBucket } from '../../common/src/brain/local-bucket.ts';
import { Logger, silentSink } from '../../common/src/logger.ts';
import { BrainSync } from '../../agentd/src/sync/brain-sync.ts';

const [bucketDir, workspaceDir, databaseDir, stateDir] = process.argv.slice(2) as [string, string, string, string];
const key = new BrainKey(Buffer.from(process.env['BRAIN_KEY_HEX'] ?? '', 'hex'));
const store = new BrainStore({ bucket: new LocalBucket(bucketDir), plane: 'p', agent: 'a', key });
const sync = new BrainSync({ store, workspaceDir, databaseDir, stateDir, fence: () => 1, log: new Logger('push-child', { sink: silentSink }) });
await sync.restoreOnBoot();
await sync.push({ reason: 'push', full: true });
