/** How `planes apply` shows a plan: one line per agent, what changes from what to what. */
import type { Plan } from '../api.ts';

function value(v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')}]`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function describePlan(plan: Plan, locate: (path: string) => string): string {
  const lines: string[] = [];
  if (plan.planeAction === 'create') lines.push(`+ plane ${plan.plane}: create`);
  else if (plan.planeAction === 'change') {
    lines.push(`~ plane ${plan.plane}:`);
    for (const c of plan.planeChanges) lines.push(`    ${c.field}: ${value(c.from)} -> ${value(c.to)}`);
  }
  for (const a of plan.agents) {
    const via = a.policies.length > 0 ? `  (policies ${a.policies.map((i) => `spec.policies[${i}]`).join(', ')})` : '';
    if (a.action === 'create') {
      lines.push(`+ ${a.name}: create${via}`);
      lines.push(`    ${a.changes.filter((c) => !(Array.isArray(c.to) && c.to.length === 0)).map((c) => `${c.field} ${value(c.to)}`).join(', ')}`);
    } else if (a.action === 'change') {
      lines.push(`~ ${a.name}: change${via}`);
      for (const c of a.changes) lines.push(`    ${c.field}: ${value(c.from)} -> ${value(c.to)}`);
    } else {
      lines.push(`- ${a.name}: remove (its machine and its brain are destroyed)`);
    }
  }
  if (plan.unmanaged.length > 0) lines.push(`  not in the file, kept (--prune removes them): ${plan.unmanaged.join(', ')}`);
  for (const e of plan.errors) lines.push(`! ${locate(e.path)} ${e.path}: ${e.message}`);
  const { create, change, remove } = plan.summary;
  lines.push(
    plan.empty
      ? `plan for ${plan.plane}: no changes (${plan.unchanged.length} agents up to date)`
      : `plan for ${plan.plane}: ${create} to create, ${change} to change, ${remove} to remove, ${plan.unchanged.length} unchanged${plan.planeAction !== 'none' ? `; plane: ${plan.planeAction}` : ''}`,
  );
  return lines.join('\n');
}
