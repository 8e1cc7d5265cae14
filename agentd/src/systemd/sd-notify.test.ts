import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '../../../common/src/backoff.ts';
import { Logger, type LogRecord } from '../../../common/src/logger.ts';
import { SdNotifier, sanitizeStatus } from './sd-notify.ts';

// Node cannot bind an AF_UNIX datagram socket, so the stand-in for PID 1 is a
// few lines of Python: one JSON line per datagram. Received fds (the barrier
// systemd-notify sends) are closed, which is the acknowledgement it waits for.
const RECEIVER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"data": data.decode("utf-8", "replace")}), flush=True)
`;

const haveBinary = (process.env['PATH'] ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, 'systemd-notify')));

let dir: string;
let receiver: ChildProcess | undefined;
let datagrams: string[];
let logs: LogRecord[];
const notifiers: SdNotifier[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdn-test-'));
  datagrams = [];
  logs = [];
});
afterEach(async () => {
  for (const n of notifiers.splice(0)) n.close();
  const r = receiver;
  receiver = undefined;
  if (r && r.exitCode === null && r.signalCode === null) {
    const gone = new Promise((resolve) => r.once('exit', resolve));
    r.kill('SIGKILL');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Binds the fake notify socket; resolves with its path once it accepts datagrams. */
async function startReceiver(): Promise<string> {
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  receiver = child;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('receiver did not bind within 10 s')), 10_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { bound?: boolean; data?: string };
      if (msg.bound) {
        clearTimeout(t);
        resolve();
      } else if (msg.data !== undefined && msg.data !== 'BARRIER=1') {
        datagrams.push(msg.data);
      }
    });
  });
  return path;
}

function notifier(env: NodeJS.ProcessEnv, binary?: string): SdNotifier {
  const log = new Logger('test', { sink: (r) => logs.push(r) });
  const n = new SdNotifier({ log, env: { PATH: process.env['PATH'], ...env }, ...(binary === undefined ? {} : { binary }) });
  notifiers.push(n);
  return n;
}

/** The datagram's lines as a map (systemd's KEY=VALUE newline format). */
function fieldsOf(datagram: string): Record<string, string> {
  return Object.fromEntries(datagram.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; datagrams: ${JSON.stringify(datagrams)}`);
    await sleep(10);
  }
}

const watchdogPings = (): number => datagrams.filter((d) => fieldsOf(d)['WATCHDOG'] === '1').length;

// systemd-notify ships with Debian's systemd package, on every machine this project targets; a
// missing binary is a broken test machine, not a reason to skip.
describe('SdNotifier against a fake notify socket', () => {
  it('has the systemd-notify binary to test against', () => {
    expect(haveBinary, 'install Debian package systemd (provides /usr/bin/systemd-notify)').toBe(true);
  });

  it('ready() sends READY=1, the status and our pid as MAINPID', async () => {
    const n = notifier({ NOTIFY_SOCKET: await startReceiver() });
    expect(n.enabled).toBe(true);
    await n.ready('gateway ready');
    await until(() => datagrams.length >= 1);
    expect(fieldsOf(datagrams[0]!)).toEqual({ MAINPID: String(process.pid), READY: '1', STATUS: 'gateway ready' });
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('status() skips a repeat of the last text and sanitizes what it sends', async () => {
    const n = notifier({ NOTIFY_SOCKET: await startReceiver() });
    await n.status('connecting');
    await n.status('connecting');
    await n.status('gateway\nready\r\n  now');
    await n.status('gateway ready now');
    await n.status('connecting');
    await until(() => datagrams.length >= 3);
    await sleep(200);
    expect(datagrams.map((d) => fieldsOf(d)['STATUS'])).toEqual(['connecting', 'gateway ready now', 'connecting']);
  });

  it('stopping() sends STOPPING=1 after what was sent before it', async () => {
    const n = notifier({ NOTIFY_SOCKET: await startReceiver() });
    const readySent = n.ready();
    await n.stopping('draining');
    await readySent;
    await until(() => datagrams.length >= 2);
    expect(fieldsOf(datagrams[0]!)['READY']).toBe('1');
    expect(fieldsOf(datagrams[1]!)).toEqual({ MAINPID: String(process.pid), STOPPING: '1', STATUS: 'draining' });
  });

  it('pings WATCHDOG=1 at half of WATCHDOG_USEC while healthy, and stops when unhealthy', async () => {
    const n = notifier({ NOTIFY_SOCKET: await startReceiver(), WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) });
    expect(n.watchdogIntervalMs).toBe(100);
    let healthy = true;
    n.startWatchdog(() => healthy);
    const t0 = Date.now();
    await until(() => watchdogPings() >= 4);
    // Four pings (the first is immediate) need about 300 ms; allow a slow, shared host.
    expect(Date.now() - t0).toBeLessThan(3000);
    await sleep(500);
    // ~100 ms apart: bounded above by the timer rate, whatever the load.
    const elapsed = Date.now() - t0;
    expect(watchdogPings()).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);

    healthy = false;
    await sleep(400); // lets a ping already in flight land
    const afterUnhealthy = watchdogPings();
    await sleep(600);
    expect(watchdogPings()).toBe(afterUnhealthy);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('withholding watchdog'))).toBe(true);

    healthy = true;
    await until(() => watchdogPings() > afterUnhealthy);
    n.close();
    n.close();
    await sleep(400);
    const afterClose = watchdogPings();
    await sleep(400);
    expect(watchdogPings()).toBe(afterClose);
  });

  it('sends nothing and is disabled without NOTIFY_SOCKET', async () => {
    await startReceiver();
    const n = notifier({ WATCHDOG_USEC: '200000' });
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeUndefined();
    await n.ready('gateway ready');
    await n.status('x');
    await n.stopping();
    n.startWatchdog(() => true);
    await sleep(400);
    expect(datagrams).toEqual([]);
    // systemd-notify would have failed without a socket: a warning would prove it ran.
    expect(logs).toEqual([]);
  });
});

describe('SdNotifier failures and configuration', () => {
  it('resolves and warns once when the binary is missing', async () => {
    const n = notifier({ NOTIFY_SOCKET: join(dir, 'notify.sock') }, join(dir, 'no-such-systemd-notify'));
    await expect(n.ready('gateway ready')).resolves.toBeUndefined();
    await expect(n.status('still here')).resolves.toBeUndefined();
    await expect(n.stopping()).resolves.toBeUndefined();
    const warns = logs.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ msg: expect.stringContaining('systemd notification failed') as unknown, fields: ['READY', 'STATUS'] });
    expect(String(warns[0]!['reason'])).toContain('ENOENT');
  });

  it('resolves and warns once when the binary exits non-zero', async () => {
    const n = notifier({ NOTIFY_SOCKET: join(dir, 'notify.sock') }, 'false');
    await n.ready();
    await n.stopping();
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('arms the watchdog only for this process', () => {
    const socket = { NOTIFY_SOCKET: join(dir, 'notify.sock') };
    expect(notifier({ ...socket, WATCHDOG_USEC: '30000000' }).watchdogIntervalMs).toBe(15_000);
    expect(notifier({ ...socket, WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) }).watchdogIntervalMs).toBeUndefined();
    expect(notifier({ ...socket, WATCHDOG_USEC: 'soon' }).watchdogIntervalMs).toBeUndefined();
    expect(notifier(socket).watchdogIntervalMs).toBeUndefined();
  });

  it('keeps STATUS to one bounded line', () => {
    expect(sanitizeStatus('  a\tb\r\nc\u0000d  ')).toBe('a b c d');
    const long = sanitizeStatus('x'.repeat(1000));
    expect(Array.from(long)).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
  });
});
