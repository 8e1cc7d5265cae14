import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { MAX_SECRET_BYTES, type SecretScope, type SecretsProvider } from '../../common/src/secrets/secrets-provider.ts';

/**
 * The behaviour every secrets provider must share. Each provider's test file
 * calls this with a factory; every test uses planes of its own, so the factory
 * may hand back one shared provider or a fresh one.
 */
export function secretsProviderContract(name: string, makeProvider: () => Promise<SecretsProvider> | SecretsProvider): void {
  /** A plane name no other test uses. */
  const plane = (): string => `p${randomBytes(4).toString('hex')}`;
  const refused = async (p: Promise<unknown>, code: ErrorCode): Promise<PlaneError> => {
    const err: unknown = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the call should have been refused').toBeInstanceOf(PlaneError);
    expect((err as PlaneError).code).toBe(code);
    return err as PlaneError;
  };

  it(`${name}: reads back binary values byte for byte, with versions that increase on every set`, async () => {
    const p = await makeProvider();
    const s: SecretScope = { plane: plane(), agent: 'alice' };
    expect(await p.get(s, 'MODEL_KEY')).toBeNull();
    expect(await p.info(s, 'MODEL_KEY')).toBeNull();
    // Every byte value, NULs and invalid UTF-8 included.
    const first = Buffer.concat([Buffer.from([0, 255, 0xc3, 0x28, 10, 13]), randomBytes(1000)]);
    const t0 = Date.now();
    const set1 = await p.set(s, 'MODEL_KEY', first, 'external');
    expect(set1).toMatchObject({ name: 'MODEL_KEY', kind: 'external' });
    expect(set1.version).toBeGreaterThanOrEqual(1);
    const got1 = await p.get(s, 'MODEL_KEY');
    expect(got1?.value.equals(first)).toBe(true);
    expect(got1?.version).toBe(set1.version);

    const second = randomBytes(MAX_SECRET_BYTES);
    const set2 = await p.set(s, 'MODEL_KEY', second, 'external');
    expect(set2.version).toBe(set1.version + 1);
    const got2 = await p.get(s, 'MODEL_KEY');
    expect(got2?.value.equals(second)).toBe(true);
    expect(got2?.version).toBe(set2.version);
    const set3 = await p.set(s, 'MODEL_KEY', Buffer.from('three'), 'external');
    expect(set3.version).toBe(set2.version + 1);
    expect((await p.get(s, 'MODEL_KEY'))?.value.toString()).toBe('three');

    const i = await p.info(s, 'MODEL_KEY');
    expect(i).toEqual({ name: 'MODEL_KEY', version: set3.version, kind: 'external', createdAt: set1.createdAt, updatedAt: set3.updatedAt });
    expect(i?.createdAt).toBeGreaterThanOrEqual(t0 - 1000);
    expect(i?.updatedAt).toBeGreaterThanOrEqual(i?.createdAt ?? Infinity);
    expect(i?.updatedAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it(`${name}: lists names, versions, kinds and times of one namespace, sorted, never a value`, async () => {
    const p = await makeProvider();
    const s: SecretScope = { plane: plane(), agent: 'bob' };
    expect(await p.list(s)).toEqual([]);
    const values = { gateway_token: randomBytes(32), MODEL_KEY: Buffer.from('sk-canary-list-1234567890'), 'brain-data-key': randomBytes(32) };
    const old = await p.set(s, 'MODEL_KEY', Buffer.from('old value'), 'external');
    await p.set(s, 'MODEL_KEY', values.MODEL_KEY, 'external');
    await p.set(s, 'gateway_token', values.gateway_token, 'generated');
    await p.set(s, 'brain-data-key', values['brain-data-key'], 'generated');
    const listed = await p.list(s);
    expect(listed.map((e) => e.name)).toEqual(['MODEL_KEY', 'brain-data-key', 'gateway_token'].sort());
    for (const e of listed) {
      expect(Object.keys(e).sort()).toEqual(['createdAt', 'kind', 'name', 'updatedAt', 'version']);
      expect(e.kind).toBe(e.name === 'MODEL_KEY' ? 'external' : 'generated');
      expect(e.updatedAt).toBeGreaterThanOrEqual(e.createdAt);
      expect(e.createdAt).toBeGreaterThan(Date.now() - 60_000);
    }
    const model = listed.find((e) => e.name === 'MODEL_KEY');
    expect(model?.version).toBe(old.version + 1);
    const text = JSON.stringify(listed);
    for (const v of [...Object.values(values), Buffer.from('old value')]) {
      expect(text).not.toContain(v.toString('utf8'));
      expect(text).not.toContain(v.toString('base64'));
      expect(text).not.toContain(v.toString('hex'));
    }
  });

  it(`${name}: changing a secret's kind is recorded`, async () => {
    const p = await makeProvider();
    const s: SecretScope = { plane: plane(), agent: 'carol' };
    await p.set(s, 'TOKEN', Buffer.from('a'), 'external');
    const again = await p.set(s, 'TOKEN', Buffer.from('b'), 'generated');
    expect(again.kind).toBe('generated');
    expect((await p.info(s, 'TOKEN'))?.kind).toBe('generated');
    expect((await p.list(s)).map((e) => e.kind)).toEqual(['generated']);
  });

  it(`${name}: namespaces are isolated, including names that only differ in where a '-' falls`, async () => {
    const p = await makeProvider();
    const pl = plane();
    const a: SecretScope = { plane: pl, agent: 'alice' };
    const b: SecretScope = { plane: pl, agent: 'alice2' };
    await p.set(a, 'MODEL_KEY', Buffer.from('value of alice'), 'external');
    await p.set(b, 'MODEL_KEY', Buffer.from('value of alice2'), 'external');
    expect((await p.get(a, 'MODEL_KEY'))?.value.toString()).toBe('value of alice');
    expect((await p.get(b, 'MODEL_KEY'))?.value.toString()).toBe('value of alice2');
    expect((await p.list(a)).map((e) => e.name)).toEqual(['MODEL_KEY']);

    // plane "x", agent "y-z" against plane "x-y", agent "z"; and a third plane's same agent name.
    const x = `${pl}x`;
    const s1: SecretScope = { plane: x, agent: 'y-z' };
    const s2: SecretScope = { plane: `${x}-y`, agent: 'z' };
    const s3: SecretScope = { plane: plane(), agent: 'y-z' };
    await p.set(s1, 'K', Buffer.from('one'), 'external');
    await p.set(s2, 'K', Buffer.from('two'), 'external');
    await p.set(s2, 'z_K', Buffer.from('two, another key'), 'external');
    expect((await p.get(s1, 'K'))?.value.toString()).toBe('one');
    expect((await p.get(s2, 'K'))?.value.toString()).toBe('two');
    expect(await p.get(s3, 'K')).toBeNull();
    expect(await p.get(s1, 'z_K')).toBeNull();
    expect((await p.list(s1)).map((e) => e.name)).toEqual(['K']);
    expect((await p.list(s2)).map((e) => e.name)).toEqual(['K', 'z_K']);
    expect(await p.list(s3)).toEqual([]);

    expect(await p.deleteNamespace(s1)).toBe(1);
    expect((await p.get(s2, 'K'))?.value.toString()).toBe('two');
    expect(await p.delete(a, 'MODEL_KEY')).toBe(true);
    expect((await p.get(b, 'MODEL_KEY'))?.value.toString()).toBe('value of alice2');
  });

  it(`${name}: delete and deleteNamespace leave nothing behind, and say whether there was anything`, async () => {
    const p = await makeProvider();
    const s: SecretScope = { plane: plane(), agent: 'dave' };
    expect(await p.delete(s, 'NOPE')).toBe(false);
    expect(await p.deleteNamespace(s)).toBe(0);
    await p.set(s, 'ONE', Buffer.from('1'), 'external');
    await p.set(s, 'ONE', Buffer.from('1 again'), 'external');
    expect(await p.delete(s, 'ONE')).toBe(true);
    expect(await p.get(s, 'ONE')).toBeNull();
    expect(await p.info(s, 'ONE')).toBeNull();
    expect(await p.delete(s, 'ONE')).toBe(false);

    const names = Array.from({ length: 7 }, (_, i) => `KEY_${i}`);
    for (const n of names) await p.set(s, n, Buffer.from(`value ${n}`), 'generated');
    expect(await p.deleteNamespace(s)).toBe(names.length);
    expect(await p.list(s)).toEqual([]);
    for (const n of names) expect(await p.get(s, n)).toBeNull();
    expect(await p.deleteNamespace(s)).toBe(0);

    // A key set again after deletion starts a new secret.
    const again = await p.set(s, 'ONE', Buffer.from('new'), 'external');
    expect((await p.get(s, 'ONE'))?.value.toString()).toBe('new');
    expect(again.version).toBeGreaterThanOrEqual(1);
  });

  it(`${name}: refuses bad names, bad scopes, empty values and values over 64 KiB, storing nothing`, async () => {
    const p = await makeProvider();
    const s: SecretScope = { plane: plane(), agent: 'erin' };
    for (const bad of ['', '1KEY', 'KEY WITH SPACE', 'key/../x', 'ключ', 'K'.repeat(129), 'a.b']) {
      await refused(p.get(s, bad), ErrorCode.InvalidArgument);
      await refused(p.set(s, bad, Buffer.from('v'), 'external'), ErrorCode.InvalidArgument);
      await refused(p.info(s, bad), ErrorCode.InvalidArgument);
      await refused(p.delete(s, bad), ErrorCode.InvalidArgument);
    }
    const big = await refused(p.set(s, 'BIG', Buffer.alloc(MAX_SECRET_BYTES + 1, 0x41), 'external'), ErrorCode.InvalidArgument);
    expect(big.message).toContain(String(MAX_SECRET_BYTES + 1));
    expect(big.message).not.toContain('AAAA');
    await refused(p.set(s, 'EMPTY', Buffer.alloc(0), 'external'), ErrorCode.InvalidArgument);
    for (const scope of [{ plane: 'Bad_Plane', agent: 'erin' }, { plane: s.plane, agent: 'x_y' }, { plane: s.plane, agent: '' }]) {
      await refused(p.get(scope, 'K'), ErrorCode.InvalidArgument);
      await refused(p.set(scope, 'K', Buffer.from('v'), 'external'), ErrorCode.InvalidArgument);
      await refused(p.list(scope), ErrorCode.InvalidArgument);
      await refused(p.deleteNamespace(scope), ErrorCode.InvalidArgument);
    }
    expect(await p.list(s)).toEqual([]);
    // The largest allowed value is fine.
    await p.set(s, 'BIG', Buffer.alloc(MAX_SECRET_BYTES, 0x41), 'external');
    expect((await p.get(s, 'BIG'))?.value.length).toBe(MAX_SECRET_BYTES);
  });
}
