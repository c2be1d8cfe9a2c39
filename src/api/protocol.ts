/**
 * The one typed protocol between the page and the emulator's Web Worker (STYLE.md point 15).
 * The worker (src/worker/vm-worker.ts) exposes a `VmWorkerApi` with comlink; the page side
 * (src/api/browser.ts) holds only `Remote<VmWorkerApi>`. This file holds types and nothing
 * that runs, so importing it pulls neither the emulator into the page nor the DOM into the
 * worker.
 *
 * Lifecycle: subscribe(listener) → create(config) → start() → pause()/resume()/reset() →
 * stop(). Events flow from the worker to the page through the subscribed listener (a comlink
 * proxy); their `type` strings are `area/verb`. Console bytes cross in both directions as
 * transferred buffers: `serial/output` carries one Uint8Array per runner slice (everything the
 * UART flushed during that slice), and sendInput's bytes are transferred to the worker.
 *
 * Images (kernel, initrd, disk) come from a URL (fetched by the worker, with progress events), a
 * File/Blob the user picked, or bytes the caller already has. The disk is the guest's /dev/vda
 * (virtio-blk): a URL is read lazily with range requests, a File/Blob by slices; the guest's
 * writes go to a copy-on-write overlay that the worker saves in IndexedDB when the guest
 * flushes (src/worker/disk.ts) and restores on the next create() with the same image. The page
 * can export the overlay (`exportDiskOverlay`), give one back (`diskOverlay`), or discard the
 * saved changes (`discardDiskChanges`).
 *
 * Network: `net` gives the machine one virtio-net card (the guest's eth0) plugged into a
 * BroadcastChannel of that name (every VM of this origin on the same channel, in this page's
 * workers or in other tabs, shares one Ethernet segment), a WebSocket relay
 * (src/devices/net/relay.ts; one binary message per frame), or nothing ('none': a card whose
 * frames are dropped). Without `net` the machine has no network card.
 *
 * Not supported: more than one disk; more than one network card; snapshots; more than one
 * machine per worker at a time (create() replaces the previous machine); pooling the console
 * buffers (each batch is a fresh buffer, at most one per runner slice of ~20 ms).
 */

/** Where an image comes from. URLs must be absolute (the worker resolves nothing). */
export type ImageSource =
  | { readonly url: string }
  | { readonly file: Blob }
  | { readonly bytes: ArrayBuffer | Uint8Array };

export type ImageKind = 'kernel' | 'initrd' | 'disk';

/** What the guest's eth0 is plugged into. */
export type NetConfig =
  /** A BroadcastChannel of this name: a hub shared by every VM of this origin on it. */
  | { readonly kind: 'broadcast'; readonly channel: string }
  /** A WebSocket relay (ws:// or wss://), one binary message per Ethernet frame. */
  | { readonly kind: 'websocket'; readonly url: string }
  /** A card with its link up and nothing on the other end. */
  | { readonly kind: 'none' };

/** The machine a worker builds (src/machine/machine.ts MachineConfig, minus the callbacks). */
export interface WorkerMachineConfig {
  readonly kernel: ImageSource;
  readonly initrd?: ImageSource;
  /** The guest's /dev/vda (virtio-blk over a copy-on-write overlay). */
  readonly disk?: ImageSource;
  /** The guest sees the disk read-only. */
  readonly diskReadOnly?: boolean;
  /** Start from this exported overlay (CowOverlay.export) instead of the saved one. */
  readonly diskOverlay?: ImageSource;
  /** Save the overlay when the guest flushes and restore it next time (default true). */
  readonly persistDisk?: boolean;
  /** One virtio-net card (eth0) plugged into this; none when absent. */
  readonly net?: NetConfig;
  /** The card's MAC address ("52:54:00:12:34:56"; default: random 52:54:00:xx:xx:xx). */
  readonly mac?: string;
  /** Kernel command line (default: the machine's DEFAULT_CMDLINE). */
  readonly cmdline?: string;
  /** Guest RAM in bytes (default 256 MiB). */
  readonly ramSize?: number;
  readonly bootProtocol?: 64 | 32;
  /** Guest time follows the instruction count. */
  readonly deterministic?: boolean;
}

/** What create() built. */
export interface MachineInfo {
  /** "Linux 6.1.192 …, boot protocol 2.15, …" (the bzImage header). */
  readonly kernel: string;
  readonly kernelBytes: number;
  readonly initrdBytes: number;
  readonly ramSize: number;
  readonly cmdline: string;
  /** Present when a disk was given. */
  readonly disk?: DiskInfo;
  /** Present when a network card was given. */
  readonly net?: NetInfo;
}

/** The network card. */
export interface NetInfo {
  /** "broadcast:NAME", the WebSocket URL, or "none". */
  readonly name: string;
  /** Its MAC address, "52:54:00:xx:xx:xx". */
  readonly mac: string;
}

/** The attached disk. */
export interface DiskInfo {
  /** The URL, the file name, "blob" or "bytes". */
  readonly name: string;
  readonly bytes: number;
  readonly readOnly: boolean;
  /** Flushes are saved and restored next time (the image has an identity and a store exists). */
  readonly persistent: boolean;
  /** Overlay chunks (4 KiB) restored from an earlier run or from `diskOverlay`. */
  readonly restoredChunks: number;
}

export type WorkerState = 'empty' | 'loading' | 'created' | 'running' | 'paused' | 'poweroff' | 'error' | 'stopped';

export interface WorkerStats {
  readonly state: WorkerState;
  /** Guest instructions since the machine was created (all boots). */
  readonly instructions: number;
  /** Host milliseconds since start(). */
  readonly uptimeMs: number;
  /** Millions of guest instructions per second over the last measured second. */
  readonly mips: number;
  /** The guest is halted with nothing to do (the worker sleeps). */
  readonly idle: boolean;
  /** Host milliseconds the worker spent running guest code since the machine was created. */
  readonly busyMs: number;
  /** How many times the machine was reset (by the guest or by reset()). */
  readonly resets: number;
}

export type WorkerEvent =
  /** Bytes the guest wrote to its serial console (transferred; the buffer is the receiver's). */
  | { readonly type: 'serial/output'; readonly data: Uint8Array }
  /** Download or read progress of an image; total is undefined when unknown. */
  | { readonly type: 'image/progress'; readonly image: ImageKind; readonly loaded: number; readonly total: number | undefined }
  /** A line from the machine: boot placement, ACPI tables, resets, device failures. */
  | { readonly type: 'machine/log'; readonly line: string }
  /** The guest powered the machine off (ACPI S5). */
  | { readonly type: 'machine/poweroff' }
  /** The emulator failed; the machine is stopped for good. */
  | { readonly type: 'machine/error'; readonly message: string }
  /** stop() ended the run. */
  | { readonly type: 'machine/stopped' }
  /** The disk's overlay was saved (after a guest flush): its chunk count and size in bytes. */
  | { readonly type: 'disk/saved'; readonly chunks: number; readonly bytes: number };

/** The worker's API (every method is async across comlink). */
export interface VmWorkerApi {
  /** Sets the one listener for events (pass a comlink proxy). */
  subscribe(listener: (event: WorkerEvent) => void): void;
  /**
   * Loads the images and builds the machine (not yet running). Rejects with a readable message
   * for a failed download, a bad kernel or a bad configuration.
   */
  create(config: WorkerMachineConfig): Promise<MachineInfo>;
  /** Runs the machine (after create(); again after a poweroff, reset() first). */
  start(): void;
  pause(): void;
  resume(): void;
  /** Hardware reset: the machine boots again from the same images (also after a poweroff). */
  reset(): Promise<void>;
  /** Stops the machine for good. */
  stop(): void;
  /** Bytes for the guest's serial console (transfer the buffer). */
  sendInput(bytes: Uint8Array): void;
  stats(): WorkerStats;
  /** The disk's overlay (CowOverlay.export format; transferred), undefined without a disk. */
  exportDiskOverlay(): Promise<Uint8Array | undefined>;
  /** Deletes the saved overlay and stops saving; boot again to start from the unchanged image. */
  discardDiskChanges(): Promise<void>;
}
