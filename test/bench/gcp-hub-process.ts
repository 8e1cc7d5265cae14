/**
 * A hub in its own process for bench:gcp, so its CPU is measured apart from
 * the Google stand-ins: options as JSON in argv[2], endpoints as one JSON line
 * on stdout when it runs, a graceful close on SIGTERM.
 */
import { Hub } from '../../hub/src/hub.ts';
import type { HubOptions } from '../../hub/src/hub-options.ts';

process.env['METADATA_SERVER_DETECTION'] = 'none';
const hub = new Hub(JSON.parse(process.argv[2] ?? '{}') as HubOptions, () => undefined);
process.once('SIGTERM', () => void hub.close().then(() => process.exit(0)));
const endpoints = await hub.start();
process.stdout.write(`${JSON.stringify(endpoints)}\n`);
