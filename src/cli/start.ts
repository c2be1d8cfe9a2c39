/**
 * `npm start`: boot a Linux guest headless, with the serial console on this terminal.
 *
 * Today it loads and validates the kernel and initrd and then says plainly that the emulator
 * cannot boot yet (the x86-64 CPU core is the next issue). It never pretends to boot.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BzImageError, describeBzImage, parseBzImage } from '../machine/bzimage.ts';
import { DEFAULT_RAM_SIZE } from '../machine/layout.ts';

const DEFAULT_KERNEL = new URL('../../public/kernels/bzImage', import.meta.url);
const DEFAULT_INITRD = new URL('../../public/kernels/initramfs.cpio', import.meta.url);
const EXIT_USAGE = 2;
const EXIT_CANNOT_BOOT = 3;

const USAGE = `usage: npm start -- [options]
  --kernel PATH     bzImage to boot (default: public/kernels/bzImage)
  --initrd PATH     initramfs (default: public/kernels/initramfs.cpio)
  --append TEXT     kernel command line
  --mem MIB         guest RAM in MiB (default: ${DEFAULT_RAM_SIZE / 1024 / 1024})
  --help            this text`;

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

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        mem: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    fail(`${e instanceof Error ? e.message : e}\n${USAGE}`, EXIT_USAGE);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const mem = values.mem === undefined ? DEFAULT_RAM_SIZE / 1024 / 1024 : Number(values.mem);
  if (!Number.isInteger(mem) || mem < 16 || mem > 3072) fail(`--mem must be a whole number of MiB, 16 to 3072`, EXIT_USAGE);

  const kernelPath = values.kernel ?? DEFAULT_KERNEL;
  let kernel;
  try {
    kernel = parseBzImage(readInput(kernelPath, 'kernel'));
  } catch (e) {
    if (e instanceof BzImageError) fail(`refusing kernel ${String(kernelPath)}: ${e.message}`, EXIT_USAGE);
    throw e;
  }
  const initrd = readInput(values.initrd ?? DEFAULT_INITRD, 'initrd');
  process.stdout.write(`kernel: ${describeBzImage(kernel)}\ninitrd: ${initrd.length} bytes\nmemory: ${mem} MiB\n`);
  fail('cannot boot yet: the x86-64 CPU core is not implemented (see README, "Status").', EXIT_CANNOT_BOOT);
}

main();
