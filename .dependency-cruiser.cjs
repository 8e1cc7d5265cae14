/** Import cycles make start-up order and mocking brittle; none are allowed. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'agentd-not-hub', severity: 'error', comment: 'agentd ships to every VM; it must not pull in hub code',
      from: { path: '^agentd/' }, to: { path: '^hub/' },
    },
    {
      name: 'hub-not-agentd', severity: 'error',
      comment: 'the hub talks to agentd only over the contract in proto/; what both need (the runtime manager, the brain store) lives in common/',
      from: { path: '^hub/' }, to: { path: '^agentd/' },
    },
    {
      name: 'console-types-only', severity: 'error',
      comment: 'the console runs in a browser: it may take types from the hub (its response schemas), never code',
      from: { path: '^console/' }, to: { path: '^(hub|agentd|common|proto)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
