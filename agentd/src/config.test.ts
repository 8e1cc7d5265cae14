import { describe, expect, it } from 'vitest';
import { parseAgentdConfig } from './config.ts';

describe('agentd config', () => {
  it('fills defaults and resolves paths relative to the config file', () => {
    const cfg = parseAgentdConfig('plane: p1\nagent: a1\nstateDir: ./state\nruntime: {kind: openclaw, root: rt, workspaceDir: /w}\n', '/etc/agentd/agentd.yaml');
    expect(cfg.stateDir).toBe('/etc/agentd/state');
    expect(cfg.runtime).toMatchObject({ kind: 'openclaw', root: '/etc/agentd/rt', workspaceDir: '/w', gatewayPort: 18789 });
    expect(cfg.shutdownTimeoutMs).toBe(25_000);
  });

  it('names the bad field', () => {
    expect(() => parseAgentdConfig('plane: p1\nagent: A1!\nstateDir: /s\nruntime: {kind: placeholder}\n', 'agentd.yaml')).toThrow(/agentd.yaml: agent must match pattern/);
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: placeholder}\nhubb: x\n', 'agentd.yaml')).toThrow(/agentd.yaml: hubb is not a known field/);
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\n', 'agentd.yaml')).toThrow(/agentd.yaml: stateDir is required/);
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: placeholder}\nshutdownTimeoutMs: 5\n', 'agentd.yaml')).toThrow(/shutdownTimeoutMs must be >= 1000/);
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: openclaw, root: /r}\n', 'agentd.yaml')).toThrow(/runtime.workspaceDir is required when runtime.kind is openclaw/);
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: docker}\n', 'agentd.yaml')).toThrow(/runtime.kind/);
    expect(() => parseAgentdConfig(': : :\n', 'agentd.yaml')).toThrow(/agentd.yaml/);
  });
});

describe('agentd sync config', () => {
  it('fills sync defaults and names a bad cron expression', () => {
    const cfg = parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: placeholder}\n', 'agentd.yaml');
    expect(cfg.sync).toMatchObject({ enabled: true, reconcileCron: '*/15 * * * *', snapshotCron: '*/5 * * * *', maxDeleteShare: 0.5 });
    expect(() => parseAgentdConfig('plane: p1\nagent: a1\nstateDir: /s\nruntime: {kind: placeholder}\nsync: {snapshotCron: "every 5 minutes"}\n', 'agentd.yaml')).toThrow(
      /agentd.yaml: sync.snapshotCron "every 5 minutes" is not a cron expression/,
    );
  });
});
