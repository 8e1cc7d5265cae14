/**
 * One measurement for planes-file-bench.ts, in a fresh process so that peak RSS
 * is this file's alone: reads and checks the planes.yaml at argv[2] (or only
 * loads the code, for "-"), prints {ms, maxRssMb, outcome} as JSON.
 */
import { readPlanesFile } from '../../hub/src/planes-file.ts';

const path = process.argv[2] ?? '-';
const started = performance.now();
let outcome = 'loaded';
if (path !== '-') {
  try {
    outcome = `accepted: ${readPlanesFile(path).file.spec.agents.length} agents`;
  } catch (err) {
    outcome = `refused: ${(err as Error).message.replace(/^\S+ /, '')}`;
  }
}
console.log(JSON.stringify({ ms: performance.now() - started, maxRssMb: process.resourceUsage().maxRSS / 1024, outcome }));
