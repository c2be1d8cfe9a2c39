/**
 * The worker side of the page ⇄ worker protocol (src/api/protocol.ts): owns one Machine and the
 * MachineRunner that drives it, loads the images, batches console output and reports events.
 * It imports no DOM and no xterm; the worker entry (./vm-worker.ts) exposes it with comlink, and
 * Node tests drive it directly or through a MessageChannel.
 *
 * Console output: the UART hands over a fresh Uint8Array per CPU slice; chunks are queued and
 * flushed once per runner slice (a microtask after `machine.run()` returns), as one transferred
 * buffer. Input typed before the machine exists is kept and fed to it when it is built.
 *
 * Idle: the runner sleeps while the guest is halted with nothing pending (no timer, no input),
 * so an idle guest leaves the worker idle; `busyMs` in the stats counts the host time spent in
 * guest code, which is how the page and the tests see it.
 *
 * Disk: the guest's /dev/vda over a copy-on-write overlay (./disk.ts), read lazily; its overlay is
 * saved when the guest flushes (./overlay-store.ts, IndexedDB when the worker has it) and
 * restored by the next create() with the same image. The machine's `onWake` pokes the runner
 * when a disk read completes while the guest sleeps.
 *
 * Network: `net` plugs one virtio-net card (eth0) into a BroadcastChannel, a WebSocket relay or
 * nothing (./net.ts); the backend is closed when the machine is replaced or stopped. A frame
 * that arrives for a sleeping guest wakes the runner (the machine's `onWake`).
 *
 * Not supported: more than one disk or network card; reset() after an emulator error (the machine's state is
 * suspect: create a new one); more than one machine.
 */
import { transfer } from 'comlink';
import { describeBzImage, parseBzImage } from '../machine/bzimage.ts';
import { DEFAULT_CMDLINE, Machine, type MachineConfig, type RunResult } from '../machine/machine.ts';
import { MachineRunner, type RunnerEvent } from '../machine/runner.ts';
import type { ImageKind, MachineInfo, VmWorkerApi, WorkerEvent, WorkerMachineConfig, WorkerState, WorkerStats } from '../api/protocol.ts';
import { loadImage } from './images.ts';
import { WorkerDisk } from './disk.ts';
import { formatMac, type NetBackend } from '../devices/net/backend.ts';
import { describeNet, macFromConfig, openNet } from './net.ts';
import { IndexedDbOverlayStore, MemoryOverlayStore, type OverlayStore } from './overlay-store.ts';

export interface VmHostOptions {
  /** Where disk overlays are saved (default: IndexedDB if the worker has it, else memory). */
  store?: OverlayStore;
  /** The fetch for URL disk images (tests). */
  fetch?: typeof fetch;
}

/** A Machine that counts the host time spent running guest code. */
class TimedMachine extends Machine {
  busyMs = 0;

  override run(sliceMs?: number): RunResult {
    const t0 = performance.now();
    try {
      return super.run(sliceMs);
    } finally {
      this.busyMs += performance.now() - t0;
    }
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class VmHost implements VmWorkerApi {
  private listener: ((event: WorkerEvent) => unknown) | undefined;
  private machine: TimedMachine | undefined;
  private runner: MachineRunner | undefined;
  private state: WorkerState = 'empty';
  /** Bumped by create(): events of a replaced machine are dropped. */
  private generation = 0;
  /** Resolves when the current runner loop has ended. */
  private finished: Promise<RunnerEvent> | undefined;
  private serial: Uint8Array[] = [];
  private serialBytes = 0;
  private flushQueued = false;
  /** Input that arrived before the machine existed. */
  private pendingInput: Uint8Array[] = [];
  /** Cancels the downloads of the create() in progress. */
  private loading: AbortController | undefined;
  private disk: WorkerDisk | undefined;
  /** The network card's backend, closed with its machine. */
  private net: NetBackend | undefined;
  private readonly store: OverlayStore;
  private readonly fetch: typeof fetch | undefined;

  constructor(options: VmHostOptions = {}) {
    this.store = options.store ?? (typeof indexedDB === 'undefined' ? new MemoryOverlayStore() : new IndexedDbOverlayStore());
    this.fetch = options.fetch;
  }

  subscribe(listener: (event: WorkerEvent) => unknown): void {
    this.listener = listener;
  }

  private emit(event: WorkerEvent): void {
    const listener = this.listener;
    if (!listener) return;
    try {
      const r = event.type === 'serial/output' ? listener(transfer(event, [event.data.buffer])) : listener(event);
      if (r instanceof Promise) r.catch(() => {}); // the page went away: nothing to tell
    } catch {
      // A listener that throws must not stop the machine.
    }
  }

  private queueSerial(generation: number, chunk: Uint8Array): void {
    if (generation !== this.generation || chunk.length === 0) return;
    this.serial.push(chunk);
    this.serialBytes += chunk.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flushSerial());
    }
  }

  private flushSerial(): void {
    this.flushQueued = false;
    if (this.serial.length === 0) return;
    let data: Uint8Array;
    const first = this.serial[0]!;
    if (this.serial.length === 1 && first.byteOffset === 0 && first.byteLength === first.buffer.byteLength) {
      data = first;
    } else {
      data = new Uint8Array(this.serialBytes);
      let at = 0;
      for (const c of this.serial) {
        data.set(c, at);
        at += c.length;
      }
    }
    this.serial = [];
    this.serialBytes = 0;
    this.emit({ type: 'serial/output', data });
  }

  /** Stops and forgets the current machine. */
  private dispose(): void {
    this.generation++;
    this.loading?.abort();
    this.loading = undefined;
    this.runner?.stop();
    this.runner = undefined;
    // The old machine's disk requests in flight must not touch its memory any more.
    for (const t of this.machine?.virtio ?? []) t.model.reset?.();
    this.machine = undefined;
    this.disk = undefined;
    this.closeNet();
    this.finished = undefined;
    this.serial = [];
    this.serialBytes = 0;
  }

  private closeNet(): void {
    try {
      this.net?.close?.();
    } catch {
      // Already closed.
    }
    this.net = undefined;
  }

  async create(config: WorkerMachineConfig): Promise<MachineInfo> {
    this.dispose();
    const generation = this.generation;
    this.state = 'loading';
    const loading = new AbortController();
    this.loading = loading;
    try {
      const load = (kind: ImageKind, source: WorkerMachineConfig['kernel'] | undefined) =>
        source === undefined
          ? Promise.resolve(undefined)
          : loadImage(
              source,
              kind,
              (loaded, total) => {
                if (generation === this.generation) this.emit({ type: 'image/progress', image: kind, loaded, total });
              },
              loading.signal,
            );
      const log = (line: string) => {
        if (generation === this.generation) this.emit({ type: 'machine/log', line });
      };
      const openDisk = async (): Promise<WorkerDisk | undefined> => {
        if (config.disk === undefined) return undefined;
        const overlay = await load('disk', config.diskOverlay);
        return WorkerDisk.open(config.disk, {
          store: this.store,
          overlay,
          persist: config.persistDisk,
          log,
          signal: loading.signal,
          fetch: this.fetch,
          onSaved: (chunks, bytes) => {
            if (generation === this.generation) this.emit({ type: 'disk/saved', chunks, bytes });
          },
        });
      };
      // A bad network setting fails before anything is downloaded.
      if (config.net !== undefined) describeNet(config.net);
      const mac = macFromConfig(config.mac);
      const openNic = () => (config.net === undefined ? Promise.resolve(undefined) : openNet(config.net, loading.signal));
      let kernel: Uint8Array | undefined, initrd: Uint8Array | undefined, disk: WorkerDisk | undefined;
      let nic: Awaited<ReturnType<typeof openNic>>;
      const nicPromise = openNic();
      try {
        [kernel, initrd, disk, nic] = await Promise.all([load('kernel', config.kernel), load('initrd', config.initrd), openDisk(), nicPromise]);
      } catch (e) {
        loading.abort(); // one part failed: the others are not needed
        nicPromise.then((n) => n?.backend.close?.(), () => {});
        throw e;
      } finally {
        if (this.loading === loading) this.loading = undefined;
      }
      if (generation !== this.generation) {
        nic?.backend.close?.();
        throw new Error('a newer create() replaced this machine');
      }
      this.net = nic?.backend;
      if (!kernel) throw new Error('no kernel given');
      const image = parseBzImage(kernel); // BzImageError: a sentence the user can act on
      const cmdline = config.cmdline ?? DEFAULT_CMDLINE;
      const machineConfig: MachineConfig = {
        kernel,
        initrd,
        cmdline,
        ramSize: config.ramSize,
        bootProtocol: config.bootProtocol,
        deterministic: config.deterministic,
        serialOutput: (chunk) => this.queueSerial(generation, chunk),
        log,
        disks: disk ? [{ backend: disk.base, overlay: disk.overlay, readOnly: config.diskReadOnly }] : [],
        nics: nic ? [{ backend: nic.backend, mac }] : [],
      };
      const machine = new TimedMachine(machineConfig);
      this.machine = machine;
      this.disk = disk;
      const runner = new MachineRunner(machine);
      this.runner = runner;
      // A disk read that completes while the guest sleeps wakes the runner.
      machine.onWake = () => runner.poke();
      this.state = 'created';
      for (const bytes of this.pendingInput) machine.sendInput(bytes);
      this.pendingInput = [];
      if (disk) {
        const restored = disk.restoredChunks ? `, ${disk.restoredChunks} changed blocks restored` : '';
        log(`disk: ${disk.name} (${disk.base.size} bytes) on /dev/vda${config.diskReadOnly ? ', read-only' : ''}${restored}`);
      }
      const card = machine.nics[0];
      if (nic && card) log(`net: eth0 (${formatMac(card.mac)}) on ${nic.name}`);
      return {
        kernel: describeBzImage(image),
        kernelBytes: kernel.length,
        initrdBytes: initrd?.length ?? 0,
        ramSize: machine.ramSize,
        cmdline,
        ...(disk
          ? {
              disk: {
                name: disk.name,
                bytes: disk.base.size,
                readOnly: config.diskReadOnly === true,
                persistent: disk.persistent,
                restoredChunks: disk.restoredChunks,
              },
            }
          : {}),
        ...(nic && card ? { net: { name: nic.name, mac: formatMac(card.mac) } } : {}),
      };
    } catch (e) {
      if (generation === this.generation) {
        this.closeNet();
        this.state = 'empty';
      }
      // A plain Error crosses comlink with its name and message intact.
      const error = new Error(messageOf(e));
      error.name = e instanceof Error ? e.name : 'Error';
      throw error;
    }
  }

  start(): void {
    const runner = this.runner;
    if (!runner) throw new Error('there is no machine: create() one first');
    if (this.state !== 'created') return; // running, paused or ended: start() has nothing to do
    const generation = this.generation;
    this.state = runner.isPaused ? 'paused' : 'running';
    this.finished = runner.start().then((end) => {
      if (generation !== this.generation) return end;
      this.flushSerial(); // the last output goes out before the event that ends the run
      if (end.type === 'poweroff') {
        this.state = 'poweroff';
        this.emit({ type: 'machine/poweroff' });
      } else if (end.type === 'error') {
        this.state = 'error';
        this.emit({ type: 'machine/error', message: end.message });
      } else {
        this.state = 'stopped';
        this.emit({ type: 'machine/stopped' });
      }
      return end;
    });
  }

  pause(): void {
    this.runner?.pause();
    if (this.state === 'running') this.state = 'paused';
  }

  resume(): void {
    this.runner?.resume();
    if (this.state === 'paused') this.state = 'running';
  }

  async reset(): Promise<void> {
    const machine = this.machine;
    if (!machine) throw new Error('there is no machine: create() one first');
    if (this.state === 'error') throw new Error('the emulator failed; reset cannot repair that: create a new machine');
    const ended = this.state === 'poweroff' || this.state === 'stopped';
    if (ended) await this.finished;
    if (machine !== this.machine) return; // replaced while we waited
    machine.reset();
    if (ended) {
      this.state = 'created';
      this.start();
    } else {
      this.runner?.poke(); // the old boot's timers are gone: the runner re-reads the deadline
    }
  }

  stop(): void {
    this.runner?.stop();
    this.closeNet();
  }

  sendInput(bytes: Uint8Array): void {
    if (this.runner) this.runner.sendInput(bytes);
    else this.pendingInput.push(bytes);
  }

  async exportDiskOverlay(): Promise<Uint8Array | undefined> {
    const bytes = this.disk?.overlay.export();
    return bytes ? transfer(bytes, [bytes.buffer]) : undefined;
  }

  async discardDiskChanges(): Promise<void> {
    await this.disk?.discard();
  }

  stats(): WorkerStats {
    const machine = this.machine;
    const r = this.runner?.stats();
    return {
      state: this.state,
      instructions: machine?.instructions ?? 0,
      uptimeMs: r?.uptimeMs ?? 0,
      mips: r?.mips ?? 0,
      idle: r?.idle ?? false,
      busyMs: machine?.busyMs ?? 0,
      resets: machine?.resets ?? 0,
    };
  }
}
