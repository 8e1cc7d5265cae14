/**
 * agentd's watch on a Spot VM's instance/preempted, against the metadata
 * stand-in flipping the value (helpers/gce-standin.ts serves it with ETags and
 * wait_for_change, as the metadata server does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../common/src/logger.ts';
import { GceMetadata } from '../agentd/src/gce-metadata.ts';
import { PreemptionWatch } from '../agentd/src/preemption-watch.ts';
import { GceStandin } from './helpers/gce-standin.ts';
import { waitUntil } from './helpers/fleet.ts';

const log = new Logger('test', { sink: () => undefined });

describe('PreemptionWatch', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('holds one request open until instance/preempted turns TRUE, then calls back once', async () => {
    const standin = await new GceStandin().start();
    let fired = 0;
    const watch = new PreemptionWatch(new GceMetadata({ host: standin.host }), log, () => fired++, { timeoutSec: 30 });
    cleanup.push(async () => {
      await watch.stop();
      await standin.close();
    });
    watch.start();
    // The first read, then one held wait_for_change: no polling however long nothing happens.
    await waitUntil(() => standin.preemptedRequests === 2, 5000, 'the held request');
    await new Promise((r) => setTimeout(r, 300));
    expect(standin.preemptedRequests).toBe(2);
    expect(fired).toBe(0);
    standin.preempted = true;
    await waitUntil(() => fired === 1, 5000, 'the callback');
    standin.preempted = false;
    standin.preempted = true;
    await new Promise((r) => setTimeout(r, 200));
    expect(fired).toBe(1);
  });

  it('sees a VM preempted before agentd started, and retries quietly where there is no metadata server', async () => {
    const standin = await new GceStandin().start();
    standin.preempted = true;
    let fired = 0;
    const watch = new PreemptionWatch(new GceMetadata({ host: standin.host }), log, () => fired++);
    watch.start();
    await waitUntil(() => fired === 1, 5000, 'the callback');
    await watch.stop();
    await standin.close();
    const offGce = new PreemptionWatch(new GceMetadata({ host: '127.0.0.1:1', timeoutMs: 200 }), log, () => fired++, { retryDelayMs: 20 });
    offGce.start();
    await new Promise((r) => setTimeout(r, 300));
    await offGce.stop();
    expect(fired).toBe(1);
  });
});
