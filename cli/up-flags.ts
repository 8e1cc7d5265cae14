/** The flags and REST calls of `planes up` (verbs/up.ts), apart so that up.ts can take their types without a cycle. */
import type { Flag, Values } from './verb.ts';

/** Its flags; docs/operations.md and docs/api.md list each (test/docs.test.ts). */
export const UP_FLAGS = [
  { name: 'file', short: 'f', value: 'planes.yaml', help: 'the plane to bring up', required: true },
  { name: 'data-dir', value: 'DIR', help: "the hub's state; the next up resumes it", default: '.planes-data' },
  { name: 'grpc-listen', kind: 'host-port', value: 'H:P', help: "the hub's gRPC address for agents", default: '127.0.0.1:7443' },
  { name: 'api-listen', kind: 'host-port', value: 'H:P', help: 'the REST API and console address', default: '127.0.0.1:7480' },
  { name: 'heartbeat-interval-ms', kind: 'int', value: 'N', help: 'how often agents report (default 5000)' },
  { name: 'heal-red-after-ms', kind: 'int', value: 'N', help: 'how long an agent stays red before the hub restarts it (default 120000)' },
  { name: 'timeout-seconds', kind: 'int', value: 'N', help: 'how long to wait for the gateways', default: 180 },
  { name: 'runtime', choices: ['openclaw', 'placeholder'], help: 'what each agent runs', default: 'openclaw' },
  { name: 'runtime-root', value: 'DIR', help: 'where the pinned Node and OpenClaw are installed (default <data-dir>/runtime)' },
  { name: 'verbose', kind: 'boolean', help: "the hub's logs on stderr" },
  { name: 'json', kind: 'boolean', help: 'endpoints and agents as JSON on stdout once all are up; no progress' },
] as const satisfies readonly Flag[];
export type UpValues = Values<typeof UP_FLAGS>;

export const UP_CALLS = ['POST /v1/planes/{planeId}/apply', 'PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}', 'GET /v1/planes/{planeId}/agents'] as const;

