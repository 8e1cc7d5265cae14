// A hub in its own process, so a test can kill it with SIGKILL (a crash, not a close).
// argv[2]: the HubOptions as JSON. Prints one line, the endpoints as JSON, once it runs.
import { Hub } from '../../hub/src/hub.ts';
import type { HubOptions } from '../../hub/src/hub-options.ts';
import { silentSink } from '../../common/src/logger.ts';

const hub = new Hub(JSON.parse(process.argv[2] ?? '{}') as HubOptions, silentSink);
const endpoints = await hub.start();
process.stdout.write(`${JSON.stringify(endpoints)}\n`);
process.once('SIGTERM', () => void hub.close().then(() => process.exit(0)));
