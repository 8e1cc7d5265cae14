import { defineConfig } from 'vitest/config';

/**
 * `npm run test:image`: the provisioning scripts run for real in a Debian bookworm
 * root made with debootstrap (root, network to Debian and the npm registry, several
 * minutes). Opt-in: not part of `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.image-test.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 60 * 60_000,
    reporters: ['default'],
  },
});
