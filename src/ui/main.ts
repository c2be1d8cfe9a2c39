/**
 * The virtlite page: an xterm.js console for the guest's serial port.
 *
 * Today the page downloads and validates the default guest kernel and says plainly that the
 * emulator cannot boot it yet (the CPU core is the next issue). The worker, the comlink protocol
 * and the boot itself arrive with the machine (see README, "Status").
 */
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { Terminal } from '@xterm/xterm';
import { describeBzImage, parseBzImage } from '../machine/bzimage.ts';
import { download } from './download.ts';

const KERNEL_URL = `${import.meta.env.BASE_URL}kernels/bzImage`;

const status = document.getElementById('status')!;
const progress = document.getElementById('progress') as HTMLProgressElement;
const term = new Terminal({ convertEol: true, cursorBlink: true, fontSize: 14, rows: 30 });
term.open(document.getElementById('terminal')!);
term.focus();

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

async function start(): Promise<void> {
  term.writeln('virtlite: a lightweight x86-64 virtual machine');
  setStatus('downloading kernel…');
  progress.hidden = false;
  const image = await download(KERNEL_URL, (loaded, total) => {
    progress.max = total ?? loaded;
    progress.value = loaded;
  });
  progress.hidden = true;
  const kernel = parseBzImage(image);
  term.writeln(`kernel: ${describeBzImage(kernel)}`);
  term.writeln('virtlite cannot boot yet: the x86-64 CPU core is not implemented.');
  setStatus('kernel loaded; emulator not implemented yet');
}

start().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  progress.hidden = true;
  term.writeln(`\x1b[31merror: ${message}\x1b[0m`);
  setStatus(message, true);
});
