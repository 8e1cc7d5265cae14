/**
 * The runtime this release of agentd is built and tested with. Changing a pin is
 * a deliberate act (a commit); nothing updates these at run time.
 */
export const PINNED_RUNTIME = Object.freeze({ node: '24.21.0', openclaw: '2026.9.6' });
