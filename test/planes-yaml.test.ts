import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseFile, fuzzCases, type HostileCase, hostileCases } from './helpers/hostile-yaml.ts';
import { run, TestFleet } from './helpers/fleet.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const PLANE = 'hostile';
const base = baseFile(readFileSync('examples/planes.yaml', 'utf8'), PLANE);

// The real CLI against a real hub: every hostile file exits 2 with one line naming file:line, and the plane stays as it was.
describe('planes apply with hostile or huge planes.yaml', () => {
  const fleet = new TestFleet({ localRuntime: 'placeholder' });
  const dir = mkdtempSync(join(tmpdir(), 'planes-hostile-'));
  const planes = (...args: string[]): Promise<Run> => run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });

  /**
   * What apply could change: the plane's export, and every agent's owner, spec and desired state.
   * (Not updatedAt: a reconnect under load moves it too.)
   */
  const state = async (): Promise<unknown> => {
    const exported = await fleet.api('GET', `/v1/planes/${PLANE}/export`);
    const agents = await fleet.api<{ agents: Array<{ id: string; name: string; owner: string; spec: unknown; desiredState: string }> }>('GET', `/v1/planes/${PLANE}/agents`);
    return { exported: exported.body, agents: agents.body.agents.map((a) => ({ id: a.id, name: a.name, owner: a.owner, spec: a.spec, desiredState: a.desiredState })) };
  };
  let before: unknown;

  beforeAll(async () => {
    await fleet.start();
    const f = join(dir, 'base.yaml');
    writeFileSync(f, base);
    const applied = await planes('apply', '-f', f);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // Settled: enrolled and green, so nothing but an apply would change the agents from here.
    for (const a of ['alice-agent', 'bob-agent', 'carol-agent']) await fleet.waitFor(PLANE, a, (x) => x.health.color === 'green', 60_000);
    before = await state();
  });
  afterAll(async () => {
    await fleet.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const expectRefused = (c: HostileCase, path: string, r: Run): void => {
    const why = `${c.name}: exit ${r.code}\n${r.stderr}${r.stdout}`;
    expect(r.code, why).toBe(2);
    expect(r.stdout, why).toBe('');
    expect(r.stderr, why).toMatch(new RegExp(`^planes: ${path}:${c.line}:\\d+ [^\\n]+\\n$`));
    expect(r.stderr, why).toMatch(c.says);
    expect(r.stderr, why).not.toMatch(/^\s+at /m);
  };

  // A new seed each run widens what is tried over time; PLANES_FUZZ_SEED=N repeats a run.
  const seed = Number(process.env['PLANES_FUZZ_SEED'] ?? Date.now() % 100_000);
  const cases = [...hostileCases(base).filter((c) => !c.viaStdin), ...fuzzCases(base, seed, 12)];

  it(`refuses ${cases.length} hostile files (fuzz seed ${seed}), each with exit 2 and one line naming file:line, and leaves the plane as it was`, async () => {
    const queue = cases.map((c, i) => ({ c, path: join(dir, `case-${i}.yaml`) }));
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { c, path } = next;
        if (c.write) c.write(path);
        else writeFileSync(path, c.bytes as Buffer);
        expectRefused(c, path, await planes('apply', '-f', path));
        rmSync(path);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const after = await state();
    expect(JSON.stringify(after, null, 1)).toBe(JSON.stringify(before, null, 1));
  }, 300_000);

  it('refuses 50 MB through a pipe after reading at most the limit', async () => {
    const fifo = join(dir, 'planes.fifo');
    await run('mkfifo', [fifo]);
    const cli = planes('apply', '-f', fifo);
    const out = createWriteStream(fifo);
    out.on('error', () => undefined); // EPIPE once the CLI stops reading
    const piece = Buffer.from(`    - name: x\n      owner: x@acme.example\n`.repeat(32 * 1024));
    let sent = 0;
    let done = false;
    void cli.then(() => (done = true));
    while (!done && !out.destroyed && sent < 50 * 1024 * 1024) {
      const more = out.write(piece);
      sent += piece.length;
      if (!more) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), cli]);
    }
    out.destroy();
    expectRefused({ name: 'fifo', line: 1, says: /the file is longer than 4\.0 MiB; .* reading stopped there/ }, fifo, await cli);
    expect(sent).toBeLessThan(50 * 1024 * 1024);
  });

  it('planes up and planes create --config read files the same way', async () => {
    const f = join(dir, 'bomb.yaml');
    const bomb = hostileCases(base).find((c) => c.name === 'alias bomb') as HostileCase;
    writeFileSync(f, bomb.bytes as Buffer);
    for (const r of [await planes('up', '-f', f, '--data-dir', join(dir, 'up-data')), await planes('create', '--config', f)]) {
      expectRefused(bomb, f, r);
    }
  });

  it('owners are checked the same way when they come through the REST API or CLI flags', async () => {
    const bad = await fleet.api<{ error: { code: string; message: string; where: string } }>('POST', `/v1/planes/${PLANE}/agents`, { name: 'mallory', ownerEmail: '<script>@x.example' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_argument', where: 'body.ownerEmail' });
    expect(bad.body.error.message).toMatch(/must be an email address/);
    const patch = await fleet.api('PATCH', `/v1/planes/${PLANE}/agents/bob-agent`, { ownerEmail: 'bob\uFFFD@acme.example' });
    expect(patch.status).toBe(400);
    const doc = JSON.parse(JSON.stringify(before)) as { exported: { document: { spec: { agents: Array<{ owner: string }> } } } };
    const document = doc.exported.document;
    (document.spec.agents[0] as { owner: string }).owner = '"alice smith"@acme.example';
    expect((await fleet.api('POST', `/v1/planes/${PLANE}/plan`, { document })).status).toBe(400);
    // Bytes that are not UTF-8 in a JSON body arrive as U+FFFD, which no address holds.
    const raw = await fetch(`${fleet.endpoints.apiUrl}/v1/planes/${PLANE}/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"name":"mallory","ownerEmail":"mal'), Buffer.from([0xff, 0xfe]), Buffer.from('@x.example"}')]),
    });
    expect(raw.status).toBe(400);
    const cli = await planes('add-agent', '--plane', PLANE, '--name', 'mallory', '--owner', 'mallory@[192.0.2.1]');
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toMatch(/^planes: body\.ownerEmail must be an email address/m);
    expect(await state()).toEqual(before);
  });
});
