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
      comment: 'the hub talks to agentd only over the contract in proto/; the local infra provider may use the runtime manager to prepare this host',
      from: { path: '^hub/src/(?!infra/)' }, to: { path: '^agentd/' },
    },
    {
      name: 'local-infra-runtime-only', severity: 'error', comment: 'the local provider may use agentd runtime installation, nothing else of agentd',
      from: { path: '^hub/src/infra/' }, to: { path: '^agentd/(?!src/runtime/(runtime-manager|pins)\\.ts$)' },
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
