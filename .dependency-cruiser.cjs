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
      name: 'cli-hub-types-only', severity: 'error',
      comment: "the CLI is a client of the REST API: it takes the hub's types (its schemas), not its code, so that planes status starts without fastify, grpc-js or SQLite. Two lazy exceptions: up.ts (planes up runs a hub) and the planes.yaml reader",
      from: { path: '^cli/', pathNot: '^cli/up\\.ts$' }, to: { path: '^(hub|agentd)/', dependencyTypesNot: ['type-only', 'dynamic-import'] },
    },
    {
      name: 'cli-lazy-hub-planes-file-only', severity: 'error', comment: 'the one hub module the CLI loads (lazily) is the planes.yaml reader',
      from: { path: '^cli/' }, to: { path: '^(hub|agentd)/(?!src/planes-file\\.ts$)', dependencyTypes: ['dynamic-import'] },
    },
    {
      name: 'cli-up-lazy', severity: 'error',
      comment: 'up.ts loads the whole hub: only the up verb loads it, by import() when planes up runs',
      from: { path: '^cli/', pathNot: '^cli/verbs/up\\.ts$' }, to: { path: '^cli/up\\.ts$' },
    },
    {
      name: 'cli-up-lazy-import', severity: 'error', comment: 'see cli-up-lazy',
      from: { path: '^cli/verbs/up\\.ts$' }, to: { path: '^cli/up\\.ts$', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'cli-not-agentd', severity: 'error', comment: 'the CLI talks to agents only through the hub',
      from: { path: '^cli/' }, to: { path: '^agentd/' },
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
