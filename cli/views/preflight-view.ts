import type { PreflightReport } from '../api.ts';
import { table } from '../format.ts';

/** The report as a table, with the gcloud fix under each failing check. */
export function preflightText(r: PreflightReport): string {
  const rows = r.checks.map((c) => [c.status === 'fail' ? 'FAIL' : c.status, c.name, c.detail]);
  const fixes = r.checks.filter((c) => c.fix && c.status !== 'ok').map((c) => `  ${c.name}:\n    ${c.fix ?? ''}`);
  return [
    `preflight for project ${r.project}, region ${r.region}, zone ${r.zone}`,
    table(['CHECK', 'NAME', 'DETAIL'], rows),
    ...(fixes.length ? ['', 'to fix:', ...fixes] : []),
    '',
    r.ok ? 'preflight: ok' : 'preflight: FAILED (fix the above, then run it again)',
  ].join('\n');
}
