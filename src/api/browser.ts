/**
 * `createVM()` for the browser: the same Vm API as in Node (src/api/node.ts; console stream,
 * `waitFor`, `exec` → `{ stdout, exitCode }`, events booted/poweroff/error), with the machine
 * running in a Web Worker (src/worker/vm-worker.ts) behind the comlink protocol of
 * ./protocol.ts. The page (src/ui/main.ts) and the `<virtlite-vm>` element use it.
 *
 *   const { vm, ready } = createVM({ kernel: '/kernels/bzImage', initrd: '/kernels/initramfs.cpio' });
 *   vm.onSerial((bytes) => terminal.write(bytes));
 *   await vm.booted;
 *   const { stdout, exitCode } = await vm.exec('uname -m');
 *
 * Images: a URL (string or URL, resolved against the page's address and fetched by the worker,
 * which reports progress), a File/Blob, or bytes. Relative defaults: `kernels/bzImage` and
 * `kernels/initramfs.cpio` next to the page.
 *
 * Timing: the Vm's `booted` event counts from createVM() (downloads included);
 * `stats().uptimeMs` counts machine time from the moment the machine started running.
 *
 * Disk: `disk` (a URL read lazily with range requests, or a File/Blob) is the guest's /dev/vda;
 * what the guest writes and syncs is saved in IndexedDB and comes back on the next boot with the
 * same image (src/worker/disk.ts). `exportDiskOverlay()` / `discardDiskChanges()` on the handle.
 *
 * Network: `net` gives the guest an eth0 on a BroadcastChannel (`{ kind: 'broadcast', channel }`
 * or "broadcast:NAME": every VM of this origin on that name, in this page or in other tabs,
 * is on one Ethernet segment), on a WebSocket relay (`{ kind: 'websocket', url }` or
 * "ws://HOST:PORT/"), or on nothing ('none'). Without `net` the guest has no network card.
 * The guest configures it itself (`ifconfig eth0 10.0.0.1 up`): there is no DHCP server.
 *
 * Not supported: more than one disk or network card; sharing
 * one worker between several VMs (each createVM() starts its own worker; terminate() ends it).
 */
import { proxy, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import type { ImageKind, ImageSource, MachineInfo, NetConfig, VmWorkerApi, WorkerEvent, WorkerStats } from './protocol.ts';
import { Vm, type TransportEvent, type VmOptions, type VmTransport } from './vm.ts';

export type { DiskInfo, ImageKind, MachineInfo, NetConfig, NetInfo, WorkerEvent, WorkerStats } from './protocol.ts';
export { Vm, VmError, DEFAULT_BOOT_MARKER, type ExecResult, type VmEvent } from './vm.ts';

/** An image as a caller gives it. */
export type ImageInput = string | URL | Blob | ArrayBuffer | Uint8Array;

/** A network as a caller gives it: a NetConfig, or its text form (parseNetSpec). */
export type NetOption = NetConfig | string;

/**
 * The text form of a network, as the `net` attribute of `<virtlite-vm>` and the page's `?net=`
 * take it: "broadcast:NAME", "ws://HOST:PORT/PATH" (or wss://), or "none". Relative WebSocket
 * URLs are not accepted. Throws an Error with a readable message for anything else.
 */
export function parseNetSpec(spec: string): NetConfig {
  const text = spec.trim();
  if (text === 'none') return { kind: 'none' };
  const broadcast = /^broadcast:(.+)$/.exec(text);
  if (broadcast) return { kind: 'broadcast', channel: broadcast[1]! };
  if (/^wss?:\/\//i.test(text)) {
    try {
      return { kind: 'websocket', url: new URL(text).href };
    } catch {
      // falls through to the error below
    }
  }
  throw new Error(`network "${spec}": expected broadcast:NAME, ws://HOST:PORT/ (or wss://), or none`);
}

export const DEFAULT_KERNEL_URL = 'kernels/bzImage';
export const DEFAULT_INITRD_URL = 'kernels/initramfs.cpio';

export interface BrowserVmOptions extends VmOptions {
  /** bzImage (default: kernels/bzImage next to the page). */
  kernel?: ImageInput;
  /** initramfs (default: kernels/initramfs.cpio next to the page; null for none). */
  initrd?: ImageInput | null;
  /** A disk image, the guest's /dev/vda (a URL is read lazily with HTTP range requests). */
  disk?: ImageInput;
  /** The guest sees the disk read-only. */
  diskReadOnly?: boolean;
  /** Start from this exported overlay instead of the saved changes. */
  diskOverlay?: ImageInput;
  /** Save what the guest syncs and restore it next time (default true). */
  persistDisk?: boolean;
  /** The guest's eth0: a BroadcastChannel, a WebSocket relay or 'none' (default: no network card). */
  net?: NetOption;
  /** eth0's MAC address, "52:54:00:12:34:56" (default: random). */
  mac?: string;
  /** Kernel command line (default: the machine's). */
  cmdline?: string;
  /** Guest RAM in bytes (default 256 MiB). */
  ramSize?: number;
  bootProtocol?: 64 | 32;
  deterministic?: boolean;
  /** Start running as soon as the machine is built (default true). */
  autostart?: boolean;
  /** Every worker event (progress, machine log lines, console bytes, end of run). */
  onEvent?: (event: WorkerEvent) => void;
}

/** A VM running in a Web Worker. */
export interface BrowserVm {
  readonly vm: Vm;
  /** The worker's API, for what the Vm does not cover. */
  readonly worker: Remote<VmWorkerApi>;
  /**
   * Resolves with what the worker built once the machine exists (and runs, with autostart);
   * rejects with a readable Error for a failed download, a bad kernel or a bad setting (the Vm
   * also receives it as an `error` event).
   */
  readonly ready: Promise<MachineInfo>;
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Hardware reset: the guest boots again. */
  reset(): Promise<void>;
  stats(): Promise<WorkerStats>;
  /** The disk's changes as an overlay file (undefined without a disk). */
  exportDiskOverlay(): Promise<Uint8Array | undefined>;
  /** Deletes the saved changes of the disk (boot again to start from the unchanged image). */
  discardDiskChanges(): Promise<void>;
  /** Ends the worker (and the machine with it); the Vm is stopped. */
  terminate(): void;
}

/** Turns what a caller gave into what the worker can load (URLs made absolute here). */
export function toImageSource(input: ImageInput, base: string): ImageSource {
  if (typeof input === 'string' || input instanceof URL) return { url: new URL(input, base).href };
  if (input instanceof Blob) return { file: input };
  return { bytes: input };
}

/**
 * Builds the Vm over an already connected worker API. `dispose` ends the worker. Exported for
 * tests, which connect a VmHost over a MessageChannel instead of a Worker.
 */
export function connectVm(
  api: Remote<VmWorkerApi>,
  options: BrowserVmOptions,
  base: string,
  dispose: () => void,
): { handle: BrowserVm; fail: (message: string) => void } {
  const listeners: ((e: TransportEvent) => void)[] = [];
  let ended = false;
  const send = (e: TransportEvent) => {
    if (ended) return;
    if (e.type !== 'serial') ended = true;
    for (const l of listeners) l(e);
  };
  let terminated = false;
  const terminate = () => {
    if (terminated) return;
    terminated = true;
    api[releaseProxy]();
    dispose();
  };
  const transport: VmTransport = {
    write: (bytes) => {
      if (terminated) return;
      const copy = bytes.slice(); // the caller keeps its buffer; the copy is transferred
      api.sendInput(transfer(copy, [copy.buffer])).catch(() => {});
    },
    subscribe: (l) => void listeners.push(l),
    stop: terminate,
  };
  const vm = new Vm(transport, options);

  void api.subscribe(
    proxy((event: WorkerEvent) => {
      if (event.type === 'serial/output') send({ type: 'serial', data: event.data });
      else if (event.type === 'machine/poweroff') send({ type: 'poweroff' });
      else if (event.type === 'machine/error') send({ type: 'error', message: event.message });
      options.onEvent?.(event);
    }),
  );

  const image = (input: ImageInput | null | undefined, fallback: string | undefined): ImageSource | undefined => {
    if (input === null) return undefined;
    if (input === undefined) return fallback === undefined ? undefined : toImageSource(fallback, base);
    return toImageSource(input, base);
  };
  const ready = (async () => {
    const net = typeof options.net === 'string' ? parseNetSpec(options.net) : options.net;
    const info = await api.create({
      net,
      mac: options.mac,
      kernel: image(options.kernel, DEFAULT_KERNEL_URL)!,
      initrd: image(options.initrd, DEFAULT_INITRD_URL),
      disk: image(options.disk, undefined),
      diskReadOnly: options.diskReadOnly,
      diskOverlay: image(options.diskOverlay, undefined),
      persistDisk: options.persistDisk,
      cmdline: options.cmdline,
      ramSize: options.ramSize,
      bootProtocol: options.bootProtocol,
      deterministic: options.deterministic,
    });
    if (options.autostart ?? true) await api.start();
    return info;
  })();
  /** Ends the VM with an error (once: later errors are dropped). */
  const fail = (message: string) => {
    if (ended) return;
    send({ type: 'error', message });
    options.onEvent?.({ type: 'machine/error', message });
  };
  ready.catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));

  const handle: BrowserVm = {
    vm,
    worker: api,
    ready,
    start: () => api.start(),
    pause: () => api.pause(),
    resume: () => api.resume(),
    reset: () => api.reset(),
    stats: () => api.stats(),
    exportDiskOverlay: () => api.exportDiskOverlay(),
    discardDiskChanges: () => api.discardDiskChanges(),
    terminate,
  };
  return { handle, fail };
}

/** Boots a VM in a new Web Worker. */
export function createVM(options: BrowserVmOptions = {}): BrowserVm {
  const worker = new Worker(new URL('../worker/vm-worker.ts', import.meta.url), { type: 'module', name: 'virtlite-vm' });
  const { handle, fail } = connectVm(wrap<VmWorkerApi>(worker), options, document.baseURI, () => worker.terminate());
  // A worker that fails to load, or throws outside the protocol, ends the VM with an error.
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    fail(`the emulator's worker failed: ${e.message || 'its script could not be loaded'}`);
  });
  worker.addEventListener('messageerror', () => fail('the emulator worker sent a message that could not be read'));
  return handle;
}
