import type { ChannelOptions } from '@grpc/grpc-js';

/**
 * The name every hub server certificate carries and every agent verifies,
 * whatever address it dials. Agents pin the hub CA from their bundle, so the
 * name is the hub's identity within that CA; dialling by IP then needs no IP
 * in the TLS server name (which RFC 6066 forbids and Node warns about).
 */
export const HUB_TLS_NAME = 'agents-plane-hub';

export function hubChannelOptions(extra: ChannelOptions = {}): ChannelOptions {
  return { 'grpc.ssl_target_name_override': HUB_TLS_NAME, 'grpc.default_authority': HUB_TLS_NAME, ...extra };
}
