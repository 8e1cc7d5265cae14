import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,hub,agentd,proto,cli}/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real hubs and agentd processes; two cores, so keep it modest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // Installs the pinned Node + OpenClaw once per machine for the real-gateway tests.
    globalSetup: ['./test/global-setup.ts'],
  },
});
