import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger, silentSink } from '../../../common/src/logger.ts';
import type { AgentMessage, CommandResult } from '../../../proto/index.ts';
import { CommandJournal, JOURNAL_MAX_ENTRIES } from '../command-journal.ts';
import { CommandRunner, type CommandSpec, LEDGER_MAX_BYTES, LEDGER_MAX_ENTRIES, LEDGER_MAX_OUTPUT_BYTES } from './command-runner.ts';

const log = new Logger('test', { sink: silentSink });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A runner over a real journal file; `sent` collects what it would send the hub. */
function runner(path: string, bootId: string, handlers: Record<string, CommandSpec['run']>): { r: CommandRunner; sent: CommandResult[]; journal: CommandJournal } {
  const journal = new CommandJournal(path);
  const sent: CommandResult[] = [];
  const r = new CommandRunner({
    journal,
    bootId,
    handlers: new Map(Object.entries(handlers)),
    send: (m: AgentMessage) => {
      if (m.commandResult) sent.push(m.commandResult);
      return true;
    },
    timeoutMs: 5000,
    log,
  });
  return { r, sent, journal };
}

const cmd = (id: string, kind: string) => ({ id, kind, argsJson: '{}', issuedAtMs: Date.now(), deadlineMs: Date.now() + 60_000 });
const journalPath = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'journal-test-'));
  dirs.push(d);
  return join(d, 'agentd.db');
};

describe('command runner: journal and ledger', () => {
  it('answers a redelivered id from the journal without running it again', async () => {
    let runs = 0;
    const { r, sent, journal } = runner(journalPath(), 'boot-1', { ping: async () => ({ n: ++runs }) });
    r.handle(cmd('cmd_a', 'ping'));
    await r.drain(5000);
    r.handle(cmd('cmd_a', 'ping'));
    expect(runs).toBe(1);
    expect(sent.map((s) => [s.status, s.outputJson])).toEqual([
      ['COMMAND_STATUS_ACCEPTED', undefined],
      ['COMMAND_STATUS_SUCCEEDED', '{"n":1}'],
      ['COMMAND_STATUS_SUCCEEDED', '{"n":1}'],
    ]);
    journal.close();
  });

  it('reports in its ledger what it did: results, one still running, one an earlier boot left unfinished; logs and large outputs left out', async () => {
    const path = journalPath();
    const first = runner(path, 'boot-1', {});
    first.journal.begin('cmd_old', 'restart', 'boot-1'); // agentd died while it ran
    first.journal.close();

    let release = (): void => undefined;
    const { r, journal } = runner(path, 'boot-2', {
      ping: async () => ({ ok: true }),
      big: async () => ({ blob: 'x'.repeat(LEDGER_MAX_OUTPUT_BYTES) }),
      fail: async () => {
        throw new Error('nope');
      },
      slow: () => new Promise((resolve) => (release = () => resolve({ done: true }))),
      logs: async () => ({ lines: 1 }),
    });
    for (const [id, kind] of [['cmd_ping', 'ping'], ['cmd_big', 'big'], ['cmd_fail', 'fail'], ['cmd_logs', 'logs']] as const) r.handle(cmd(id, kind));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.handle(cmd('cmd_slow', 'slow'));
    await new Promise((resolve) => setTimeout(resolve, 50));

    const ledger = r.ledger();
    const byId = new Map((ledger.results ?? []).map((e) => [e.commandId, e]));
    expect([...byId.keys()].sort()).toEqual(['cmd_big', 'cmd_fail', 'cmd_old', 'cmd_ping', 'cmd_slow']);
    expect(byId.get('cmd_ping')).toMatchObject({ status: 'COMMAND_STATUS_SUCCEEDED', outputJson: '{"ok":true}' });
    expect(byId.get('cmd_fail')).toMatchObject({ status: 'COMMAND_STATUS_FAILED', errorMessage: 'nope' });
    expect(byId.get('cmd_slow')).toMatchObject({ status: 'COMMAND_STATUS_ACCEPTED' });
    expect(byId.get('cmd_old')).toMatchObject({ status: 'COMMAND_STATUS_INTERRUPTED', errorCode: 'aborted' });
    expect(byId.get('cmd_big')).toMatchObject({ status: 'COMMAND_STATUS_SUCCEEDED', outputJson: '' });
    expect(ledger.outputOmitted).toEqual(['cmd_big']);
    // The interruption is recorded: a redelivery gets the same answer.
    expect(journal.get('cmd_old')?.state).toBe('done');
    release();
    await r.drain(5000);
    journal.close();
  });

  it('keeps the ledger and the journal bounded', async () => {
    const { r, journal } = runner(journalPath(), 'boot-1', { ping: async () => null });
    const total = JOURNAL_MAX_ENTRIES + 150;
    const t0 = Date.now() - total;
    for (let i = 0; i < total; i++) {
      journal.begin(`cmd_${i}`, 'ping', 'boot-1', t0 + i);
      journal.finish(`cmd_${i}`, { status: 'COMMAND_STATUS_SUCCEEDED', outputJson: 'null', errorCode: '', errorMessage: '', startedAtMs: 0, finishedAtMs: 0 });
    }
    const ledger = r.ledger();
    expect(ledger.results).toHaveLength(LEDGER_MAX_ENTRIES);
    expect(ledger.results?.[0]?.commandId).toBe(`cmd_${total - 1}`); // newest first
    // Outputs that would take the ledger past its byte budget are left out (the hub asks for them).
    for (let i = 0; i < LEDGER_MAX_ENTRIES; i++) {
      const id = `cmd_big_${i}`;
      journal.begin(id, 'ping', 'boot-1', Date.now() + i);
      journal.finish(id, { status: 'COMMAND_STATUS_SUCCEEDED', outputJson: JSON.stringify('y'.repeat(LEDGER_MAX_OUTPUT_BYTES - 10)), errorCode: '', errorMessage: 'e'.repeat(10_000), startedAtMs: 0, finishedAtMs: 0 });
    }
    const full = r.ledger();
    const size = (full.results ?? []).reduce((n, e) => n + (e.outputJson?.length ?? 0) + (e.errorMessage?.length ?? 0), 0);
    expect(size).toBeLessThanOrEqual(LEDGER_MAX_BYTES);
    expect(full.outputOmitted?.length).toBeGreaterThan(0);
    expect(full.results?.every((e) => (e.errorMessage?.length ?? 0) <= 500)).toBe(true);
    journal.prune();
    expect(journal.recent(10 * JOURNAL_MAX_ENTRIES)).toHaveLength(JOURNAL_MAX_ENTRIES);
    expect(journal.get(`cmd_${total - 1}`)).toBeDefined();
    expect(journal.get('cmd_0')).toBeUndefined();
    journal.close();
  });
});
