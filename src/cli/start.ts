/**
 * `npm start`: boots a Linux guest headless, with the serial console on this terminal.
 *
 * stdin goes to the guest's UART (raw mode on a terminal: every key reaches the guest; Ctrl-A X
 * quits, Ctrl-A Ctrl-A sends a Ctrl-A). When stdin is not a terminal its bytes are queued and
 * fed as the guest's UART accepts them, so a script can pipe commands in. Serial output goes to
 * stdout; progress and errors go to stderr. Exit status: 0 when the guest powers off (or the
 * user quits), 1 on an emulator error, 2 for bad options or a bad kernel, 124 on --timeout.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BzImageError, describeBzImage, parseBzImage } from '../machine/bzimage.ts';
import { DEFAULT_RAM_SIZE } from '../machine/layout.ts';
import { KernelLoadError } from '../machine/loader.ts';
import { DEFAULT_CMDLINE, MAX_RAM_SIZE, MIN_RAM_SIZE, MachineConfigError } from '../machine/machine.ts';
import { startLocalVm, type LocalVm } from '../api/local.ts';
import { NodeFileBackend } from '../api/node-disk.ts';
import { openOverlayFile, type OverlayFile } from './overlay-file.ts';
import { NullNet, type NetBackend } from '../devices/net/backend.ts';
import { NodeWebSocketNet } from '../devices/net/websocket-node.ts';

const DEFAULT_KERNEL = new URL('../../public/kernels/bzImage', import.meta.url);
const DEFAULT_INITRD = new URL('../../public/kernels/initramfs.cpio', import.meta.url);
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_TIMEOUT = 124;
const CTRL_A = 0x01;
const MIB = 1024 * 1024;
const MIN_MIB = MIN_RAM_SIZE / MIB;
const MAX_MIB = MAX_RAM_SIZE / MIB;

const USAGE = `usage: npm start -- [options]
  --kernel PATH          bzImage to boot (default: public/kernels/bzImage)
  --initrd PATH          initramfs (default: public/kernels/initramfs.cpio; --initrd '' for none)
  --append TEXT          kernel command line (default: "${DEFAULT_CMDLINE}")
  --mem MIB              guest RAM in MiB (default: ${DEFAULT_RAM_SIZE / MIB}, ${MIN_MIB} to ${MAX_MIB})
  --boot-protocol 64|32  kernel entry: 64-bit (default) or 32-bit boot protocol
  --deterministic        guest time follows the instruction count (reproducible runs)
  --disk PATH            a raw disk image on virtio-blk (/dev/vda, then vdb, ...; repeatable);
                         the guest's writes go to a copy-on-write overlay, the file is not changed
  --disk-ro              make the disks read-only for the guest
  --overlay FILE         keep the guest's writes to the disk of the same position (first
                         --overlay: first --disk) in FILE: loaded at start if it exists, saved
                         when the guest flushes (sync) and at exit; the image is not changed
  --net ws://HOST:PORT/  a virtio-net card (eth0, then eth1, ...; repeatable) whose Ethernet
                         frames go over a WebSocket to a relay, one binary message per frame;
                         --net none: a card with nothing on the other end
  --timeout SECONDS      stop with exit status ${EXIT_TIMEOUT} after this much host time
  --verbose              print boot stages and machine events on stderr
  --help                 this text
Keys: Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A.`;

function fail(message: string, code: number): never {
  process.stderr.write(`virtlite: ${message}\n`);
  process.exit(code);
}

function readInput(path: string | URL, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    return fail(`cannot read ${what} ${path instanceof URL ? path.pathname : path}: ${reason}`, EXIT_USAGE);
  }
}

function parse() {
  try {
    return parseArgs({
      options: {
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        mem: { type: 'string' },
        'boot-protocol': { type: 'string' },
        deterministic: { type: 'boolean' },
        disk: { type: 'string', multiple: true },
        'disk-ro': { type: 'boolean' },
        overlay: { type: 'string', multiple: true },
        net: { type: 'string', multiple: true },
        timeout: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    return fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`, EXIT_USAGE);
  }
}

async function main(): Promise<void> {
  const values = parse();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const mem = values.mem === undefined ? DEFAULT_RAM_SIZE / MIB : Number(values.mem);
  if (!Number.isInteger(mem) || mem < MIN_MIB || mem > MAX_MIB) {
    fail(`--mem must be a whole number of MiB, ${MIN_MIB} to ${MAX_MIB}`, EXIT_USAGE);
  }
  const protocol = values['boot-protocol'] === undefined ? 64 : Number(values['boot-protocol']);
  if (protocol !== 64 && protocol !== 32) fail('--boot-protocol must be 64 or 32', EXIT_USAGE);
  const timeout = values.timeout === undefined ? Infinity : Number(values.timeout);
  if (!(timeout > 0)) fail('--timeout must be a positive number of seconds', EXIT_USAGE);

  const kernelPath = values.kernel ?? DEFAULT_KERNEL;
  const kernel = readInput(kernelPath, 'kernel');
  try {
    const image = parseBzImage(kernel);
    if (values.verbose) process.stderr.write(`virtlite: kernel ${describeBzImage(image)}\n`);
  } catch (e) {
    if (e instanceof BzImageError) fail(`refusing kernel ${String(kernelPath instanceof URL ? kernelPath.pathname : kernelPath)}: ${e.message}`, EXIT_USAGE);
    throw e;
  }
  const initrd = values.initrd === '' ? undefined : readInput(values.initrd ?? DEFAULT_INITRD, 'initrd');
  if (values['disk-ro'] && !values.disk) fail('--disk-ro needs a --disk', EXIT_USAGE);
  if ((values.overlay ?? []).length > (values.disk ?? []).length) fail('each --overlay needs a --disk', EXIT_USAGE);
  const overlayFiles: OverlayFile[] = [];
  const disks = (values.disk ?? []).map((path, i) => {
    let backend: NodeFileBackend;
    try {
      backend = new NodeFileBackend(path);
    } catch (e) {
      const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
      return fail(`cannot open disk ${path}: ${reason}`, EXIT_USAGE);
    }
    const overlayPath = values.overlay?.[i];
    if (overlayPath === undefined) return { backend, readOnly: values['disk-ro'] === true };
    try {
      const file = openOverlayFile(overlayPath, backend);
      overlayFiles.push(file);
      if (values.verbose) process.stderr.write(`virtlite: overlay ${overlayPath} for ${path}: ${file.restoredChunks} changed blocks\n`);
      return { backend, readOnly: values['disk-ro'] === true, overlay: file.overlay };
    } catch (e) {
      return fail(`cannot use overlay ${overlayPath}: ${e instanceof Error ? e.message : String(e)}`, EXIT_USAGE);
    }
  });

  const nics: { backend: NetBackend }[] = [];
  for (const spec of values.net ?? []) {
    if (spec === 'none') {
      nics.push({ backend: new NullNet() });
      continue;
    }
    if (!spec.startsWith('ws://')) fail(`--net must be none or ws://HOST:PORT/ (got ${spec})`, EXIT_USAGE);
    const ws = new NodeWebSocketNet(spec);
    try {
      await ws.ready;
    } catch (e) {
      fail(`cannot connect --net ${spec}: ${e instanceof Error ? e.message : String(e)}`, EXIT_USAGE);
    }
    nics.push({ backend: ws });
  }

  const out = process.stdout;
  let local: LocalVm;
  try {
    local = startLocalVm({
      kernel,
      initrd,
      cmdline: values.append,
      ramSize: mem * MIB,
      bootProtocol: protocol,
      deterministic: values.deterministic,
      disks,
      nics,
      log: values.verbose ? (line) => process.stderr.write(`virtlite: ${line}\n`) : undefined,
    });
  } catch (e) {
    if (e instanceof BzImageError || e instanceof KernelLoadError || e instanceof MachineConfigError) {
      fail(`cannot boot: ${e.message}`, EXIT_USAGE);
    }
    throw e;
  }
  const { vm, runner, machine } = local;
  vm.onSerial((data) => out.write(data));
  if (values.verbose) {
    process.stderr.write(`virtlite: booting with ${mem} MiB of RAM (Ctrl-A X quits)\n`);
    vm.on((e) => {
      if (e.type === 'booted') process.stderr.write(`\nvirtlite: shell ready after ${(e.bootMs / 1000).toFixed(2)} s\n`);
    });
  }

  // Input: raw mode on a terminal (with the Ctrl-A escape), a queue otherwise.
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  let escape = false;
  let quit = false;
  stdin.on('data', (data: Buffer) => {
    let bytes = new Uint8Array(data);
    if (tty) {
      const kept: number[] = [];
      for (const b of bytes) {
        if (escape) {
          escape = false;
          if (b === 0x78 || b === 0x58) quit = true; // x / X
          else if (b === CTRL_A) kept.push(CTRL_A);
        } else if (b === CTRL_A) escape = true;
        else kept.push(b);
      }
      bytes = Uint8Array.from(kept);
    }
    if (bytes.length > 0) vm.write(bytes);
    if (quit) runner.stop();
  });

  let timedOut = false;
  const timer = timeout === Infinity ? undefined : setTimeout(() => {
    timedOut = true;
    runner.stop();
  }, timeout * 1000);
  const end = await local.finished;
  clearTimeout(timer);
  for (const file of overlayFiles) {
    try {
      file.save(); // writes the guest did not flush are kept too
    } catch (e) {
      process.stderr.write(`\nvirtlite: cannot save overlay ${file.path}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  for (const nic of nics) nic.backend.close?.();
  if (tty) stdin.setRawMode(false);
  stdin.pause();
  let code = 0;
  if (end.type === 'error') {
    process.stderr.write(`\nvirtlite: ${end.message}\n`);
    code = EXIT_ERROR;
  } else if (end.type === 'stopped') {
    process.stderr.write(timedOut ? `\nvirtlite: timeout after ${timeout} s\n` : '\nvirtlite: quit (Ctrl-A X)\n');
    code = timedOut ? EXIT_TIMEOUT : 0;
  } else if (values.verbose) {
    process.stderr.write(`virtlite: guest powered off after ${(machine.instructions / 1e6).toFixed(0)} M instructions\n`);
  }
  // Let stdout drain before exiting (a pipe may be slower than the guest).
  out.write('', () => process.exit(code));
}

main().catch((e: unknown) => fail(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, EXIT_ERROR));
