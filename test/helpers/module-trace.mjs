// Loaded with `node --import ./test/helpers/module-trace.mjs`: records every module the process
// loads (ESM and require(), files and builtins) and writes the list, one URL a line, to
// $MODULE_TRACE_OUT when the process exits. Counting modules does not depend on machine load.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.MODULE_TRACE_OUT;
const seen = new Set();
registerHooks({
  load(url, context, nextLoad) {
    seen.add(url);
    return nextLoad(url, context);
  },
});
if (out) process.on('exit', () => writeFileSync(out, [...seen].join('\n') + '\n'));
