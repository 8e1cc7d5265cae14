import type { BrainChunks } from './brain-chunks.ts';
import type { BrainKey } from './brain-crypto.ts';
import { BrokenChunkError, decodeManifest, encodeManifest } from './brain-manifest.ts';
import type { Bucket } from './bucket.ts';
import { mapLimit } from './map-limit.ts';

/** What a data key rotation needs of a brain store (BrainStore is one). */
export interface RekeySource {
  readonly bucket: Bucket;
  readonly prefix: string;
  readonly plane: string;
  readonly agent: string;
  readonly chunks: BrainChunks;
  listSnapshots(): Promise<string[]>;
}

export interface RekeyResult {
  snapshots: number;
  rewritten: number;
  chunks: number;
  deleted: number;
  keyId: string;
}

/**
 * Data key rotation, with a key ring (new key first) in use: every snapshot
 * still sealed or named with an older key is rewritten with the new one.
 * Chunks get new names (the HMAC of the new key), so each is uploaded once
 * under its new name; each manifest is then replaced in place (same id, by
 * compare-and-swap on its generation) with the new names. The old chunks are
 * deleted only after every manifest points at new ones, so a rotation cut
 * off half-way leaves every snapshot readable with the ring, and running it
 * again finishes the job. Only the lease holder may call this, and nothing
 * else may push meanwhile (agentd runs it in its sync queue).
 */
export async function reencryptSnapshots(store: RekeySource, key: BrainKey, onProgress?: (p: { snapshots: number; total: number; chunks: number }) => void): Promise<RekeyResult> {
  const { bucket, prefix } = store;
  const ids = await store.listSnapshots();
  // Old name -> new name; a promise so chunks shared by files and snapshots are re-sealed once.
  const renamed = new Map<string, Promise<string>>();
  let chunks = 0;
  let rewritten = 0;
  const reseal = async (c: string): Promise<string> => {
    const object = store.chunks.objectName(c);
    const got = await bucket.get(object);
    if (!got) throw new BrokenChunkError(object, c, 'missing');
    const { plain, index } = key.openChunkWithIndex(object, c, got.data);
    if (index === 0) return c;
    store.chunks.forget(c);
    chunks++;
    return store.chunks.put(plain);
  };
  const resealOnce = (c: string): Promise<string> => {
    let p = renamed.get(c);
    if (!p) {
      p = reseal(c);
      renamed.set(c, p);
    }
    return p;
  };
  for (const [i, id] of ids.entries()) {
    const name = `${prefix}manifests/${id}`;
    const got = await bucket.get(name);
    if (!got) continue; // pruned meanwhile
    const { plain, index } = key.openWithIndex(name, got.data);
    const m = decodeManifest(plain, { name, id, plane: store.plane, agent: store.agent });
    let changed = index !== 0;
    await mapLimit([...Object.values(m.files), ...Object.values(m.databases)], 16, async (e) => {
      const next: string[] = [];
      for (const c of e.chunks) next.push(await resealOnce(c));
      if (next.some((c, j) => c !== e.chunks[j])) changed = true;
      e.chunks = next;
    });
    if (changed) {
      await bucket.put(name, key.seal(name, encodeManifest(m)), { ifGenerationMatch: got.generation });
      rewritten++;
    }
    onProgress?.({ snapshots: i + 1, total: ids.length, chunks });
  }
  const old: string[] = [];
  for (const [from, to] of renamed) if ((await to) !== from) old.push(from);
  await mapLimit(old, 16, (from) => bucket.delete(store.chunks.objectName(from)));
  return { snapshots: ids.length, rewritten, chunks, deleted: old.length, keyId: key.keyId };
}
