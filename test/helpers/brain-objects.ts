import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BrainKey } from '../../common/src/brain/brain-crypto.ts';

/** The sealed objects (chunks and manifests) of a local-directory bucket at `root`, below `under`, by object name. */
export function sealedObjects(root: string, under = ''): Array<[string, Buffer]> {
  const dir = join(root, under);
  return readdirSync(dir, { recursive: true })
    .map(String)
    .map((f) => join(under, f))
    .filter((name) => /(^|\/)(chunks|manifests)\//.test(name) && !name.includes('.tmp') && statSync(join(root, name)).isFile())
    .map((name) => [name, readFileSync(join(root, name))]);
}

/** How many of those objects a key (or key ring) opens. */
export function openedBy(objects: Array<[string, Buffer]>, key: BrainKey): number {
  return objects.filter(([name, data]) => {
    try {
      key.open(name, data);
      return true;
    } catch {
      return false;
    }
  }).length;
}
