import { describe, expect, it } from 'vitest';
import { isSecretKey, Logger, type LogRecord, redact, REDACTED } from './logger.ts';

describe('logger', () => {
  it('redacts secret-bearing fields at any depth but keeps counts, ids and paths', () => {
    const out = redact({
      token: 'apt1.s3cret',
      nested: { credential: 'apc1.x.y', apiKey: 'sk-1', list: [{ password: 'p' }] },
      totalTokens: 42,
      tokenId: 'tok_1',
      adminTokenFile: '/data/admin.token',
      authorization: 'Bearer x',
    }) as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toMatch(/s3cret|apc1\.x\.y|sk-1|"p"|Bearer/);
    expect(out['token']).toBe(REDACTED);
    expect(out['totalTokens']).toBe(42);
    expect(out['tokenId']).toBe('tok_1');
    expect(out['adminTokenFile']).toBe('/data/admin.token');
    expect(isSecretKey('enrollmentToken')).toBe(true);
    expect(isSecretKey('heartbeatIntervalMs')).toBe(false);
  });

  it('writes one JSON record per call with the component path of child loggers', () => {
    const records: LogRecord[] = [];
    const log = new Logger('hub', { sink: (r) => records.push(r) }).child('grpc', { agent: 'a1' });
    log.info('connected', { credential: 'apc1.secret' });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 'info', component: 'hub.grpc', msg: 'connected', agent: 'a1', credential: REDACTED });
  });
});
