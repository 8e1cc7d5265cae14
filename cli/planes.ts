/**
 * The `planes` CLI. Every command takes --json (machine output on stdout,
 * nothing else there) and exits with a meaningful code: 0 ok, 1 some agents
 * failed, 2 usage, 3 not found, 4 auth, 5 hub unreachable, 6 conflict, 70 internal.
 * The verbs are declared in verbs/; this module is the only one that exits
 * (but for a second Ctrl-C).
 */
import { PlaneError } from '../common/src/errors.ts';
import { runPlanes } from './program.ts';

runPlanes(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = PlaneError.from(err);
    if (process.argv.includes('--json')) console.log(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.where ? { where: e.where } : {}) } }));
    console.error(`planes: ${e.message}`);
    process.exit(e.exitCode);
  },
);
