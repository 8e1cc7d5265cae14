// A run's target states in words, shared by the fleet table, the runs lists and a run's page.

/** Each target state as an admin reads it; `unknown` and `not-delivered` come from a hub that stopped mid-run. */
const WORDS: Record<string, string> = {
  'timed-out': 'timed out',
  'not-delivered': 'not delivered: nothing ran',
  unknown: "unknown: waiting for the agent's report",
};
export const targetStateText = (state: string): string => WORDS[state] ?? state;


type Summary = Partial<Record<string, number>>;
const n = (s: Summary, k: string): number => s[k] ?? 0;

/** Targets whose outcome is known: an `unknown` one is not (its agent has yet to say whether its command ran). */
export const settledCount = (s: Summary): number => n(s, 'succeeded') + n(s, 'failed') + n(s, 'timedOut') + n(s, 'notDelivered') + n(s, 'skipped');

/** A run's counts in words: ok and failed always, the other states when there are any. */
export function runCounts(s: Summary): string {
  const parts = [`${n(s, 'succeeded')} ok`, `${n(s, 'failed')} failed`];
  const more: Array<[string, string]> = [
    ['timedOut', 'timed out'],
    ['notDelivered', 'not delivered'],
    ['unknown', 'unknown'],
    ['skipped', 'skipped'],
    ['running', 'running'],
    ['queued', 'queued'],
  ];
  for (const [k, word] of more) if (n(s, k) > 0) parts.push(`${n(s, k)} ${word}`);
  return parts.join(', ');
}
