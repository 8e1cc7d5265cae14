import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GceStandin } from '../gce-standin.ts';
import type { StandinVm, VmLifecycle } from './compute-standin.ts';

interface Guest {
  vm: StandinVm;
  /** The VM's own metadata server. */
  metadata: GceStandin;
  /** Its boot disk: agentd's config and state dir, kept across stop/start, gone with the instance. */
  disk: string;
  agentd: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
  stderr: string;
  boots: number;
}

export interface VmFarmOptions {
  root: string;
  /** Environment for every agentd (tests shorten intervals with it). */
  env?: Record<string, string>;
  /** A Spot VM's notice: how long Google waits after instance/preempted turns TRUE (30 s in real life). */
  preemptionNoticeMs?: number;
  /** After this, a stopping guest is powered off (Compute gives a stop about 90 s). */
  shutdownGraceMs?: number;
}

/**
 * What runs inside the Compute stand-in's VMs: a real agentd process per
 * instance, booted from an image-like config (`bootstrap: gce-metadata`) with
 * its own metadata stand-in that serves the instance's metadata, an identity
 * token for this instance (signed by the one Google key the hub trusts) and
 * `instance/preempted`. Nothing else tells agentd who it is.
 *
 * Stop and delete are an ACPI shutdown (SIGTERM, then power off after the
 * grace); reset is a power cut and a boot; preemption sets instance/preempted,
 * waits out the notice for agentd to stop by itself, then stops the guest.
 */
export class VmFarm implements VmLifecycle {
  readonly keys: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  /** Serves Google's key set (certsUrl) for the hub; VMs sign with the same key. */
  readonly google = new GceStandin(this.keys);
  readonly guests = new Map<string, Guest>();
  readonly #o: VmFarmOptions;
  /** Whether each agentd stopped by itself when preempted, by instance name. */
  readonly preemptions: Array<{ name: string; exitCode: number | null; selfStopped: boolean }> = [];

  constructor(options: VmFarmOptions) {
    this.#o = options;
  }

  async start(): Promise<this> {
    await this.google.start();
    return this;
  }

  guest(name: string): Guest | undefined {
    return [...this.guests.values()].find((g) => g.vm.name === name);
  }

  async boot(vm: StandinVm): Promise<void> {
    let g = this.guests.get(vm.id);
    if (!g) {
      const disk = join(this.#o.root, `${vm.name}-${vm.id}`);
      mkdirSync(join(disk, 'state'), { recursive: true, mode: 0o700 });
      writeFileSync(
        join(disk, 'agentd.yaml'),
        `bootstrap: {source: gce-metadata}\nstateDir: ${join(disk, 'state')}\nruntime: {kind: placeholder, workspaceDir: ${join(disk, 'workspace')}}\nshutdownTimeoutMs: 10000\n`,
      );
      const metadata = await new GceStandin(this.keys).start();
      g = { vm, metadata, disk, agentd: undefined, exited: undefined, stderr: '', boots: 0 };
      this.guests.set(vm.id, g);
    }
    const guest = g;
    guest.metadata.preempted = false;
    guest.metadata.instance = { projectId: vm.project, zone: vm.zone, instanceName: vm.name, instanceId: vm.id };
    guest.metadata.attributes = Object.fromEntries(Object.entries(vm.metadata).filter(([k]) => !k.includes('/')));
    const child = spawn(process.execPath, ['bin/agentd.js', 'run', '--config', join(guest.disk, 'agentd.yaml')], {
      env: { ...process.env, ...this.#o.env, GCE_METADATA_HOST: guest.metadata.host },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => {
      guest.stderr = (guest.stderr + d.toString()).slice(-200_000);
    });
    guest.agentd = child;
    guest.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    guest.boots++;
  }

  async #powerOff(g: Guest, graceMs: number): Promise<number | null> {
    const child = g.agentd;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await g.exited;
    clearTimeout(timer);
    return code ?? null;
  }

  async halt(vm: StandinVm, why: 'stop' | 'delete' | 'preempt'): Promise<void> {
    const g = this.guests.get(vm.id);
    if (!g?.agentd) return;
    if (why === 'preempt') {
      g.metadata.preempted = true;
      const notice = this.#o.preemptionNoticeMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const selfStopped = await Promise.race([g.exited?.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), notice)))]);
      clearTimeout(timer);
      const exitCode = await this.#powerOff(g, 1000);
      this.preemptions.push({ name: vm.name, exitCode, selfStopped: selfStopped === true });
      return;
    }
    await this.#powerOff(g, this.#o.shutdownGraceMs ?? 30_000);
  }

  async reset(vm: StandinVm): Promise<void> {
    const g = this.guests.get(vm.id);
    if (g?.agentd) {
      g.agentd.kill('SIGKILL');
      await g.exited;
    }
    await this.boot(vm);
  }

  async destroyed(vm: StandinVm): Promise<void> {
    const g = this.guests.get(vm.id);
    if (!g) return;
    await this.#powerOff(g, 1000);
    await g.metadata.close();
    rmSync(g.disk, { recursive: true, force: true });
    this.guests.delete(vm.id);
  }

  /** Power everything off (the end of a test). */
  async close(): Promise<void> {
    for (const g of this.guests.values()) {
      await this.#powerOff(g, 5000);
      await g.metadata.close();
    }
    this.guests.clear();
    await this.google.close();
  }
}
