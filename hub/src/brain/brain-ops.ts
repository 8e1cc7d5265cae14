import Database from 'better-sqlite3';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { BRAIN_KEY_SECRET, BrainKey } from '../../../common/src/brain/brain-crypto.ts';
import { isMemoryFile } from '../../../common/src/brain/brain-paths.ts';
import { type BrainManifest, type DatabaseEntry, type FileEntry, parseManifestId } from '../../../common/src/brain/brain-manifest.ts';
import { BrainStore } from '../../../common/src/brain/brain-store.ts';
import { openBucket } from '../../../common/src/brain/open-bucket.ts';
import { listAll } from '../../../common/src/brain/bucket.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir } from '../../../common/src/files.ts';
import type { BrainGrant } from '../../../proto/index.ts';
import type { HubContext } from '../hub-context.ts';

export const BRAIN_KEY_NAME = BRAIN_KEY_SECRET;

/** The brain's location, the agent's data key (created on first use) and its writer fence. */
export async function brainGrant(ctx: HubContext, plane: string, agent: string, fence: number): Promise<BrainGrant> {
  return {
    bucketUrl: ctx.brain.bucketUrl,
    dataKey: await brainDataKey(ctx, plane, agent),
    writerFence: fence,
    ...(ctx.brain.gcsApiEndpoint ? { gcsApiEndpoint: ctx.brain.gcsApiEndpoint } : {}),
  };
}

/** The agent's data key, kept in its own secret namespace; generated on first use. */
export async function brainDataKey(ctx: HubContext, plane: string, agent: string): Promise<Buffer> {
  const existing = await ctx.secrets.readForHub(plane, agent, BRAIN_KEY_NAME);
  if (existing) return existing;
  return (await ctx.secrets.generate('hub', plane, agent, BRAIN_KEY_NAME, 32)).value;
}

export async function brainStore(ctx: HubContext, plane: string, agent: string): Promise<BrainStore> {
  const bucket = await openBucket(ctx.brain.bucketUrl, ctx.brain.gcsApiEndpoint ? { gcsApiEndpoint: ctx.brain.gcsApiEndpoint } : {});
  return new BrainStore({ bucket, plane, agent, key: new BrainKey(await brainDataKey(ctx, plane, agent)) });
}

export interface SnapshotInfo {
  id: string;
  at: string;
  reason: string;
  current: boolean;
}

export async function listSnapshots(ctx: HubContext, plane: string, agent: string): Promise<SnapshotInfo[]> {
  const store = await brainStore(ctx, plane, agent);
  const head = await store.readHead();
  return (await store.listSnapshots()).map((id) => {
    const p = parseManifestId(id);
    return { id, at: new Date(p?.atMs ?? 0).toISOString(), reason: p?.reason ?? '?', current: id === head?.manifest };
  });
}

/** Tables that hold logins, tokens and stored secrets in OpenClaw's databases: never copied to a clone. */
const CREDENTIAL_TABLES = [
  'auth_profile_store',
  'auth_profile_state',
  'secret_store_entries',
  'mcp_oauth_stores',
  'mcp_oauth_pending_authorizations',
  'worker_environment_credentials',
  'device_auth_tokens',
  'device_bootstrap_tokens',
  'gateway_origin_device_tokens',
];

/**
 * Copies one agent's current brain to a new agent's namespace, re-encrypted
 * under the new agent's own data key: workspace files (with the new SOUL.md
 * when one is given) and the agent databases with every credential table
 * emptied. The global state database (device identity, paired devices,
 * approvals) is not copied: the clone is a new identity with its own secrets.
 */
export async function cloneBrain(ctx: HubContext, plane: string, from: string, to: string, options: { soul?: string } = {}): Promise<{ snapshot: string; files: number; databases: string[]; scrubbedTables: number }> {
  const src = await brainStore(ctx, plane, from);
  const manifest = await src.current();
  if (!manifest) throw new PlaneError(ErrorCode.NotFound, `agent ${plane}/${from} has no brain in ${src.bucket.url} to clone`);
  const dst = await brainStore(ctx, plane, to);
  if (await dst.readHead()) throw new PlaneError(ErrorCode.AlreadyExists, `${plane}/${to} already has a brain in ${dst.bucket.url}; refusing to overwrite it`);
  ensureDir(join(ctx.dataDir, 'tmp'), 0o700);
  const scratch = await fs.mkdtemp(join(ctx.dataDir, 'tmp', 'clone-'));
  try {
    const agentDbs = Object.fromEntries(Object.entries(manifest.databases).filter(([name]) => name.startsWith('agents/')));
    const files: Record<string, FileEntry> = {};
    const only: BrainManifest = { ...manifest, databases: agentDbs };
    await src.restore(only, { workspaceDir: join(scratch, 'workspace'), databaseDir: join(scratch, 'state') });
    if (options.soul !== undefined) await fs.writeFile(join(scratch, 'workspace', 'SOUL.md'), options.soul, { mode: 0o600 });
    const names = options.soul !== undefined && !manifest.files['SOUL.md'] ? [...Object.keys(manifest.files), 'SOUL.md'] : Object.keys(manifest.files);
    for (const p of names) {
      const path = join(scratch, 'workspace', p);
      const st = await fs.stat(path);
      const { chunks, size } = await dst.chunks.putFile(path);
      files[p] = { size, chunks, mode: manifest.files[p]?.mode ?? 0o600, mtimeMs: Math.floor(st.mtimeMs) };
    }
    let scrubbedTables = 0;
    const databases: Record<string, DatabaseEntry> = {};
    for (const name of Object.keys(agentDbs)) {
      const path = join(scratch, 'state', name);
      const db = new Database(path);
      try {
        for (const t of CREDENTIAL_TABLES) {
          if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t)) {
            db.exec(`DELETE FROM "${t}"`);
            scrubbedTables++;
          }
        }
        db.exec('VACUUM');
      } finally {
        db.close();
      }
      const { chunks, size } = await dst.chunks.putFile(path);
      databases[name] = { size, chunks, takenAtMs: agentDbs[name]?.takenAtMs ?? Date.now() };
    }
    const memoryFiles = Object.keys(files).filter(isMemoryFile).length;
    const committed = await dst.commit(
      { reason: 'clone', files, databases, tombstones: {}, stats: { ...manifest.stats, files: Object.keys(files).length, memoryFiles } },
      0,
    );
    return { snapshot: committed.id, files: Object.keys(files).length, databases: Object.keys(databases), scrubbedTables };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Deletes an agent's brain from the bucket and its data key, then checks that
 * nothing is left under its prefix or in its secret namespace. Used when the
 * agent is removed: a later agent of the same name starts blank, with a new key.
 */
export async function purgeBrain(ctx: HubContext, plane: string, agent: string): Promise<{ objectsDeleted: number; secretsDeleted: number }> {
  const bucket = await openBucket(ctx.brain.bucketUrl, ctx.brain.gcsApiEndpoint ? { gcsApiEndpoint: ctx.brain.gcsApiEndpoint } : {});
  const prefix = `planes/${plane}/agents/${agent}/`;
  // HEAD first: from then on no snapshot is current, whatever else a failure leaves.
  await bucket.delete(`${prefix}HEAD`);
  let objectsDeleted = 0;
  for await (const o of listAll(bucket, prefix)) {
    await bucket.delete(o.name);
    objectsDeleted++;
  }
  const left = (await bucket.listPage(prefix, { maxResults: 1 })).objects.length;
  if (left > 0) throw new PlaneError(ErrorCode.Internal, `purge of ${plane}/${agent} left data behind in ${bucket.url}`);
  const secretsDeleted = await ctx.secrets.purge(plane, agent);
  return { objectsDeleted, secretsDeleted };
}
