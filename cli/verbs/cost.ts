/** Cost: what a plane cost, by agent, owner or group. */
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { verb } from '../verb.ts';
import { costCsv, costTable } from '../views/cost-view.ts';

export const costReport = verb({
  name: 'cost-report',
  group: 'Cost',
  summary: 'What a plane cost, per agent, owner or group, with each budget used',
  details: '--csv prints one header line and one line per row; it cannot be combined with --json.',
  flags: [
    { name: 'plane', value: 'P', help: 'the plane', required: true },
    { name: 'period', value: '30d|mtd', help: 'Nd: the last N UTC days including today; mtd: this UTC month', default: '30d' },
    { name: 'by', choices: ['agent', 'owner', 'group'], help: 'one row per', default: 'agent' },
    { name: 'csv', kind: 'boolean', help: 'CSV instead of a table' },
  ],
  calls: ['GET /v1/planes/{planeId}/cost-report'],
  async run({ values: v, out, hub }) {
    if (v.csv && out.json) throw new PlaneError(ErrorCode.InvalidArgument, '--csv and --json cannot be combined', { where: '--csv' });
    const r = await hub.call('GET /v1/planes/{planeId}/cost-report', { params: { planeId: v.plane }, query: { period: v.period, by: v.by } });
    if (out.json) out.printJson(r);
    else if (v.csv) out.print(costCsv(r));
    else out.print(costTable(r));
    return ExitCode.Ok;
  },
});
