import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// A merge that left its conflict markers behind once reached docs/api.md; nothing tracked may carry them.
describe('tracked files', () => {
  it('carry no merge conflict markers', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(50);
    const marked = files.filter((f) => {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        return false; // deleted in the working tree
      }
      return /^<{7} /m.test(text) || /^>{7} /m.test(text);
    });
    expect(marked).toEqual([]);
  });
});

// Each of these disagreed with the product once (the hardening issue's "docs that disagree").
describe('the docs say what the product does', () => {
  const doc = (name: string): string => readFileSync(`docs/${name}.md`, 'utf8');

  it("describe every field of a heartbeat's sync status, and what sessions: -1 means", () => {
    const proto = readFileSync('proto/agentplane/v1/agentplane.proto', 'utf8');
    const message = /message SyncStatus \{([^}]*)\}/.exec(proto)?.[1] ?? '';
    const fields = [...message.matchAll(/^\s*\w+ (\w+) = \d+;/gm)].map((m) => (m[1] as string).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
    expect(fields).toContain('sessions');
    const paragraph = doc('api').split('\n').find((l) => l.startsWith('- **Heartbeat `sync`**')) ?? '';
    for (const f of fields) expect(paragraph, f).toContain(`\`${f}\``);
    expect(paragraph).toMatch(/`sessions: -1` means "not counted"/);
  });

  it('quote the health reasons a placeholder agent shows as the hub words them', async () => {
    const { evaluateHealth } = await import('../hub/src/health.ts');
    const heartbeat = (over: Record<string, unknown>) => ({
      receivedAt: 1000,
      heartbeat: { seq: 1, sentAtMs: 1000, gateway: { state: 'GATEWAY_STATE_RUNNING', ready: true, failing: [], runtime: 'placeholder', version: 'none', restartCount: 0, lastError: '', eventLoopDelayMs: 0, rssBytes: 0, degradedSecretOwners: [], pid: 1, startedAtMs: 0 }, resources: null, sync: null, secretsVersion: '', usage: null, paused: false, ...over },
    });
    const reason = (over: Record<string, unknown>): string =>
      evaluateHealth({ agent: { enrolledAt: 1, desiredState: 'running', lastDisconnectedAt: null }, connected: true, heartbeat: heartbeat(over) as never, heartbeatIntervalMs: 1000, now: 1000 }).reason;
    const green = reason({});
    expect(green).toMatch(/placeholder/);
    expect(doc('operations')).toContain(`\`${green}\``);
    const architecture = doc('architecture').replace(/\n/g, ' ');
    expect(architecture).toContain(`\`${green}\``);
    expect(architecture).toContain(`\`${reason({ paused: true })}\``);
  });

  it('list every flag of planes up, with hub serve’s --heal-red-after-ms among them', async () => {
    const { UP_FLAGS } = await import('../cli/up-flags.ts');
    const flags = UP_FLAGS.map((f) => f.name);
    expect(flags).toContain('heal-red-after-ms');
    const operations = doc('operations');
    const upTable = operations.slice(operations.indexOf('| `up` flag |'), operations.indexOf('\n\n', operations.indexOf('| `up` flag |')));
    const upRow = doc('api').split('\n').find((l) => l.startsWith('| `up` |')) ?? '';
    for (const flag of flags) {
      expect(upTable, flag).toContain(`--${flag}`);
      expect(upRow, flag).toContain(`--${flag}`);
    }
  });
});

// The CLI table of docs/api.md against the verbs' declarations (cli/verbs/): the same verbs, and each verb's flags both ways.
describe("docs/api.md's planes commands", () => {
  const api = readFileSync('docs/api.md', 'utf8');
  const section = api.slice(api.indexOf('### Commands'), api.indexOf('\n#', api.indexOf('### Commands') + 1));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.replace(/\\\|/g, '¦').split(' | '))
    .map(([names = '', flags = '']) => ({
      names: [...names.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string),
      flags: [...flags.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?![\w-])/g)].map((m) => m[1] as string),
    }));

  it('document every verb, and only verbs there are', async () => {
    const { VERBS } = await import('../cli/verbs/index.ts');
    const documented = rows.flatMap((r) => r.names).filter((n) => n !== 'help' && n !== '--version');
    expect([...new Set(documented)].sort()).toEqual(VERBS.map((v) => v.name).sort());
  });

  it("list each verb's flags, and no flag a verb does not take", async () => {
    const { VERBS } = await import('../cli/verbs/index.ts');
    const { allFlags } = await import('../cli/verb.ts');
    for (const v of VERBS) {
      const mine = rows.filter((r) => r.names.includes(v.name));
      const shown = new Set(mine.flatMap((r) => r.flags));
      for (const f of v.flags) expect(shown.has(`--${f.name}`) || (f.short !== undefined && shown.has(`-${f.short}`)), `${v.name} --${f.name} is not in docs/api.md`).toBe(true);
    }
    for (const r of rows) {
      const takes = VERBS.filter((v) => r.names.includes(v.name)).flatMap((v) => allFlags(v).flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]));
      for (const f of r.flags) expect(takes, `docs/api.md lists ${f} for ${r.names.join(', ')}`).toContain(f);
    }
  });
});
