import { type Static, Type } from '@sinclair/typebox';

/** A price in USD: bounded, so no sum of prices overflows to Infinity in a cost report. */
const Usd = Type.Number({ minimum: 0, maximum: 1_000_000 });

/** USD per million tokens for one model, as OpenClaw's `models[].cost` takes them. */
export const ModelPrice = Type.Object(
  {
    input: Usd,
    output: Usd,
    cacheRead: Type.Optional(Usd),
    cacheWrite: Type.Optional(Usd),
  },
  { additionalProperties: false },
);
export type ModelPrice = Static<typeof ModelPrice>;

/**
 * What the hub charges for. Every field is optional so a plane (or the hub's
 * options) can override single entries; `resolvePriceTable` merges them over
 * the defaults.
 */
export const PriceTableOverrides = Type.Object(
  {
    /** USD per hour a machine of this type runs, by machine type ("e2-small"). */
    machineHourlyUsd: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Usd)),
    /** USD per GB of disk per month (730 hours). */
    diskGbMonthUsd: Type.Optional(Usd),
    /**
     * Model prices by "provider/model". When a model is listed here the hub prices
     * its tokens itself; otherwise it uses the cost OpenClaw reports.
     */
    modelPerMTokUsd: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 200 }), ModelPrice)),
  },
  { additionalProperties: false },
);
export type PriceTableOverrides = Static<typeof PriceTableOverrides>;

export interface PriceTable {
  machineHourlyUsd: Readonly<Record<string, number>>;
  diskGbMonthUsd: number;
  modelPerMTokUsd: Readonly<Record<string, ModelPrice>>;
}

export const HOURS_PER_MONTH = 730;

/**
 * Defaults: Google Compute Engine on-demand list prices for us-central1 as we
 * chose them (rounded, without sustained-use or committed-use discounts, and
 * without network egress). They are estimates for attribution, not a bill:
 * override them per hub (`prices` option) or per plane (`costs.prices`).
 */
export const DEFAULT_PRICES: PriceTable = Object.freeze({
  machineHourlyUsd: Object.freeze({
    'e2-micro': 0.0084,
    'e2-small': 0.0168,
    'e2-medium': 0.0335,
    'e2-standard-2': 0.067,
    'e2-standard-4': 0.134,
    'e2-standard-8': 0.2681,
    'n2-standard-2': 0.0971,
    'n2-standard-4': 0.1942,
    'n2-standard-8': 0.3885,
  }),
  // pd-balanced
  diskGbMonthUsd: 0.1,
  // No model prices by default: OpenClaw prices tokens with the prices it knows or is configured with.
  modelPerMTokUsd: Object.freeze({}),
});

/** Defaults, then the hub's overrides, then the plane's: later entries win key by key. */
export function resolvePriceTable(...layers: Array<PriceTableOverrides | undefined>): PriceTable {
  let t: PriceTable = { machineHourlyUsd: { ...DEFAULT_PRICES.machineHourlyUsd }, diskGbMonthUsd: DEFAULT_PRICES.diskGbMonthUsd, modelPerMTokUsd: {} };
  for (const l of layers) {
    if (!l) continue;
    t = {
      machineHourlyUsd: { ...t.machineHourlyUsd, ...(l.machineHourlyUsd ?? {}) },
      diskGbMonthUsd: l.diskGbMonthUsd ?? t.diskGbMonthUsd,
      modelPerMTokUsd: { ...t.modelPerMTokUsd, ...(l.modelPerMTokUsd ?? {}) },
    };
  }
  return t;
}

export interface TokenDelta {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** USD for tokens at a listed price. */
export function priceTokens(p: ModelPrice, t: TokenDelta): number {
  return (t.inputTokens * p.input + t.outputTokens * p.output + t.cacheReadTokens * (p.cacheRead ?? 0) + t.cacheWriteTokens * (p.cacheWrite ?? 0)) / 1_000_000;
}

/** USD for `seconds` of one machine with its disk; undefined when the machine type has no price. */
export function priceMachine(t: PriceTable, machineType: string, diskSizeGb: number, seconds: number): number | undefined {
  const hourly = t.machineHourlyUsd[machineType];
  if (hourly === undefined) return undefined;
  const hours = seconds / 3600;
  return hours * hourly + hours * diskSizeGb * (t.diskGbMonthUsd / HOURS_PER_MONTH);
}
