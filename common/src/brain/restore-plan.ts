import { ErrorCode, PlaneError } from '../errors.ts';
import { type BrainManifest, chunksOf, entriesOf } from './brain-manifest.ts';
import type { BrainStore } from './brain-store.ts';

export interface RestoreChoice {
  /** What to restore. */
  manifest: BrainManifest;
  /** The newest snapshot: HEAD's, or the newest listed when HEAD is missing. */
  newest: string;
  /** Its manifest, when it could be read. */
  newestManifest: BrainManifest | null;
  /** Set when `manifest` is not the newest snapshot whole: why, and the chunks left out of a partial restore. */
  fallback: { reason: string; skipChunks: Set<string> } | null;
}

/**
 * Which snapshot a restore can use: HEAD's when every chunk it needs is in the
 * bucket; otherwise the newest older one that is complete; and when none is,
 * the newest readable one without the files whose chunks are gone. Chunks are
 * checked by listing (a request per 1000), plus `bad`: chunks a restore found
 * corrupt. Null when the agent has no snapshot at all. A bucket that vanished
 * while this looked is an error, never a reason to fall back.
 */
export async function chooseRestore(store: BrainStore, headId: string | null, bad: ReadonlySet<string> = new Set()): Promise<RestoreChoice | null> {
  const ids = await store.listSnapshots();
  const newest = headId ?? ids.at(-1) ?? null;
  if (newest === null) return null;
  const present = await store.chunks.present();
  const order = [newest, ...ids.filter((id) => id < newest).reverse()];
  const reasons: string[] = headId ? [] : ['HEAD is missing'];
  let newestManifest: BrainManifest | null = null;
  let firstReadable: BrainManifest | null = null;
  let firstBroken = new Set<string>();
  for (const id of order) {
    const m = await store.readManifestOrWhy(id);
    if (m instanceof PlaneError) {
      reasons.push(`snapshot ${id} does not open (${m.message})`);
      continue;
    }
    if (id === newest) newestManifest = m;
    const broken = new Set([...chunksOf(m)].filter((c) => !present.has(c) || bad.has(c)));
    if (broken.size === 0) {
      if (id === newest && headId) return { manifest: m, newest, newestManifest, fallback: null };
      await store.bucket.assertPresent();
      return { manifest: m, newest, newestManifest, fallback: { reason: reasons.join('; '), skipChunks: new Set() } };
    }
    reasons.push(`snapshot ${id} is missing ${broken.size} chunk(s)${bad.size ? ' or has corrupt ones' : ''}`);
    if (!firstReadable) {
      firstReadable = m;
      firstBroken = broken;
    }
  }
  await store.bucket.assertPresent();
  if (!firstReadable) throw new PlaneError(ErrorCode.FailedPrecondition, `no snapshot of ${store.plane}/${store.agent} can be restored: ${reasons.join('; ')}`);
  return { manifest: firstReadable, newest, newestManifest, fallback: { reason: `${reasons.join('; ')}; no snapshot is complete`, skipChunks: firstBroken } };
}

/** Paths whose newest version a restore did not bring back: changed or gone since `newest`, or left out. */
export function unrestoredPaths(newest: BrainManifest | null, used: BrainManifest, leftOut: readonly string[]): string[] {
  const out = new Set(leftOut);
  if (newest) {
    const have = new Map(entriesOf(used));
    for (const [p, e] of entriesOf(newest)) {
      const u = have.get(p);
      if (!u || u.chunks.join() !== e.chunks.join()) out.add(p);
    }
  }
  return [...out].sort();
}
