/** Secrets: set, list, delete an agent's secrets. Values are write-only and never on the command line. */
import { readFileSync } from 'node:fs';
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { table } from '../format.ts';
import { AGENT, PLANE, verb } from '../verb.ts';

const GROUP = 'Secrets (values are write-only: stdin, a prompt, or --from-file; never argv)';
const KEY = { name: 'KEY', help: 'the secret’s name, e.g. ANTHROPIC_API_KEY' } as const;

/**
 * A secret value from --from-file, from stdin when it is not a terminal, or from
 * a prompt with echo off. Never from argv (the process list shows argv). One
 * trailing newline is dropped: `echo KEY | planes secrets set` means KEY.
 */
async function readSecretValue(key: string, fromFile: string | undefined): Promise<Buffer> {
  let value: Buffer;
  if (fromFile) {
    try {
      value = readFileSync(fromFile);
    } catch (err) {
      throw new PlaneError(ErrorCode.InvalidArgument, `--from-file ${fromFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { where: '--from-file' });
    }
  } else if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    value = Buffer.concat(chunks);
  } else {
    value = await promptHidden(`value for ${key}: `);
  }
  if (value.at(-1) === 0x0a) value = value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
  if (value.length === 0) throw new PlaneError(ErrorCode.InvalidArgument, `no value for ${key}: pipe it on stdin, use --from-file, or type it at the prompt`, { where: 'value' });
  return value;
}

function promptHidden(question: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    const bytes: number[] = [];
    const onData = (chunk: Buffer): void => {
      for (const b of chunk) {
        if (b === 0x0d || b === 0x0a || b === 0x04) {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(Buffer.from(bytes));
          return;
        }
        if (b === 0x03) {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (b === 0x7f) bytes.pop();
        else bytes.push(b);
      }
    };
    stdin.on('data', onData);
  });
}

export const secretsSet = verb({
  name: 'secrets set',
  group: GROUP,
  summary: 'Set a secret (a new version); the agent reloads it',
  details: 'The value comes from --from-file, from stdin when it is not a terminal, or from a prompt with echo off; never from the command line. One trailing newline is dropped.',
  flags: [PLANE, AGENT, { name: 'from-file', value: 'F', help: 'read the value from this file' }],
  args: [KEY],
  calls: ['PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}'],
  async run({ values: v, args, out, hub }) {
    const key = args.KEY ?? '';
    const value = await readSecretValue(key, v['from-file']);
    const r = await hub.call('PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}', {
      params: { planeId: v.plane, agentId: v.name, name: key },
      body: { value: value.toString('base64'), encoding: 'base64' },
    });
    value.fill(0);
    if (out.json) out.printJson(r);
    else out.print(`${v.name}: ${key} set (version ${r.secret.version}); the agent reloads it`);
    return ExitCode.Ok;
  },
});

export const secretsList = verb({
  name: 'secrets list',
  group: GROUP,
  summary: "Table of the agent's secrets: name, version, kind, updated; never values",
  flags: [PLANE, AGENT],
  calls: ['GET /v1/planes/{planeId}/agents/{agentId}/secrets'],
  async run({ values: v, out, hub }) {
    const r = await hub.call('GET /v1/planes/{planeId}/agents/{agentId}/secrets', { params: { planeId: v.plane, agentId: v.name } });
    if (out.json) out.printJson(r);
    else out.print(table(['NAME', 'VERSION', 'KIND', 'UPDATED'], r.secrets.map((x) => [x.name, String(x.version), x.kind, new Date(x.updatedAt).toISOString()])));
    return ExitCode.Ok;
  },
});

export const secretsDelete = verb({
  name: 'secrets delete',
  group: GROUP,
  summary: 'Delete a secret and every version; exit 3 if there is none',
  flags: [PLANE, AGENT],
  args: [KEY],
  calls: ['DELETE /v1/planes/{planeId}/agents/{agentId}/secrets/{name}'],
  async run({ values: v, args, out, hub }) {
    const key = args.KEY ?? '';
    const r = await hub.call('DELETE /v1/planes/{planeId}/agents/{agentId}/secrets/{name}', { params: { planeId: v.plane, agentId: v.name, name: key } });
    if (out.json) out.printJson(r);
    else out.print(`${v.name}: deleted ${key}`);
    return ExitCode.Ok;
  },
});
