/** Brain (workspace and databases in the bucket): backup, snapshots, restore, the restore drill, clone. */
import { readFileSync } from 'node:fs';
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { table } from '../format.ts';
import { AGENT, PLANE, verb } from '../verb.ts';
import { verifyText } from '../views/brain-view.ts';
import { reportCommand } from '../views/run-view.ts';

const GROUP = 'Brain (workspace + databases in the bucket)';

export const backup = verb({
  name: 'backup',
  group: GROUP,
  summary: 'A manual snapshot (kept 90 days); prints its id',
  flags: [PLANE, AGENT],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/backup'],
  async run({ values: v, out, hub }) {
    out.progress(`backing up ${v.plane}/${v.name} (files and database snapshots)...`);
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/backup', { params: { planeId: v.plane, agentId: v.name }, body: { waitSeconds: 120 } });
    return reportCommand(out, v.name, r.command, (o) => `backup ${String(o['snapshot'])} (${String(o['ms'])} ms)`);
  },
});

export const snapshots = verb({
  name: 'snapshots',
  group: GROUP,
  summary: 'Table of snapshots: id, time, reason, which is current',
  flags: [PLANE, AGENT],
  calls: ['GET /v1/planes/{planeId}/agents/{agentId}/snapshots'],
  async run({ values: v, out, hub }) {
    const r = await hub.call('GET /v1/planes/{planeId}/agents/{agentId}/snapshots', { params: { planeId: v.plane, agentId: v.name } });
    if (out.json) out.printJson(r);
    else out.print(table(['SNAPSHOT', 'TAKEN', 'REASON', ''], r.snapshots.map((x) => [x.id, x.at, x.reason, x.current ? 'current' : ''])));
    return ExitCode.Ok;
  },
});

export const restore = verb({
  name: 'restore',
  group: GROUP,
  summary: 'Restore a snapshot: stop the gateway, restore, start it, check continuity',
  details: 'Neither --at nor --snapshot: the current snapshot. Exit 1 if the restore or the continuity check failed.',
  flags: [PLANE, AGENT, { name: 'at', kind: 'date', value: 'TIME', help: 'the newest snapshot taken at or before this ISO 8601 time' }, { name: 'snapshot', value: 'ID', help: 'this snapshot (from planes snapshots)' }],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/restore'],
  async run({ values: v, out, hub }) {
    out.progress(`restoring ${v.plane}/${v.name}: stopping the gateway, restoring, starting, checking continuity...`);
    const body = { ...(v.at ? { at: v.at } : {}), ...(v.snapshot ? { snapshot: v.snapshot } : {}), waitSeconds: 300 };
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/restore', { params: { planeId: v.plane, agentId: v.name }, body });
    return reportCommand(out, v.name, r.command, (o) => `restored ${String(o['restored'])}: ${String(o['files'])} files, ${String(o['databases'])} databases; continuity ${JSON.stringify(o['continuity'])}`);
  },
});

export const verifyBackup = verb({
  name: 'verify-backup',
  group: GROUP,
  summary: 'The restore drill: restore the current snapshot into scratch space, check it',
  details: 'Exit 0 when it verified; 1 when it ran and found a problem (every one is listed); 3 when the agent has no backup; 5 when the bucket cannot be reached.',
  flags: [PLANE, AGENT],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/verify-backup'],
  async run({ values: v, out, hub }) {
    out.progress(`restoring the latest snapshot of ${v.plane}/${v.name} into scratch space...`);
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/verify-backup', { params: { planeId: v.plane, agentId: v.name } });
    if (out.json) out.printJson(r);
    else out.print(verifyText(r));
    // 1: the drill ran and found something wrong (every problem is listed); errors before it ran exit as usual.
    return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
  },
});

export const cloneAgent = verb({
  name: 'clone-agent',
  group: GROUP,
  summary: "A new agent with a copy of another's brain (credentials removed)",
  flags: [
    PLANE,
    { name: 'from', value: 'A', help: 'the agent whose brain is copied', required: true },
    { name: 'name', value: 'B', help: 'the new agent', required: true },
    { name: 'owner', value: 'EMAIL', help: "the new agent's owner", required: true },
    { name: 'soul-file', value: 'FILE', help: "the new agent's own SOUL.md" },
  ],
  calls: ['POST /v1/planes/{planeId}/agents/{agentId}/clone'],
  async run({ values: v, out, hub }) {
    let soul: string | undefined;
    if (v['soul-file']) {
      try {
        soul = readFileSync(v['soul-file'], 'utf8');
      } catch (err) {
        throw new PlaneError(ErrorCode.InvalidArgument, `--soul-file ${v['soul-file']}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '--soul-file' });
      }
    }
    out.progress(`cloning the brain of ${v.plane}/${v.from} into ${v.name}...`);
    const r = await hub.call('POST /v1/planes/{planeId}/agents/{agentId}/clone', {
      params: { planeId: v.plane, agentId: v.from },
      body: { name: v.name, ownerEmail: v.owner, ...(soul !== undefined ? { soul } : {}) },
    });
    if (out.json) out.printJson(r);
    else out.print(`${v.name}: created from ${v.from}'s brain (${r.files} files, databases ${r.databases.join(', ') || 'none'}; credentials not copied)`);
    return ExitCode.Ok;
  },
});
