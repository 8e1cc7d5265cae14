import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from './helpers/browser.ts';
import { TestFleet, waitUntil } from './helpers/fleet.ts';

// The admin console in a real Chromium against a real hub and real agentd
// processes (placeholder runtime). Screenshots land in test-artifacts/console/;
// UPDATE_CONSOLE_DOCS=1 also copies them into docs/console/.
const PLANE = 'acme';
const AGENTS = ['alice', 'bob', 'carol'];
const HEARTBEAT_MS = 1000;
const CANARY = `canary-${Math.random().toString(36).slice(2)}-do-not-show`;

/** What a stream (SSE, NDJSON) sends in its first `ms`, read with the page's session cookie; the socket is then dropped. */
function readStream(url: string, cookie: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = get(url, { headers: { cookie, 'accept-encoding': 'identity' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    setTimeout(() => {
      req.destroy();
      resolve(text);
    }, ms);
  });
}

describe('admin console in Chromium', () => {
  const fleet = new TestFleet({ heartbeatIntervalMs: HEARTBEAT_MS });
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;
  let page: Page;
  let viewerToken = '';
  let origin = '';
  /** Every request the page made, every response body it could read, for the origin and canary checks. */
  const requests: string[] = [];
  const bodies: Array<{ url: string; text: string }> = [];
  const pageErrors: string[] = [];

  const shot = async (name: string): Promise<void> => {
    const file = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (process.env['UPDATE_CONSOLE_DOCS'] === '1') {
      mkdirSync('docs/console', { recursive: true });
      copyFileSync(file, join('docs/console', `${name}.png`));
    }
  };
  const signIn = async (token: string): Promise<void> => {
    await page.goto(`${origin}/console/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('tr[data-agent]').first().waitFor();
  };
  const signOut = async (): Promise<void> => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
  };
  const go = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  const row = (name: string) => page.locator(`tr[data-agent="${PLANE}/${name}"]`);
  const readDownload = async (d: Download): Promise<string> => readFileSync(await d.path(), 'utf8');

  beforeAll(async () => {
    await fleet.start();
    origin = new URL(fleet.endpoints.apiUrl).origin;
    await fleet.createPlane(PLANE);
    for (const n of AGENTS) await fleet.addAgent(PLANE, n);
    for (const n of AGENTS) await fleet.waitFor(PLANE, n, (a) => a.health.color === 'green');
    // A secret whose value must never reach the browser.
    const put = await fleet.api('PUT', `/v1/planes/${PLANE}/agents/alice/secrets/CANARY_KEY`, { value: CANARY });
    expect(put.status).toBe(200);
    viewerToken = fleet.hub.context.apiTokens.create('dash', 'viewer').token;
    ({ context, close: closeBrowser } = await launchChromium());
    page = await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => {
      const type = r.headers()['content-type'] ?? '';
      // Streams (SSE, NDJSON logs) never end while the page is open; they are read below from Node.
      if (type.includes('event-stream') || type.includes('ndjson')) return;
      r.text().then(
        (text) => bodies.push({ url: r.url(), text }),
        () => undefined,
      );
    });
  }, 120_000);

  afterAll(async () => {
    await closeBrowser?.();
    await fleet.destroy();
  });

  it('serves the console with a strict CSP and security headers, from the hub itself', async () => {
    const res = await fetch(`${origin}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    // No inline script: every <script> has a src on this origin.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect([...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1])).toEqual([expect.stringMatching(/^\/console\/assets\/index-[\w-]+\.js$/)]);
  });

  it('signs in as a viewer: the fleet is shown, no action button, and the API refuses a viewer’s change', async () => {
    await signIn(viewerToken);
    await expect.poll(() => page.locator('tr[data-agent]').count()).toBe(AGENTS.length);
    await expect.poll(() => page.locator('.who').textContent()).toContain('viewer');
    await shot('fleet-viewer');
    await row('bob').getByRole('link', { name: 'bob' }).click();
    await page.getByRole('heading', { name: 'Live state' }).waitFor();
    expect(await page.getByRole('button', { name: 'Restart' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Remove agent' }).count()).toBe(0);
    // The same call an admin's button makes, from the viewer's signed-in page: 403.
    const status = await page.evaluate(async (path) => {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-planes-csrf': '1' }, body: '{}' });
      return r.status;
    }, `/v1/planes/${PLANE}/agents/bob/restart`);
    expect(status).toBe(403);
    await go('Audit');
    await page.getByText('needs the admin role').waitFor();
    await signOut();
  });

  it('signs in as an admin and restarts an agent from its page; the restart reaches the agent', async () => {
    await signIn(fleet.adminToken);
    await shot('fleet');
    const before = await fleet.agent(PLANE, 'bob');
    const restarts = before.heartbeat?.heartbeat.gateway?.restartCount ?? 0;
    await row('bob').getByRole('link', { name: 'bob' }).click();
    await page.getByRole('heading', { name: 'Live state' }).waitFor();
    await page.getByRole('button', { name: 'Restart' }).click();
    await page.getByText('restart: succeeded').waitFor({ timeout: 40_000 });
    // agentd restarted its supervised child: the next heartbeats count one more restart.
    await fleet.waitFor(PLANE, 'bob', (a) => (a.heartbeat?.heartbeat.gateway?.restartCount ?? 0) > restarts, 20_000);
    await page.locator('tr[data-command="restart"]').first().waitFor();
    await shot('agent');
  });

  it('shows an agent red on the fleet page within 3 heartbeat intervals of its agentd being killed', async () => {
    await go('Fleet');
    await expect.poll(() => row('carol').getAttribute('data-health')).toBe('green');
    const pid = fleet.agentdPid(PLANE, 'carol');
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    await row('carol').locator('.badge-red').waitFor({ timeout: 3 * HEARTBEAT_MS });
    const elapsed = Date.now() - t0;
    console.log(`console: carol red on screen ${elapsed} ms after SIGKILL (heartbeat ${HEARTBEAT_MS} ms)`);
    expect(elapsed).toBeLessThanOrEqual(3 * HEARTBEAT_MS);
    expect(await row('carol').textContent()).toContain('red');
    await page.locator('a.count-offline').click();
    await expect.poll(() => page.locator('tr[data-agent]').count()).toBe(1);
    await shot('fleet-red');
    // Bring carol back for the runs below (the provider restarts its process).
    await fleet.hub.fleet.restartAgent(PLANE, 'carol', 'instance', 'test');
    await fleet.waitFor(PLANE, 'carol', (a) => a.health.color === 'green' && a.connected, 30_000);
  });

  it('starts a restart run and an upgrade from the actions page, and shows each agent’s progress', async () => {
    await go('Actions');
    await page.getByLabel('Max concurrency').fill('1');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.locator('table.run-targets').waitFor();
    for (const n of AGENTS) await page.locator(`tr[data-agent="${n}"][data-state="succeeded"]`).waitFor({ timeout: 40_000 });
    await page.getByText(/^succeeded — 3 of 3 done/).waitFor();
    await shot('run');
    // With the placeholder runtime agentd cannot install an OpenClaw release: the canary fails (its
    // agent stays on what it ran) and the rollout stops, which the page shows agent by agent.
    await go('Actions');
    await page.getByLabel('Version').fill('2026.9.6');
    await page.getByRole('button', { name: 'Start upgrade' }).click();
    await page.locator('table.run-targets').waitFor();
    await expect.poll(() => page.locator('table.run-targets tbody tr').count()).toBe(AGENTS.length);
    await waitUntil(async () => (await page.locator('table.run-targets tr[data-state="queued"], table.run-targets tr[data-state="running"]').count()) === 0, 60_000, 'the upgrade run to finish');
    const targets = page.locator('table.run-targets tbody tr');
    const states: Array<[string | null, string | null, string | null]> = [];
    for (let i = 0; i < (await targets.count()); i++) {
      const t = targets.nth(i);
      states.push([await t.getAttribute('data-agent'), await t.getAttribute('data-state'), await t.locator('td').nth(1).textContent()]);
    }
    expect(states.filter(([, , wave]) => wave === 'canary')).toHaveLength(1);
    for (const [, state] of states) expect(['succeeded', 'failed', 'skipped']).toContain(state);
    await shot('upgrade');
  });

  it('exports the audit log as JSON and CSV with the actions just made, and verifies the chain', async () => {
    await go('Audit');
    await page.locator('table.audit tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await page.getByText(/chain intact/).waitFor();
    await shot('audit');
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
    const events = (JSON.parse(await readDownload(json)) as { events: Array<{ action: string; actor: string; agent: string | null }> }).events;
    expect(events).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: 'command.restart', actor: 'token:admin', agent: 'bob' }),
      expect.objectContaining({ action: 'run.restart', actor: 'token:admin' }),
      expect.objectContaining({ action: 'run.upgrade', actor: 'token:admin' }),
      expect.objectContaining({ action: 'console.sign-in', actor: 'token:dash' }),
    ]));
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const text = await readDownload(csv);
    expect(text.split('\n')[0]).toBe('id,time,actor,action,plane,agent,outcome,detail,hash');
    expect(text).toMatch(/,token:admin,command\.restart,acme,bob,ok,/);
  });

  it('shows the cost and hub health pages', async () => {
    await go('Cost');
    await page.locator('figure.chart svg').waitFor();
    await page.locator('table.cost tbody tr').first().waitFor();
    await shot('cost');
    await go('Hub health');
    await page.locator('tr[data-check="database"]').waitFor();
    expect(await page.locator('tr[data-check] .badge-red').count()).toBe(0);
    await shot('hub');
  });

  it('keeps to its origin and never shows the canary secret or a token in pages, responses or storage', async () => {
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
    const secrets = [CANARY, fleet.adminToken, viewerToken];
    for (const b of bodies) for (const s of secrets) expect(b.text.includes(s), `${b.url} carries a secret`).toBe(false);
    // Evaluated in the page (a string: the test's own types have no DOM).
    const stored = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, html: document.documentElement.outerHTML })');
    for (const s of secrets) expect(stored.includes(s)).toBe(false);
    // The cookie is HttpOnly: the page's script cannot read it.
    expect((JSON.parse(stored) as { cookie: string }).cookie).toBe('');
    const cookies = await context.cookies(origin);
    expect(cookies).toEqual([expect.objectContaining({ name: 'planes_session', httpOnly: true, sameSite: 'Strict' })]);
    // The streams the page reads, opened with the page's own session: no secret either.
    const cookie = `planes_session=${cookies[0]?.value ?? ''}`;
    for (const path of ['/v1/console/events?topic=fleet', `/v1/console/events?topic=agent&plane=${PLANE}&agent=alice`, `/v1/planes/${PLANE}/agents/alice/logs?lines=500`]) {
      const text = await readStream(`${origin}${path}`, cookie, 1500);
      expect(text.length, path).toBeGreaterThan(10);
      for (const s of secrets) expect(text.includes(s), path).toBe(false);
    }
    expect(pageErrors).toEqual([]);
  });
});
