/**
 * Console benchmark: a real hub process with N simulated agents (gRPC, in
 * worker processes, as bench:hub), and Debian's Chromium loading the console's
 * fleet page. Prints the first render of the full table (the page's own
 * performance mark, measured from navigation start by the Performance API) and
 * the bytes that crossed the network for it (Chrome DevTools Protocol), with
 * the browser cache off so every load is a first visit.
 *
 *   npm run bench:console -- [--agents 1000] [--runs 5] [--interval-ms 5000] [--json]
 *
 * Exits non-zero if agents fail to connect or the page never shows every agent.
 */
import { get } from 'node:http';
import { createGunzip, gzipSync } from 'node:zlib';
import { benchArgs, benchMain } from './bench-main.ts';
import { launchChromium } from '../helpers/browser.ts';
import { percentile, round } from './proc-stats.ts';
import { cleanup, hubLogTail, PLANE, progress, setProgressPrefix, sleep, startSimulatedFleet } from './sim-fleet.ts';

const USAGE = 'usage: node test/bench/console-bench.ts [--agents N] [--runs N] [--interval-ms MS] [--workers N] [--timeout-s S] [--json]';

interface Options {
  agents: number;
  runs: number;
  intervalMs: number;
  workers: number;
  concurrency: number;
  timeoutS: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values, num } = benchArgs(
    argv,
    USAGE,
    {
      agents: { type: 'string', default: '1000' },
      runs: { type: 'string', default: '5' },
      'interval-ms': { type: 'string', default: '5000' },
      workers: { type: 'string', default: '2' },
      'timeout-s': { type: 'string', default: '900' },
      json: { type: 'boolean', default: false },
    },
  );
  return {
    agents: num('agents', 1),
    runs: num('runs', 1),
    intervalMs: num('interval-ms', 100),
    workers: num('workers', 1),
    concurrency: 16,
    timeoutS: num('timeout-s', 10),
    json: values['json'] === true,
  };
}

interface Load {
  firstRenderMs: number;
  rows: number;
  /** Bytes received per kind of request until the first render (compressed, as on the wire). */
  bytes: Record<string, number>;
}

interface Report {
  agents: number;
  runs: Load[];
  firstRenderMs: { cold: number; median: number; max: number };
  transferKb: Record<string, number>;
  snapshot: { jsonKb: number; gzipKb: number };
  baseline: { agentsListKb: number; agentsListGzipKb: number };
  fleetApiMs: number;
  ok: boolean;
  failures: string[];
  warnings: string[];
}

const kb = (n: number): number => round(n / 1024);

/**
 * Bytes on the wire of the fleet feed up to the end of its snapshot, as the
 * browser gets them (gzip): Chromium reports an EventSource's messages, not its bytes.
 */
function feedSnapshotBytes(url: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/v1/console/events`, { headers: { cookie, 'accept-encoding': 'gzip' } }, (res) => {
      let wire = 0;
      let text = '';
      const gunzip = createGunzip();
      res.on('data', (b: Buffer) => (wire += b.length));
      res.pipe(gunzip);
      gunzip.on('data', (b: Buffer) => {
        text += b.toString('utf8');
        if (text.startsWith('event: snapshot') && text.includes('\n\n')) {
          req.destroy();
          resolve(wire + JSON.stringify(res.headers).length);
        }
      });
    });
    req.on('error', reject);
  });
}

async function run(o: Options): Promise<Report> {
  const failures: string[] = [];
  const warnings: string[] = [];
  setProgressPrefix('console-bench');
  const fleet = await startSimulatedFleet(o, failures);
  // One interval so every agent has heartbeated and shows its real state.
  await sleep(o.intervalMs + 1000);

  // Baselines in the same run: what the console reads, and what the existing REST list of the same agents weighs.
  const t0 = performance.now();
  const snapshot = await fleet.api.call<{ rows: unknown[] }>('GET', '/v1/console/fleet');
  const fleetApiMs = round(performance.now() - t0);
  const snapJson = Buffer.from(JSON.stringify(snapshot));
  const list = Buffer.from(JSON.stringify(await fleet.api.call('GET', `/v1/planes/${PLANE}/agents`)));
  if (snapshot.rows.length !== o.agents) failures.push(`GET /v1/console/fleet has ${snapshot.rows.length}/${o.agents} rows`);

  const token = (await import('node:fs')).readFileSync(fleet.info.adminTokenFile, 'utf8').trim();
  const signIn = await fetch(`${fleet.info.apiUrl}/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-planes-csrf': '1' }, body: JSON.stringify({ token }) });
  const session = /planes_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
  if (!session) throw new Error(`console sign-in failed: HTTP ${signIn.status}`);

  const feedBytes = await feedSnapshotBytes(fleet.info.apiUrl, `planes_session=${session}`);
  const browser = await launchChromium();
  const loads: Load[] = [];
  try {
    await browser.context.addCookies([{ name: 'planes_session', value: session, url: fleet.info.apiUrl, httpOnly: true, sameSite: 'Strict' }]);
    for (let i = 0; i < o.runs; i++) {
      const page = await browser.context.newPage();
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      const kindOf = new Map<string, string>();
      const bytes: Record<string, number> = {};
      let counting = true;
      cdp.on('Network.requestWillBeSent', (e) => {
        const url = e.request.url;
        kindOf.set(e.requestId, url.includes('/v1/console/events') ? 'fleet feed' : url.endsWith('.js') ? 'js' : url.endsWith('.css') ? 'css' : url.includes('/console/') ? 'html' : 'api');
      });
      cdp.on('Network.dataReceived', (e) => {
        const k = kindOf.get(e.requestId) ?? 'other';
        if (counting && k !== 'fleet feed') bytes[k] = (bytes[k] ?? 0) + e.encodedDataLength;
      });
      await page.goto(`${fleet.info.apiUrl}/console/`);
      // A function, not a string: the page's CSP forbids eval, which a string predicate needs.
      await page.waitForFunction(() => performance.getEntriesByName('fleet-rendered').length > 0, undefined, { timeout: 60_000, polling: 50 });
      counting = false;
      const mark = await page.evaluate<{ at: number; rows: number; dom: number; steps: Record<string, number> }>(
        '(() => { const at = (n) => Math.round(performance.getEntriesByName(n)[0]?.startTime ?? NaN); const js = performance.getEntriesByType("resource").find((r) => r.name.endsWith(".js")); return { at: performance.getEntriesByName("fleet-rendered")[0].startTime, rows: performance.getEntriesByName("fleet-rendered")[0].detail.rows, dom: document.querySelectorAll("tr[data-agent]").length, steps: { js: Math.round(js?.responseEnd ?? NaN), session: at("session-known"), snapshot: at("fleet-snapshot"), rendered: at("fleet-rendered") } }; })()',
      );
      progress(`  steps (ms from navigation start): ${JSON.stringify(mark.steps)}`);
      if (mark.rows !== o.agents) failures.push(`load ${i + 1}: the page has ${mark.rows}/${o.agents} agents`);
      bytes['fleet feed'] = feedBytes;
      loads.push({ firstRenderMs: round(mark.at), rows: mark.rows, bytes });
      progress(`load ${i + 1}/${o.runs}: first render ${round(mark.at)} ms, ${mark.rows} agents (${mark.dom} rows drawn), ${kb(Object.values(bytes).reduce((s, b) => s + b, 0))} KB`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  const times = loads.map((l) => l.firstRenderMs).sort((a, b) => a - b);
  const transfer: Record<string, number> = {};
  for (const l of loads) for (const [k, v] of Object.entries(l.bytes)) transfer[k] = (transfer[k] ?? 0) + v / loads.length;
  const median = percentile(times, 50);
  if (median > 1000) warnings.push(`median first render ${median} ms is over the 1 s target`);
  return {
    agents: o.agents,
    runs: loads,
    firstRenderMs: { cold: loads[0]?.firstRenderMs ?? NaN, median, max: times.at(-1) ?? NaN },
    transferKb: Object.fromEntries(Object.entries(transfer).map(([k, v]) => [k, kb(v)])),
    snapshot: { jsonKb: kb(snapJson.length), gzipKb: kb(gzipSync(snapJson).length) },
    baseline: { agentsListKb: kb(list.length), agentsListGzipKb: kb(gzipSync(list).length) },
    fleetApiMs,
    ok: failures.length === 0,
    failures,
    warnings,
  };
}

function figureLines(r: Report): string[] {
  const total = Object.values(r.transferKb).reduce((s, v) => s + v, 0);
  return [
    `console fleet page, ${r.agents} agents: first render median ${r.firstRenderMs.median} ms (first load ${r.firstRenderMs.cold} ms, slowest ${r.firstRenderMs.max} ms, ${r.runs.length} loads, cache off)`,
    `  transferred until then: ${round(total)} KB (${Object.entries(r.transferKb)
      .map(([k, v]) => `${k} ${v} KB`)
      .join(', ')})`,
    `  fleet snapshot: ${r.snapshot.jsonKb} KB of JSON, ${r.snapshot.gzipKb} KB gzipped; GET /v1/console/fleet took ${r.fleetApiMs} ms at the hub` +
      ` | the REST list of the same agents (GET /v1/planes/${PLANE}/agents): ${r.baseline.agentsListKb} KB, ${r.baseline.agentsListGzipKb} KB gzipped (${round(r.baseline.agentsListKb / Math.max(0.001, r.snapshot.jsonKb))}x the snapshot)`,
  ];
}

benchMain({ parseOptions, run, figureLines, cleanup, progress, hubLogTail });
