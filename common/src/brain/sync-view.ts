/**
 * The brain part of an agent's status as lines of text, for `planes status
 * --name A` (from the heartbeat the hub keeps) and `agentd status` (from
 * agentd itself): what is synced, what is left out and why, whether the
 * bucket is trusted, and what the last restore could not bring back.
 */
export interface SyncView {
  state?: string;
  snapshot?: string;
  files?: number;
  memoryFiles?: number;
  lagMs?: number | string;
  pendingChanges?: number;
  lastError?: string;
  lastSuccessMs?: number | string;
  lastCheckMs?: number | string;
  skippedFiles?: number;
  skippedByReason?: Record<string, number>;
  untrusted?: string;
  restoreFallback?: { newest?: string; used?: string; reason?: string; unrestored?: string[]; unrestoredCount?: number } | null;
}

const since = (now: number, t: number | string | undefined): string => {
  const ms = Number(t ?? 0);
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

/** [label, text] rows; the label is empty on continuation lines. */
export function describeSync(s: SyncView, now = Date.now()): [string, string][] {
  const rows: [string, string][] = [];
  const lag = Number(s.lagMs ?? 0);
  rows.push([
    'brain',
    `${s.state ?? '?'}, snapshot ${s.snapshot || '-'}, ${s.files ?? 0} files (${s.memoryFiles ?? 0} memory), last push ${since(now, s.lastSuccessMs)}` +
      (lag > 0 ? `, lag ${Math.round(lag / 1000)}s (${s.pendingChanges ?? 0} pending)` : ''),
  ]);
  if (s.lastError) rows.push(['', `last error: ${s.lastError}`]);
  rows.push(['', `bucket check ${since(now, s.lastCheckMs)}: ${s.untrusted ? `NOT TRUSTED (${s.untrusted}); the next push uploads every chunk again` : 'trusted'}`]);
  const reasons = Object.entries(s.skippedByReason ?? {}).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1));
  rows.push(['skipped', (s.skippedFiles ?? 0) === 0 ? 'no workspace file left out' : `${s.skippedFiles} workspace files not synced: ${reasons.map(([k, n]) => `${k} ${n}`).join(', ')}`]);
  const f = s.restoreFallback;
  if (f?.used) {
    const listed = f.unrestored ?? [];
    const more = (f.unrestoredCount ?? listed.length) - listed.length;
    rows.push(['restore', `used snapshot ${f.used}${f.newest ? ` instead of the newest, ${f.newest}` : ''}: ${f.reason ?? ''}`]);
    rows.push(['', listed.length ? `not restored as of the newest: ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : 'every file of the newest snapshot was restored']);
  }
  return rows;
}
