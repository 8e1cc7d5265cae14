import type { AgentRuntimeSpec } from '../../../common/src/agent-spec.ts';

/**
 * Messaging channels agentd renders into openclaw.json: the secret each needs
 * from the agent's namespace, and the channel block that points OpenClaw at the
 * file agentd writes it to (a 0600 file on tmpfs, removed at stop; OpenClaw
 * reads channel tokens from files, and refuses symlinks there). A channel in the
 * spec without its secret is left out and reported pending; one agentd does not
 * know yet is reported pending with no secret to set.
 */
const CHANNELS: Readonly<Record<string, { secret: string; config: (file: string) => Record<string, unknown> }>> = {
  // New DMs need pairing approval by the owner (OpenClaw's default), never open.
  telegram: { secret: 'TELEGRAM_BOT_TOKEN', config: (file) => ({ enabled: true, tokenFile: file, dmPolicy: 'pairing' }) },
};

/** Secret names the spec's known channels need. */
export function channelSecrets(spec: AgentRuntimeSpec): string[] {
  return [...new Set(spec.channels.flatMap((c) => (CHANNELS[c] ? [CHANNELS[c].secret] : [])))];
}

/** The `channels` block for the channels whose secret file exists (`files`: secret name -> path). */
export function renderChannels(spec: AgentRuntimeSpec, files: ReadonlyMap<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of spec.channels) {
    const known = CHANNELS[c];
    const file = known ? files.get(known.secret) : undefined;
    if (known && file) out[c] = known.config(file);
  }
  return out;
}

/** Channels in the spec that are not rendered, each with why. */
export function pendingChannels(spec: AgentRuntimeSpec, has: (secret: string) => boolean): { channel: string; reason: string }[] {
  return spec.channels.flatMap((c) => {
    const known = CHANNELS[c];
    if (!known) return [{ channel: c, reason: 'not supported by this agentd yet' }];
    return has(known.secret) ? [] : [{ channel: c, reason: `secret ${known.secret} not set` }];
  });
}
