import { createHmac, randomUUID } from 'node:crypto';
import { sleep } from '../../../common/src/backoff.ts';
import type { Logger } from '../../../common/src/logger.ts';

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  retries: number;
  /** Signs each delivery (HMAC-SHA256) so the receiver can tell the hub's posts from anyone else's. */
  signingSecret?: string;
}

/** The signature header's value for a body sent at `timestamp` (Unix seconds): `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * POSTs one JSON document, retrying (0.5 s, 1 s, 2 s, ...) on a network error,
 * a timeout or a non-2xx answer. Never throws: a failed delivery is logged and
 * reported as false. Logs name the host only, since webhook URLs often carry a
 * token in their path.
 *
 * Every attempt carries `x-agents-plane-delivery` (one id for all retries of a
 * delivery, so a receiver can drop repeats) and `x-agents-plane-timestamp`;
 * with a signing secret also `x-agents-plane-signature` over both the
 * timestamp and the body, so a receiver can refuse forged or replayed posts.
 */
export async function postWebhook(o: WebhookOptions, body: unknown, log: Logger, signal?: AbortSignal): Promise<boolean> {
  const host = new URL(o.url).host;
  const text = JSON.stringify(body);
  const delivery = randomUUID();
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (signal?.aborted) return false;
    let problem: string;
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-agents-plane-delivery': delivery,
          'x-agents-plane-timestamp': String(timestamp),
          ...(o.signingSecret ? { 'x-agents-plane-signature': webhookSignature(o.signingSecret, timestamp, text) } : {}),
        },
        body: text,
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
