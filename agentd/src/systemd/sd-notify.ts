import { execFile } from 'node:child_process';
import type { Logger } from '../../../common/src/logger.ts';

/**
 * The sd_notify protocol for a Type=notify agentd: READY, STATUS, STOPPING and
 * watchdog pings.
 *
 * Node has no AF_UNIX datagram sockets (dgram is UDP only), so every message is
 * sent by running the systemd-notify binary with `--pid=<agentd pid>`. Unit
 * requirements:
 *  - NotifyAccess=all: unless agentd runs as root, the datagram carries the
 *    credentials of the systemd-notify child, not of the main PID, and
 *    NotifyAccess=main would drop it.
 *  - WatchdogSec=: systemd exports it as WATCHDOG_USEC; we ping at half of it.
 *    Keep it well above the 5 s systemd-notify may wait for the manager's
 *    acknowledgement (e.g. WatchdogSec=30s).
 *
 * No --no-block: the blocking mode ends with a barrier that keeps the child
 * alive until PID 1 has read the message; an unprivileged sender that exits
 * first cannot be attributed to the unit and its message is ignored.
 *
 * STATUS is shown by `systemctl status` to anyone on the host: pass short state
 * text only ("gateway ready"), never a token, URL with credentials, or config.
 */
export interface SdNotifierOptions {
  log: Logger;
  /** Default process.env. Read once, in the constructor. */
  env?: NodeJS.ProcessEnv;
  /** Default 'systemd-notify', looked up on PATH. */
  binary?: string;
}

// Bounds systemd-notify's own 5 s barrier wait, plus spawn time on a loaded host.
const SEND_TIMEOUT_MS = 10_000;
const MAX_STATUS_CHARS = 200;

export class SdNotifier {
  /** NOTIFY_SOCKET is set: we run under systemd with Type=notify. */
  readonly enabled: boolean;
  /** Ping period (half of WATCHDOG_USEC); undefined when no watchdog is armed for this process. */
  readonly watchdogIntervalMs: number | undefined;
  readonly #log: Logger;
  readonly #binary: string;
  readonly #env: Record<string, string>;
  // Sends are serialized so systemd sees them in call order (READY before STOPPING).
  #queue: Promise<void> = Promise.resolve();
  #lastStatus: string | undefined;
  #failing = false;
  #timer: NodeJS.Timeout | undefined;
  #pingInFlight = false;
  #withheld = false;

  constructor(options: SdNotifierOptions) {
    const env = options.env ?? process.env;
    this.#log = options.log;
    this.#binary = options.binary ?? 'systemd-notify';
    const socket = env['NOTIFY_SOCKET'];
    this.enabled = socket !== undefined && socket !== '';
    // The child needs only the socket and a PATH to find the binary; nothing else of ours.
    this.#env = { NOTIFY_SOCKET: socket ?? '', PATH: env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    this.watchdogIntervalMs = this.enabled ? watchdogInterval(env) : undefined;
  }

  /** READY=1, optionally with a status line. */
  async ready(status?: string): Promise<void> {
    await this.#send(['READY=1', ...this.#statusField(status, true)]);
  }

  /** STATUS=text; skipped when the text is the same as the last one sent. Short state text only: it is public. */
  async status(text: string): Promise<void> {
    const fields = this.#statusField(text, false);
    if (fields.length > 0) await this.#send(fields);
  }

  /** STOPPING=1, optionally with a status line. */
  async stopping(status?: string): Promise<void> {
    await this.#send(['STOPPING=1', ...this.#statusField(status, true)]);
  }

  /**
   * Pings WATCHDOG=1 every watchdogIntervalMs, but only while isHealthy() says
   * so: a wedged agentd stops pinging and systemd restarts it. A blocked event
   * loop stops the timer itself, which has the same effect.
   */
  startWatchdog(isHealthy: () => boolean): void {
    const interval = this.watchdogIntervalMs;
    if (interval === undefined) return;
    this.close();
    const tick = (): void => {
      let healthy: boolean;
      try {
        healthy = isHealthy();
      } catch (err) {
        this.#log.warn('health check threw; treating as unhealthy', { error: err });
        healthy = false;
      }
      if (!healthy) {
        if (!this.#withheld) this.#log.warn('unhealthy: withholding watchdog pings; systemd will restart agentd if this persists');
        this.#withheld = true;
        return;
      }
      if (this.#withheld) this.#log.info('healthy again: resuming watchdog pings');
      this.#withheld = false;
      // A ping still waiting for the manager is as good as this one.
      if (this.#pingInFlight) return;
      this.#pingInFlight = true;
      void this.#send(['WATCHDOG=1'], () => this.#timer === timer).finally(() => {
        this.#pingInFlight = false;
      });
    };
    const timer = setInterval(tick, interval);
    // The watchdog must not keep a stopping agentd alive.
    timer.unref();
    this.#timer = timer;
    tick();
  }

  /** Stops the watchdog timer. Idempotent. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** STATUS= field for text, or none (unset, empty after sanitizing, or a repeat when dedupe is on). */
  #statusField(text: string | undefined, always: boolean): string[] {
    if (text === undefined || !this.enabled) return [];
    const clean = sanitizeStatus(text);
    if (clean === '' || (!always && clean === this.#lastStatus)) return [];
    this.#lastStatus = clean;
    return [`STATUS=${clean}`];
  }

  /** Never rejects: a notification failure must not take the daemon down. */
  #send(fields: string[], stillWanted: () => boolean = () => true): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const next = this.#queue.then(() => (stillWanted() ? this.#run(fields) : undefined));
    this.#queue = next;
    return next;
  }

  #run(fields: string[]): Promise<void> {
    const args = [`--pid=${process.pid}`, ...fields];
    return new Promise((resolve) => {
      execFile(this.#binary, args, { env: this.#env, timeout: SEND_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        if (!err) {
          if (this.#failing) this.#log.info('systemd notification works again', { binary: this.#binary });
          this.#failing = false;
        } else {
          // Once per outage: a missing binary must not log on every watchdog tick.
          const reason = stderr.trim().split('\n')[0] || err.message;
          const fieldsSent = fields.map((f) => f.slice(0, f.indexOf('=')));
          if (this.#failing) this.#log.debug('systemd notification failed', { binary: this.#binary, fields: fieldsSent, reason });
          else this.#log.warn('systemd notification failed; continuing without it', { binary: this.#binary, fields: fieldsSent, reason });
          this.#failing = true;
        }
        resolve();
      });
    });
  }
}

/**
 * WATCHDOG_USEC halved, in ms. WATCHDOG_PID names the process the watchdog is
 * for; when it is another one (we were started by a wrapper), not us.
 */
function watchdogInterval(env: NodeJS.ProcessEnv): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const pid = env['WATCHDOG_PID'];
  if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** One line of printable text, whitespace collapsed, at most MAX_STATUS_CHARS. */
export function sanitizeStatus(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  const chars = Array.from(line);
  return chars.length <= MAX_STATUS_CHARS ? line : `${chars.slice(0, MAX_STATUS_CHARS - 1).join('')}…`;
}
