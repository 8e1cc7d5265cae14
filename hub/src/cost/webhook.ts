import { sleep } from '../../../common/src/backoff.ts';
import type { Logger } from '../../../common/src/logger.ts';

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  retries: number;
}

/**
 * POSTs one JSON document, retrying (0.5 s, 1 s, 2 s, ...) on a network error,
 * a timeout or a non-2xx answer. Never throws: a failed delivery is logged and
 * reported as false. Logs name the host only, since webhook URLs often carry a
 * token in their path.
 */
export async function postWebhook(o: WebhookOptions, body: unknown, log: Logger, signal?: AbortSignal): Promise<boolean> {
  const host = new URL(o.url).host;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (signal?.aborted) return false;
    let problem: string;
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      problem = `answered ${res.status}`;
    } catch (err) {
      problem = (err as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (err as Error).message;
    }
    log.warn('budget webhook delivery failed', { host, attempt: attempt + 1, of: o.retries + 1, problem });
    if (attempt < o.retries && !(await sleep(500 * 2 ** attempt, signal))) return false;
  }
  return false;
}
