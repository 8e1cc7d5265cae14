/**
 * `planes up -f planes.yaml`: the main job on embedded defaults. The verb is
 * declared here; what it runs (a hub in this process) is in ../up.ts, loaded
 * only when `up` runs, so that no other command loads the hub.
 */
import { UP_CALLS, UP_FLAGS } from '../up-flags.ts';
import { verb } from '../verb.ts';

export const up = verb({
  name: 'up',
  group: 'Embedded',
  summary: "Run a hub in this process and bring up the file's plane; Ctrl-C stops it",
  details: 'Model keys in the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, XAI_API_KEY) become each agent’s secret. State stays in --data-dir.',
  flags: UP_FLAGS,
  calls: UP_CALLS,
  hubFlags: false,
  async run(ctx) {
    const { runUp } = await import('../up.ts');
    return runUp(ctx.values, ctx.connect);
  },
});
