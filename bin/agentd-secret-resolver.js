#!/usr/bin/env node
// OpenClaw's exec SecretRef resolver for agents run by agentd. OpenClaw runs it
// with the exec protocol's request on stdin; it asks agentd over the Unix socket
// named by AGENTD_SECRETS_SOCKET (0600, agentd's user only) and prints agentd's
// answer. Values pass through memory and pipes only. No dependencies on purpose:
// it starts under the gateway's Node on every resolution.
import { connect } from 'node:net';

const socketPath = process.env.AGENTD_SECRETS_SOCKET;
if (!socketPath) {
  process.stderr.write('agentd-secret-resolver: AGENTD_SECRETS_SOCKET is not set\n');
  process.exit(2);
}
let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) {
  input += chunk;
  if (input.length > 64 * 1024) {
    process.stderr.write('agentd-secret-resolver: request larger than 64 KiB\n');
    process.exit(2);
  }
}
const request = input.replace(/\s+/g, ' ').trim();
const socket = connect(socketPath);
let answer = '';
socket.setEncoding('utf8');
socket.setTimeout(4000, () => {
  process.stderr.write('agentd-secret-resolver: agentd did not answer within 4 s\n');
  process.exit(1);
});
socket.on('connect', () => socket.write(`${request}\n`));
socket.on('data', (c) => (answer += c));
socket.on('error', (err) => {
  process.stderr.write(`agentd-secret-resolver: cannot reach agentd at ${socketPath}: ${err.code ?? err.message}\n`);
  process.exit(1);
});
socket.on('end', () => {
  process.stdout.write(answer.trim());
  process.exit(0);
});
