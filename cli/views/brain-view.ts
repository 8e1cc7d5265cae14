import { describeSync, type SyncView } from '../../common/src/brain/sync-view.ts';
import type { VerifyReport } from '../api.ts';

export function verifyText(r: VerifyReport): string {
  const lines = [`snapshot ${r.snapshot}: restored ${r.files.restored}/${r.files.expected} files in ${r.restoreMs} ms`];
  for (const d of r.databases) lines.push(`  ${d.name}: integrity_check ${d.integrity}`);
  lines.push(`  sessions ${r.sessions.restored} (agent reported ${r.sessions.reported ?? '?'}), memory files ${r.memoryFiles.restored} (agent reported ${r.memoryFiles.reported ?? '?'})`);
  if (r.missing.length) lines.push(`  ${r.missing.length} missing object(s):`, ...r.missing.map((o) => `    ${o}`));
  if (r.corrupt.length) lines.push(`  ${r.corrupt.length} corrupt object(s):`, ...r.corrupt.map((o) => `    ${o}`));
  if (r.unrestorable.length) lines.push(`  not restorable: ${r.unrestorable.join(', ')}`);
  lines.push(r.ok ? 'backup verified' : `backup FAILED verification:\n  ${r.problems.join('\n  ')}`);
  return lines.join('\n');
}

/** The brain lines under `planes status --name A`, from the agent's last heartbeat. */
export function brainText(sync: SyncView | null | undefined, now = Date.now()): string {
  if (!sync) return 'brain    no heartbeat yet';
  return describeSync(sync, now)
    .map(([k, v]) => `${k.padEnd(8)} ${v}`)
    .join('\n');
}
