/** Declarative: a whole plane from planes.yaml (apply), and back (export). */
import { writeFileSync } from 'node:fs';
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { table } from '../format.ts';
import { readPlanesFile } from '../planes-file.ts';
import { verb } from '../verb.ts';
import { describePlan } from '../views/plan-view.ts';

const GROUP = 'Declarative (planes.yaml)';

export const apply = verb({
  name: 'apply',
  group: GROUP,
  summary: "Plan the file's plane, then apply the plan (--dry-run: only the plan)",
  details:
    'A plan with removals is applied only with --yes: it destroys their machines and brains (exit 2 otherwise). ' +
    'Exit 0 when everything is ok or the plan is empty; 1 when an agent failed or is pending; 2 for a bad file (FILE:LINE:COL path: problem); ' +
    '6 when the plan has errors or the plane changed since the plan.',
  flags: [
    { name: 'file', short: 'f', value: 'planes.yaml', help: 'the file', required: true },
    { name: 'dry-run', kind: 'boolean', help: 'stop after the plan' },
    { name: 'prune', kind: 'boolean', help: 'plan removal of agents that are not in the file' },
    { name: 'yes', kind: 'boolean', help: 'confirm a plan that removes agents' },
    { name: 'wait-seconds', kind: 'int', value: 'N', help: 'how long to wait for agents to apply changed settings, up to 300', default: 60 },
  ],
  calls: ['POST /v1/planes/{planeId}/plan', 'POST /v1/planes/{planeId}/apply'],
  async run({ values: v, out, hub }) {
    const parsed = await readPlanesFile(v.file);
    const plane = parsed.file.metadata.name;
    // The hub validates the document again; point its complaints back into the file.
    const inFile = async <T>(call: Promise<T>): Promise<T> => {
      try {
        return await call;
      } catch (err) {
        const e = PlaneError.from(err);
        const m = /^body\.document\.(\S+)/.exec(e.where ?? '');
        if (!m?.[1]) throw e;
        const where = parsed.locate(m[1]);
        throw new PlaneError(e.code, `${where} ${e.message.replace(/^body\.document\./, '')}`, { where });
      }
    };
    const plan = await inFile(hub.call('POST /v1/planes/{planeId}/plan', { params: { planeId: plane }, body: { document: parsed.file, prune: v.prune } }));
    if (!out.json) out.print(describePlan(plan, parsed.locate));
    const firstError = plan.errors[0];
    if (firstError) {
      if (out.json) out.printJson({ plan });
      const where = parsed.locate(firstError.path);
      throw new PlaneError(ErrorCode.FailedPrecondition, `${where} ${firstError.path}: ${firstError.message}; nothing was applied`, { where });
    }
    if (v['dry-run'] || plan.empty) {
      if (out.json) out.printJson({ plan, results: [], summary: { ok: 0, pending: 0, failed: 0 } });
      else if (v['dry-run'] && !plan.empty) out.print('dry run: nothing was applied');
      return ExitCode.Ok;
    }
    if (plan.summary.remove > 0 && !v.yes) {
      if (out.json) out.printJson({ plan });
      throw new PlaneError(ErrorCode.InvalidArgument, `the plan removes ${plan.summary.remove} agent(s): their machines and brains are destroyed. Pass --yes to confirm; nothing was applied`, { where: '--yes' });
    }
    out.progress(`applying to plane ${plane}...`);
    const report = await inFile(
      hub.call('POST /v1/planes/{planeId}/apply', {
        params: { planeId: plane },
        body: { document: parsed.file, prune: v.prune, fingerprint: plan.fingerprint, waitSeconds: Math.min(v['wait-seconds'], 300) },
      }),
    );
    if (out.json) out.printJson(report);
    else {
      if (report.results.length > 0) out.print(`\n${table(['AGENT', 'ACTION', 'RESULT', 'DETAIL'], report.results.map((r) => [r.agent, r.action, r.outcome, r.message ?? '']))}`);
      out.print(`\napplied: ${report.summary.ok} ok, ${report.summary.pending} pending, ${report.summary.failed} failed${plan.planeAction !== 'none' ? ` (plane ${plan.planeAction}d)` : ''}`);
    }
    return report.summary.failed > 0 || report.summary.pending > 0 ? ExitCode.PartialFailure : ExitCode.Ok;
  },
});

export const exportPlane = verb({
  name: 'export',
  group: GROUP,
  summary: 'Write the plane as planes.yaml; applying it changes nothing',
  details: '--json: the document as JSON.',
  flags: [
    { name: 'plane', value: 'P', help: 'the plane', required: true },
    { name: 'output', short: 'o', value: 'FILE', help: 'write to this file' },
  ],
  calls: ['GET /v1/planes/{planeId}/export'],
  async run({ values: v, out, hub }) {
    const r = await hub.call('GET /v1/planes/{planeId}/export', { params: { planeId: v.plane } });
    const { Document, isScalar, visit } = await import('yaml');
    const doc = new Document(r.document);
    // Lists of names read best on one line, as people write them: tools: [email, calendar].
    visit(doc, { Seq: (_key, node) => void (node.flow = node.items.every((i) => isScalar(i))) });
    const text = `# planes export --plane ${v.plane}: applying this file to the plane changes nothing.\n${doc.toString({ lineWidth: 0, flowCollectionPadding: false })}`;
    if (v.output) {
      try {
        writeFileSync(v.output, text, { mode: 0o644 });
      } catch (err) {
        throw new PlaneError(ErrorCode.InvalidArgument, `cannot write ${v.output}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '-o' });
      }
      if (out.json) out.printJson({ file: v.output, document: r.document });
      else out.print(`wrote ${v.output}`);
    } else if (out.json) out.printJson(r.document);
    else process.stdout.write(text);
    return ExitCode.Ok;
  },
});
