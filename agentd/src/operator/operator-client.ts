import { request } from 'node:http';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';

/** GET on agentd's operator socket. Streams the body to `onData` when given, else returns it. */
export function operatorGet(socketPath: string, path: string, onData?: (chunk: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (onData ? onData(c) : (body += c)));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 400) reject(new PlaneError(ErrorCode.Internal, `agentd answered ${res.statusCode}: ${body.trim()}`));
        else resolve(body);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'is agentd running?' : err.code === 'EACCES' ? 'run as the agentd user or root' : err.message;
      reject(new PlaneError(ErrorCode.Unavailable, `cannot open agentd's socket ${socketPath}: ${why}`, { cause: err }));
    });
    req.end();
  });
}
