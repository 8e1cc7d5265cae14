// Writes schemas/planes.schema.json (JSON Schema for planes.yaml, used by editors
// through the yaml-language-server hint) from the TypeBox schema the hub and the
// CLI validate with. `--check` fails when the committed file differs, so the
// published schema cannot drift from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PlanesFileSchema } from '../hub/src/planes-file.ts';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const target = join(root, 'schemas/planes.schema.json');
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  description: 'An agents plane: its infrastructure, identity, secrets and networking, its agents and the policies that set agents\u2019 defaults by group or OU. Generated from hub/src/planes-file.ts by `npm run gen:schemas`.',
  ...PlanesFileSchema,
};
const text = `${JSON.stringify(schema, null, 2)}\n`;

if (process.argv.includes('--check')) {
  let have = '';
  try {
    have = readFileSync(target, 'utf8');
  } catch {
    // missing: stale
  }
  if (have !== text) {
    console.error('schemas/planes.schema.json is stale. Run `npm run gen:schemas` and commit.');
    process.exit(1);
  }
  console.log('schemas/planes.schema.json is up to date');
} else {
  writeFileSync(target, text);
  console.log('wrote schemas/planes.schema.json');
}
