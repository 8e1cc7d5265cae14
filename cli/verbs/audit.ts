/** Audit: the hash-chained log of who did what, and its check. */
import { ExitCode } from '../../common/src/errors.ts';
import { table } from '../format.ts';
import { verb } from '../verb.ts';

export const audit = verb({
  name: 'audit',
  group: 'Audit',
  summary: 'Table of audit events, newest first',
  details: '--actor takes a token’s name (ops) or the actor as recorded (token:ops, hub).',
  flags: [
    { name: 'plane', value: 'P', help: 'events of this plane' },
    { name: 'name', value: 'A', help: 'events of this agent' },
    { name: 'actor', value: 'X', help: 'events by this actor' },
    { name: 'since', kind: 'date', value: 'TIME', help: 'events at or after this ISO 8601 time' },
    { name: 'limit', kind: 'int', value: 'N', help: 'how many, up to 5000', default: 200 },
  ],
  calls: ['GET /v1/audit'],
  async run({ values: v, out, hub }) {
    const query = {
      ...(v.plane ? { plane: v.plane } : {}),
      ...(v.name ? { agent: v.name } : {}),
      ...(v.actor ? { actor: v.actor } : {}),
      ...(v.since ? { since: v.since } : {}),
      limit: v.limit,
    };
    const r = await hub.call('GET /v1/audit', { query });
    if (out.json) out.printJson(r);
    else out.print(table(['#', 'TIME', 'ACTOR', 'ACTION', 'AGENT', 'OUTCOME', 'DETAIL'], r.events.map((e) => [String(e.id), new Date(e.at).toISOString(), e.actor, e.action, e.plane ? `${e.plane}/${e.agent ?? '*'}` : '', e.outcome, JSON.stringify(e.detail)])));
    return ExitCode.Ok;
  },
});

export const auditVerify = verb({
  name: 'audit verify',
  group: 'Audit',
  summary: 'Verify the audit hash chain; exit 1 naming any row changed or removed',
  flags: [],
  calls: ['POST /v1/audit/verify'],
  async run({ out, hub }) {
    const r = await hub.call('POST /v1/audit/verify', {});
    if (out.json) out.printJson(r);
    else {
      out.print(r.ok ? `audit log intact: ${r.rows} rows, head #${r.headId ?? '-'} ${r.headHash ?? ''}` : `audit log TAMPERED (${r.problems.length} problems in ${r.rows} rows):`);
      for (const p of r.problems) out.print(`  row ${p.id}: ${p.problem}`);
    }
    return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
  },
});
