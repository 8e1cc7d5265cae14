import WebSocket from 'ws';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';

export interface RpcCall {
  method: string;
  params?: Record<string, unknown>;
}

interface Frame {
  type?: string;
  id?: string;
  event?: string;
  ok?: boolean;
  payload?: unknown;
  error?: { code?: string; message?: string };
}

/**
 * One short WebSocket session with the gateway: wait for the challenge, connect
 * as a read-only operator with the shared token, run the calls in order, close.
 * Read scope only: agentd observes through this path and never changes config.
 */
export async function gatewayRpc(port: number, token: string, calls: readonly RpcCall[], timeoutMs = 10_000): Promise<unknown[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { handshakeTimeout: timeoutMs, maxPayload: 16 * 1024 * 1024 });
  const results: unknown[] = [];
  try {
    return await new Promise<unknown[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PlaneError(ErrorCode.DeadlineExceeded, `gateway RPC timed out after ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: PlaneError): void => {
        clearTimeout(timer);
        reject(err);
      };
      let next = 0;
      const sendNext = (): void => {
        const call = calls[next];
        if (!call) {
          clearTimeout(timer);
          resolve(results);
          return;
        }
        ws.send(JSON.stringify({ type: 'req', id: `r${next}`, method: call.method, params: call.params ?? {} }));
      };
      ws.on('error', (e) => fail(new PlaneError(ErrorCode.Unavailable, `gateway RPC: ${e.message}`, { cause: e })));
      ws.on('close', () => fail(new PlaneError(ErrorCode.Unavailable, 'gateway closed the RPC connection')));
      ws.on('message', (data: WebSocket.RawData) => {
        let f: Frame;
        try {
          const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
          f = JSON.parse(text) as Frame;
        } catch {
          return;
        }
        if (f.type === 'event' && f.event === 'connect.challenge') {
          ws.send(
            JSON.stringify({
              type: 'req',
              id: 'connect',
              method: 'connect',
              params: {
                minProtocol: 4,
                maxProtocol: 4,
                client: { id: 'gateway-client', version: 'agentd', platform: 'linux', mode: 'backend' },
                role: 'operator',
                scopes: ['operator.read'],
                auth: { token },
              },
            }),
          );
          return;
        }
        if (f.type !== 'res') return;
        if (f.id === 'connect') {
          if (!f.ok) return fail(new PlaneError(ErrorCode.Unauthenticated, `gateway refused the RPC connection: ${f.error?.code ?? ''} ${f.error?.message ?? ''}`.trim()));
          return sendNext();
        }
        if (f.id === `r${next}`) {
          if (!f.ok) return fail(new PlaneError(ErrorCode.Internal, `gateway RPC ${calls[next]?.method ?? ''} failed: ${f.error?.message ?? f.error?.code ?? 'unknown'}`));
          results.push(f.payload);
          next += 1;
          sendNext();
        }
      });
    });
  } finally {
    ws.removeAllListeners('close');
    ws.on('error', () => undefined);
    ws.terminate();
  }
}
