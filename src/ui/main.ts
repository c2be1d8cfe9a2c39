/**
 * The virtlite page (index.html): on opening it boots the default guest (public/kernels) in a
 * Web Worker and shows its serial console in a `<virtlite-vm>` element (./element.ts) that fills
 * the window. Around it: download and boot-stage progress bars, machine statistics (MIPS,
 * instructions, uptime, worker load, boot time), and controls (pause, reset, memory size,
 * kernel command line, kernel/initrd/disk files).
 *
 * Disk: a file or a URL from the settings (or `?disk=URL` in the page's address) is the guest's
 * /dev/vda; what the guest syncs is saved in the browser and comes back on the next visit. The
 * disk bar shows it and offers "Export changes" (the overlay as a file, which the settings take
 * back) and "Discard changes" (forget the saved changes and boot again from the image).
 *
 * Network: the settings' network field (or `?net=` in the page's address) gives the guest an
 * eth0: `broadcast:NAME` joins every VM of this origin on that BroadcastChannel (other tabs of
 * this page, embed.html's VMs), `ws://HOST:PORT/` a WebSocket relay, `none` a card with nothing
 * attached. Empty: no network card. The guest sets its own address (`ifconfig eth0 10.0.0.1 up`).
 *
 * Errors (a failed download, a refused kernel, an emulator failure, a guest kernel panic, an
 * uncaught page error) are shown in the page, which keeps working: boot again from the
 * settings, or reset.
 *
 * Not supported: saving settings across reloads (a disk from the file picker must be picked
 * again; its saved changes are found by name, size and date); several VMs on this page (see embed.html).
 */
import './style.css';
import type { BrowserVmOptions, WorkerStats } from '../api/browser.ts';
import { defineVirtliteElement, type VirtliteVmElement } from './element.ts';

defineVirtliteElement();

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const vmElement = $<VirtliteVmElement>('vm');
const status = $('status');
const stats = $('stats');
const errorBox = $('error');
const pauseButton = $<HTMLButtonElement>('pause');
const resetButton = $<HTMLButtonElement>('reset');
const settingsToggle = $<HTMLButtonElement>('settings-toggle');
const settings = $<HTMLFormElement>('settings');
const bootBar = $<HTMLProgressElement>('progress-boot');
const stageText = $('stage');
const memory = $<HTMLSelectElement>('memory');
const cmdline = $<HTMLInputElement>('cmdline');
const files = { kernel: $<HTMLInputElement>('kernel-file'), initrd: $<HTMLInputElement>('initrd-file'), disk: $<HTMLInputElement>('disk-file') };
const diskUrl = $<HTMLInputElement>('disk-url');
const diskOverlayFile = $<HTMLInputElement>('disk-overlay-file');
const diskReadOnly = $<HTMLInputElement>('disk-readonly');
const net = $<HTMLInputElement>('net');
const diskBar = $('disk');
const diskName = $('disk-name');
const diskState = $('disk-state');

const MIB = 1024 * 1024;

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function showError(message: string): void {
  setStatus(message, true);
  errorBox.textContent = message;
  errorBox.hidden = false;
}

/** A rejected promise's reason, shown as an error. */
function showFailure(reason: unknown): void {
  showError(reason instanceof Error ? reason.message : String(reason));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// --- progress -------------------------------------------------------------------------------

function resetProgress(): void {
  for (const kind of ['kernel', 'initrd', 'disk']) {
    $(`progress-${kind}-label`).hidden = true;
    const bar = $<HTMLProgressElement>(`progress-${kind}`);
    bar.max = 1;
    bar.value = 0;
  }
  bootBar.value = 0;
  stageText.textContent = '';
}

vmElement.addEventListener('vm-progress', (e) => {
  const { image, loaded, total } = e.detail;
  $(`progress-${image}-label`).hidden = false;
  const bar = $<HTMLProgressElement>(`progress-${image}`);
  if (total === undefined) {
    bar.removeAttribute('value'); // indeterminate: the size is unknown
  } else {
    bar.max = total;
    bar.value = loaded;
  }
  bar.title = `${(loaded / MIB).toFixed(1)} MiB`;
});

vmElement.addEventListener('vm-stage', (e) => {
  const { label, index, count } = e.detail;
  bootBar.max = count - 1;
  bootBar.value = index;
  if (index <= 1) bootText = ''; // a new boot (start or reset): its time is not known yet
  stageText.textContent = label;
  if (!vmElement.lastError) setStatus(label);
  if (index > 0) {
    // Downloads are over: their bars show complete.
    for (const kind of ['kernel', 'initrd', 'disk']) {
      const bar = $<HTMLProgressElement>(`progress-${kind}`);
      if (!bar.hasAttribute('value')) bar.value = bar.max;
    }
  }
});

vmElement.addEventListener('vm-ready', (e) => {
  const { info } = e.detail;
  diskBar.hidden = !info.disk;
  if (info.disk) {
    const d = info.disk;
    diskName.textContent = `${d.name} (${(d.bytes / MIB).toFixed(1)} MiB)`;
    const restored = d.restoredChunks ? `${d.restoredChunks} changed blocks restored; ` : '';
    diskState.textContent = d.readOnly ? 'read-only' : `${restored}${d.persistent ? 'changes are saved when the guest syncs' : 'changes are not saved'}`;
  }
  if (!cmdline.value) cmdline.value = info.cmdline;
  memory.value = String(info.ramSize / MIB);
  pauseButton.disabled = false;
  pauseButton.textContent = 'Pause';
  document.title = `virtlite: ${info.kernel.split(',')[0]}`;
});

vmElement.addEventListener('vm-disk-saved', (e) => {
  diskState.textContent = `changes saved (${e.detail.chunks} blocks, ${(e.detail.bytes / 1024).toFixed(0)} KiB)`;
});

$<HTMLButtonElement>('disk-export').addEventListener('click', () => {
  const handle = vmElement.handle;
  if (!handle) return;
  handle.exportDiskOverlay().then(
    (bytes) => {
      if (!bytes) return;
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: 'application/octet-stream' }));
      link.download = 'virtlite-disk-changes.vlcow';
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    },
    showFailure,
  );
});

$<HTMLButtonElement>('disk-discard').addEventListener('click', () => {
  const handle = vmElement.handle;
  if (!handle) return;
  handle.discardDiskChanges().then(
    () => boot(lastOverrides), // the same disk, from the unchanged image
    showFailure,
  );
});

// --- statistics -----------------------------------------------------------------------------

let bootText = '';
let lastStats: { at: number; busyMs: number } | undefined;

vmElement.addEventListener('vm-booted', (e) => {
  const { bootMs, machineMs } = e.detail;
  bootText = `boot ${seconds(machineMs)} (${seconds(bootMs)} on the page)`;
  vmElement.terminal?.focus();
});

function showStats(s: WorkerStats): void {
  if (s.state === 'empty' || s.state === 'loading') {
    stats.textContent = ''; // no machine (yet)
    return;
  }
  const now = performance.now();
  const load = lastStats && now > lastStats.at ? Math.min(100, (100 * (s.busyMs - lastStats.busyMs)) / (now - lastStats.at)) : undefined;
  lastStats = { at: now, busyMs: s.busyMs };
  const parts = [
    `${s.mips.toFixed(1)} MIPS`,
    `${(s.instructions / 1e6).toFixed(0)} M instructions`,
    `up ${seconds(s.uptimeMs)}`,
    load === undefined ? '' : `worker ${load.toFixed(0)}% busy${s.idle ? ' (guest idle)' : ''}`,
    bootText,
    s.state === 'paused' ? 'paused' : '',
  ];
  stats.textContent = parts.filter(Boolean).join(' · ');
}

setInterval(() => {
  const handle = vmElement.handle;
  if (!handle) return;
  handle.stats().then(showStats, () => {});
}, 1000);

// --- machine life -----------------------------------------------------------------------------

vmElement.addEventListener('vm-poweroff', () => {
  setStatus('the guest powered off (Reset boots it again)');
  pauseButton.disabled = true;
});
vmElement.addEventListener('vm-error', (e) => {
  showError(e.detail.message);
  pauseButton.disabled = true;
});
vmElement.addEventListener('vm-panic', (e) => showError(e.detail.message));

window.addEventListener('error', (e) => showError(`page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`page error: ${e.reason instanceof Error ? e.reason.message : String(e.reason)}`));

let lastOverrides: Partial<BrowserVmOptions> = {};

function boot(overrides: Partial<BrowserVmOptions> = {}): void {
  lastOverrides = { ...overrides, diskOverlay: undefined }; // an imported overlay is used once
  errorBox.hidden = true;
  diskBar.hidden = true;
  bootText = '';
  lastStats = undefined;
  pauseButton.disabled = true;
  pauseButton.textContent = 'Pause';
  resetProgress();
  vmElement.start(overrides);
  vmElement.terminal?.focus();
}

pauseButton.addEventListener('click', () => {
  const pausing = pauseButton.textContent === 'Pause';
  (pausing ? vmElement.pause() : vmElement.resume()).then(
    () => {
      pauseButton.textContent = pausing ? 'Resume' : 'Pause';
      setStatus(pausing ? 'paused' : vmElement.stage.label);
    },
    showFailure,
  );
});

resetButton.addEventListener('click', () => {
  errorBox.hidden = true;
  vmElement.reset().then(
    () => vmElement.terminal?.focus(),
    showFailure,
  );
});

settingsToggle.addEventListener('click', () => {
  settings.hidden = !settings.hidden;
  settingsToggle.setAttribute('aria-expanded', String(!settings.hidden));
});

settings.addEventListener('submit', (e) => {
  e.preventDefault();
  const overrides: Partial<BrowserVmOptions> = { ramSize: Number(memory.value) * MIB };
  if (cmdline.value.trim()) overrides.cmdline = cmdline.value.trim();
  const kernel = files.kernel.files?.[0];
  const initrd = files.initrd.files?.[0];
  const disk = files.disk.files?.[0];
  if (kernel) overrides.kernel = kernel;
  if (initrd) overrides.initrd = initrd;
  if (disk) overrides.disk = disk;
  else if (diskUrl.value.trim()) overrides.disk = diskUrl.value.trim();
  const overlay = diskOverlayFile.files?.[0];
  if (overlay && overrides.disk) overrides.diskOverlay = overlay;
  if (diskReadOnly.checked) overrides.diskReadOnly = true;
  if (net.value.trim()) overrides.net = net.value.trim();
  boot(overrides);
});

$<HTMLButtonElement>('defaults').addEventListener('click', () => {
  settings.reset();
  cmdline.value = '';
  boot();
});

// ?disk=URL attaches a disk image at that address; ?net=broadcast:NAME (ws://…, none) a network card.
const params = new URLSearchParams(location.search);
const initial: Partial<BrowserVmOptions> = {};
const diskParam = params.get('disk');
if (diskParam) initial.disk = diskParam;
const netParam = params.get('net')?.trim();
if (netParam) {
  initial.net = netParam;
  net.value = netParam;
}
boot(initial);
