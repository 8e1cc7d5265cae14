import { connect, createServer, type Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientErrorHandler } from './api-error.ts';

// Node hands these to the server's clientError listener on a real socket; the answer is written to that socket.
describe('clientErrorHandler', () => {
  let accepted: (s: Socket) => void = () => undefined;
  const server = createServer((s) => accepted(s));
  beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const answerTo = (code: string): Promise<{ head: string; body: unknown }> =>
    new Promise((resolve, reject) => {
      const err: ConnectionError = Object.assign(new Error(code), { code, bytesParsed: 0, rawPacket: { type: 'Buffer', data: [] } });
      accepted = (s) => clientErrorHandler(err, s);
      const address = server.address() as { port: number };
      const c = connect(address.port, '127.0.0.1');
      let text = '';
      c.on('data', (d) => (text += d.toString()));
      c.on('end', () => {
        const [head = '', body = ''] = text.split('\r\n\r\n');
        resolve({ head, body: JSON.parse(body) });
        c.end();
      });
      c.on('error', reject);
    });

  it('answers in the documented shape, with the status HTTP has for it', async () => {
    const overflow = await answerTo('HPE_HEADER_OVERFLOW');
    expect(overflow.head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(overflow.head).toMatch(/\r\nContent-Type: application\/json; charset=utf-8\r\n/);
    expect(overflow.body).toEqual({ error: { code: 'invalid_argument', message: 'the request line and headers are larger than 16 KiB', where: 'headers' } });
    const slow = await answerTo('ERR_HTTP_REQUEST_TIMEOUT');
    expect(slow.head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(slow.body).toEqual({ error: { code: 'deadline_exceeded', message: 'the request was not received in time', where: 'request' } });
    const garbage = await answerTo('HPE_INVALID_METHOD');
    expect(garbage.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage.body).toEqual({ error: { code: 'invalid_argument', message: 'the request is not valid HTTP/1.1', where: 'request' } });
  });
});
