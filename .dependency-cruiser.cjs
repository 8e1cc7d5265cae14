/** Import cycles make start-up order and mocking brittle; none are allowed. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'agentd-not-hub', severity: 'error', comment: 'agentd ships to every VM; it must not pull in hub code',
      from: { path: '^agentd/' }, to: { path: '^hub/' },
    },
    {
      name: 'hub-not-agentd', severity: 'error', comment: 'the hub talks to agentd only over the contract in proto/',
      from: { path: '^hub/src/(?!infra/)' }, to: { path: '^agentd/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
