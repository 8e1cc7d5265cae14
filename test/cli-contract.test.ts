import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERBS } from '../cli/verbs/index.ts';
import { TestFleet } from './helpers/fleet.ts';

// Each verb declares the REST calls it makes (its client refuses any other); the hub must serve each one.
describe('the REST calls the planes verbs declare', () => {
  const fleet = new TestFleet({ localRuntime: 'placeholder' });
  let served: Set<string>;

  beforeAll(async () => {
    await fleet.start();
    const doc = (await (await fetch(`${fleet.endpoints.apiUrl}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    served = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
  });
  afterAll(() => fleet.destroy());

  it('are routes in the hub’s OpenAPI document', () => {
    expect(served.size).toBeGreaterThan(30);
    const calls = VERBS.flatMap((v) => v.calls.map((c) => ({ verb: v.name, call: c })));
    expect(calls.length).toBeGreaterThanOrEqual(VERBS.length);
    for (const { verb, call } of calls) expect(served.has(call), `planes ${verb}: ${call}`).toBe(true);
  });

  it('are declared by every verb that talks to a hub', () => {
    for (const v of VERBS) expect(v.calls.length, v.name).toBeGreaterThan(0);
  });
});
