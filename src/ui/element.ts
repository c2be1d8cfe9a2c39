/**
 * `<virtlite-vm>`: a Linux VM on a page, for documentation and for virtlite's own page. The
 * machine runs in a Web Worker (src/api/browser.ts createVM); the element shows its serial
 * console on xterm.js (./terminal.ts) with a one-line status bar (downloads, boot stage,
 * errors).
 *
 *   <virtlite-vm kernel="kernels/bzImage" initrd="kernels/initramfs.cpio"
 *                cmdline="console=ttyS0" memory="128" autostart></virtlite-vm>
 *
 * Attributes (read by start()): kernel, initrd ("none" for no initrd), disk (a URL: the guest's
 * /dev/vda, read lazily; what the guest syncs is kept across page loads), disk-readonly,
 * net (the guest's eth0: "broadcast:NAME" joins every VM of this origin on that BroadcastChannel,
 * in this page or other tabs; "ws://HOST:PORT/" a WebSocket relay; "none" a card with nothing
 * attached; absent: no card), mac (eth0's MAC address), cmdline, memory (MiB), boot-protocol (64|32), deterministic, boot-marker, prompt, font-size,
 * autostart (start when connected).
 *
 * Script API: `start(overrides?)`, `stop()`, `pause()`, `resume()`, `reset()`, `exec(cmd)`,
 * `waitFor(text)`, and the properties `vm` (the Vm), `handle` (the BrowserVm), `info`, `stage`,
 * `lastError`, `terminal`.
 *
 * Events (CustomEvent, not bubbling; VirtliteVmEventMap has the `detail` types): `vm-progress`,
 * `vm-ready`, `vm-stage`, `vm-log`, `vm-booted` (after every boot, resets included), `vm-poweroff`,
 * `vm-error`, `vm-panic`, `vm-disk-saved` (the guest flushed its disk and the changes are saved).
 *
 * Not supported: shadow DOM (xterm.js and its CSS live in the light DOM; the styles are
 * injected once into <head>), several terminals per VM, restoring a VM after the element is
 * removed from the page (removal ends its worker).
 */
import xtermCss from '@xterm/xterm/css/xterm.css?inline';
import elementCss from './element.css?inline';
import { createVM, type BrowserVm, type BrowserVmOptions, type ImageKind, type MachineInfo, type WorkerEvent } from '../api/browser.ts';
import { DEFAULT_BOOT_MARKER, type ExecResult, type Vm } from '../api/vm.ts';
import { BootStageTracker, MACHINE_RESET_LINE, type BootStage, type BootStageId } from './boot-stages.ts';
import { ConsoleView } from './terminal.ts';

export const ELEMENT_NAME = 'virtlite-vm';

/** Kernel panics are shown as guest crashes (the default command line has panic=-1: it reboots). */
const PANIC_PATTERN = /Kernel panic - not syncing: ([^\r\n]*)/;
const MIB = 1024 * 1024;

let stylesInjected = false;
function injectStyles(): void {
  if (stylesInjected) return;
  stylesInjected = true;
  const style = document.createElement('style');
  style.dataset.virtlite = '';
  style.textContent = `${xtermCss}\n${elementCss}`;
  document.head.prepend(style);
}

function percent(loaded: number, total: number | undefined): string {
  return total ? `${Math.floor((100 * loaded) / total)}%` : `${(loaded / MIB).toFixed(1)} MiB`;
}

/** The element's events and their details. */
export interface VirtliteVmEventMap {
  /** Bytes of an image read so far (total undefined when unknown). */
  'vm-progress': CustomEvent<{ image: ImageKind; loaded: number; total: number | undefined }>;
  /** The disk's changes were saved after a guest flush: overlay chunks and bytes. */
  'vm-disk-saved': CustomEvent<{ chunks: number; bytes: number }>;
  /** The machine is built (kernel in guest RAM). */
  'vm-ready': CustomEvent<{ info: MachineInfo }>;
  /** A new boot stage (./boot-stages.ts); index counts from 0 to count - 1. */
  'vm-stage': CustomEvent<{ id: BootStageId; label: string; index: number; count: number }>;
  /** A machine log line. */
  'vm-log': CustomEvent<{ line: string }>;
  /**
   * The boot marker appeared. bootMs: page time since start() (downloads included) or since
   * the machine reset; machineMs and instructions: machine time and guest instructions of this
   * boot (after a reset, counted from when the page learnt of it: a message round trip late).
   */
  'vm-booted': CustomEvent<{ bootMs: number; machineMs: number; instructions: number }>;
  'vm-poweroff': CustomEvent<undefined>;
  /** A failed download, a refused kernel, an emulator or worker failure: the VM has ended. */
  'vm-error': CustomEvent<{ message: string }>;
  /** The guest kernel panicked (it may reboot, depending on its command line). */
  'vm-panic': CustomEvent<{ message: string }>;
}

export class VirtliteVmElement extends HTMLElement {
  /** The running VM's handle (undefined before start() and after stop()). */
  handle: BrowserVm | undefined;
  /** What the worker built. */
  info: MachineInfo | undefined;
  /** The last error (download, kernel, emulator, worker), until the next start(). */
  lastError: string | undefined;
  terminal: ConsoleView | undefined;
  private tracker = new BootStageTracker();
  private statusEl: HTMLElement | undefined;
  private downloads = new Map<string, string>();
  private panicTail = '';
  private lastOverrides: Partial<BrowserVmOptions> = {};
  /** Where the current boot started: page time, machine time, instructions. */
  private bootBase = { pageMs: 0, machineMs: 0, instructions: 0 };

  get vm(): Vm | undefined {
    return this.handle?.vm;
  }

  get stage(): BootStage {
    return this.tracker.stage;
  }

  connectedCallback(): void {
    this.render();
    if (this.hasAttribute('autostart') && !this.handle) this.start();
  }

  disconnectedCallback(): void {
    this.stop();
  }

  private render(): void {
    if (this.terminal) return;
    injectStyles();
    const box = document.createElement('div');
    box.className = 'virtlite-terminal';
    const status = document.createElement('div');
    status.className = 'virtlite-status';
    status.setAttribute('role', 'status');
    this.replaceChildren(box, status);
    this.statusEl = status;
    const fontSize = Number(this.getAttribute('font-size'));
    this.terminal = new ConsoleView(box, fontSize > 0 ? { fontSize } : {});
  }

  private setStatus(text: string, error = false): void {
    if (!this.statusEl) return;
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('error', error);
  }

  private emit<K extends keyof VirtliteVmEventMap>(type: K, detail?: VirtliteVmEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** The VM options the attributes describe. */
  optionsFromAttributes(): BrowserVmOptions {
    const attr = (name: string) => this.getAttribute(name) ?? undefined;
    const options: BrowserVmOptions = {};
    const kernel = attr('kernel');
    if (kernel) options.kernel = kernel;
    const initrd = attr('initrd');
    if (initrd !== undefined) options.initrd = initrd === '' || initrd === 'none' ? null : initrd;
    const disk = attr('disk');
    if (disk) options.disk = disk;
    if (this.hasAttribute('disk-readonly')) options.diskReadOnly = true;
    const net = attr('net')?.trim();
    if (net) options.net = net; // parsed by createVM: a bad value is a vm-error with the reason
    const mac = attr('mac');
    if (mac) options.mac = mac;
    const cmdline = attr('cmdline');
    if (cmdline !== undefined) options.cmdline = cmdline;
    const memory = attr('memory');
    if (memory !== undefined) options.ramSize = Number(memory) * MIB;
    if (attr('boot-protocol') === '32') options.bootProtocol = 32;
    if (this.hasAttribute('deterministic')) options.deterministic = true;
    const marker = attr('boot-marker');
    if (marker) options.bootMarker = marker;
    const prompt = attr('prompt');
    if (prompt) options.prompt = prompt;
    return options;
  }

  /** Boots a VM (ending the previous one). `overrides` win over the attributes. */
  start(overrides: Partial<BrowserVmOptions> = {}): BrowserVm {
    this.render();
    this.stop();
    this.lastOverrides = overrides;
    this.lastError = undefined;
    this.info = undefined;
    this.downloads.clear();
    this.panicTail = '';
    const options: BrowserVmOptions = { ...this.optionsFromAttributes(), ...overrides };
    this.bootBase = { pageMs: performance.now(), machineMs: 0, instructions: 0 };
    this.tracker = new BootStageTracker(options.bootMarker ?? DEFAULT_BOOT_MARKER, (stage, index) => {
      if (!this.lastError) this.setStatus(stage.label);
      this.emit('vm-stage', { id: stage.id, label: stage.label, index, count: this.tracker.stages.length });
      if (stage.id === 'shell') this.booted(handle);
    });
    this.tracker.downloading();
    this.setStatus(this.tracker.stage.label);
    const handle = createVM({ ...options, onEvent: (e) => this.handle === handle && this.onWorkerEvent(e) });
    this.handle = handle;
    const terminal = this.terminal!;
    terminal.attach(handle.vm);
    const decoder = new TextDecoder();
    handle.vm.onSerial((data) => {
      const text = decoder.decode(data, { stream: true });
      this.tracker.console(text);
      this.checkPanic(text);
    });
    handle.ready.then(
      (info) => {
        if (this.handle !== handle) return;
        this.info = info;
        this.tracker.loaded();
        if (info.disk) {
          const d = info.disk;
          const notes = [d.readOnly ? 'read-only' : '', d.restoredChunks ? `${d.restoredChunks} saved blocks restored` : '', d.persistent ? '' : 'changes not saved'];
          terminal.message(`[virtlite: disk ${d.name} on /dev/vda${notes.filter(Boolean).map((n) => `, ${n}`).join('')}]`);
        }
        if (info.net) terminal.message(`[virtlite: eth0 (${info.net.mac}) on ${info.net.name}]`);
        this.emit('vm-ready', { info });
      },
      () => {}, // reported through the 'machine/error' event
    );
    return handle;
  }

  private onWorkerEvent(e: WorkerEvent): void {
    switch (e.type) {
      case 'image/progress': {
        this.downloads.set(e.image, percent(e.loaded, e.total));
        this.setStatus(`downloading ${[...this.downloads].map(([k, v]) => `${k} ${v}`).join(', ')}`);
        this.emit('vm-progress', { image: e.image, loaded: e.loaded, total: e.total });
        break;
      }
      case 'machine/log':
        if (e.line === MACHINE_RESET_LINE) this.rebooting();
        this.tracker.log(e.line);
        this.emit('vm-log', { line: e.line });
        break;
      case 'machine/poweroff':
        this.setStatus('the guest powered off');
        this.terminal?.message('[virtlite: the guest powered the machine off]');
        this.emit('vm-poweroff');
        break;
      case 'machine/error':
        this.lastError = e.message;
        this.setStatus(`error: ${e.message}`, true);
        this.terminal?.message(`error: ${e.message}`, 'error');
        this.emit('vm-error', { message: e.message });
        break;
      case 'disk/saved':
        this.emit('vm-disk-saved', { chunks: e.chunks, bytes: e.bytes });
        break;
      case 'machine/stopped':
      case 'serial/output':
        break;
    }
  }

  /** The machine reset: the next boot is measured from here. */
  private rebooting(): void {
    const handle = this.handle;
    const pageMs = performance.now();
    handle?.stats().then(
      (s) => {
        if (this.handle === handle) this.bootBase = { pageMs, machineMs: s.uptimeMs, instructions: s.instructions };
      },
      () => {},
    );
  }

  /** The boot marker appeared: report how long this boot took. */
  private booted(handle: BrowserVm): void {
    const pageMs = performance.now();
    const base = this.bootBase;
    handle.stats().then(
      (s) => {
        if (this.handle !== handle) return;
        this.emit('vm-booted', { bootMs: pageMs - base.pageMs, machineMs: s.uptimeMs - base.machineMs, instructions: s.instructions - base.instructions });
      },
      () => {},
    );
  }

  private checkPanic(text: string): void {
    const window = this.panicTail + text;
    const m = PANIC_PATTERN.exec(window);
    if (m && /[\r\n]/.test(window.slice(m.index + m[0].length, m.index + m[0].length + 1))) {
      const message = `guest kernel panic: ${m[1]}`;
      this.setStatus(message, true);
      this.emit('vm-panic', { message });
      this.panicTail = '';
      return;
    }
    this.panicTail = window.slice(-200);
  }

  /** Ends the VM and its worker. */
  stop(): void {
    const handle = this.handle;
    if (!handle) return;
    this.handle = undefined;
    handle.terminate();
  }

  pause(): Promise<void> {
    return this.required().pause();
  }

  resume(): Promise<void> {
    return this.required().resume();
  }

  /** Resets the machine in place; a VM that ended (poweroff, error) is started afresh. */
  async reset(): Promise<void> {
    const handle = this.handle;
    const state = handle ? (await handle.stats().catch(() => undefined))?.state : undefined;
    if (handle && (state === 'running' || state === 'paused')) {
      this.terminal?.message('[virtlite: reset]');
      await handle.reset();
    } else {
      this.start(this.lastOverrides);
    }
  }

  exec(command: string, options?: { timeoutMs?: number }): Promise<ExecResult> {
    return this.required().vm.exec(command, options);
  }

  waitFor(pattern: string | RegExp, options?: { timeoutMs?: number; from?: number }): Promise<number> {
    return this.required().vm.waitFor(pattern, options);
  }

  private required(): BrowserVm {
    if (!this.handle) throw new Error('the VM is not running: call start() first');
    return this.handle;
  }
}

/** Registers <virtlite-vm> (once). */
export function defineVirtliteElement(name = ELEMENT_NAME): void {
  if (!customElements.get(name)) customElements.define(name, VirtliteVmElement);
}

declare global {
  interface HTMLElementTagNameMap {
    'virtlite-vm': VirtliteVmElement;
  }
  // The vm-* names are virtlite's own: adding them to every element's map clashes with nothing.
  interface HTMLElementEventMap extends VirtliteVmEventMap {}
}
