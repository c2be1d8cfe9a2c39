/**
 * Boots the committed default guest on the reference machine, QEMU's `microvm` (TCG), drives
 * its shell over the serial console like a person would, and returns the console log. The
 * foundation issue uses it to prove the images before virtlite's own CPU can run them; later,
 * its log is what virtlite's boot log is compared with (docs/reference-boot.log).
 *
 * Usage as a script: tsx guest/reference-boot.ts [--out docs/reference-boot.log]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestDisk } from './test-disk.ts';

/** The line /init prints when the shell is ready (guest/init). */
export const BOOT_MARKER = 'virtlite: boot complete, shell ready';

const KERNELS = fileURLToPath(new URL('../public/kernels/', import.meta.url));

export interface ReferenceBootOptions {
  /** microvm with a PCIe host bridge (virtio-pci), as virtlite has, or virtio-mmio. */
  readonly pcie: boolean;
  /** Shell commands to run after the marker, one at a time. */
  readonly commands: readonly string[];
  /** Attach this raw image as a read-only virtio-blk disk (/dev/vda). */
  readonly disk?: string;
  readonly append?: string;
  readonly timeoutMs?: number;
  /** Called with console text as it arrives. */
  readonly onOutput?: (text: string) => void;
}

export interface CommandResult {
  readonly command: string;
  readonly output: string;
  readonly exitCode: number;
}

export interface ReferenceBootResult {
  /** Everything the console printed, from the first kernel message to power-off. */
  readonly log: string;
  /** Seconds from QEMU start to the marker. */
  readonly bootSeconds: number;
  readonly results: CommandResult[];
  /** QEMU's exit status (0 when the guest powered off). */
  readonly exitCode: number | null;
}

/**
 * tsc_early_khz: on a loaded machine, TCG runs too unevenly for the kernel's PIT calibration of
 * the TSC, and microvm has no other reference (no HPET, no kvmclock under TCG); without a TSC
 * frequency the guest hangs. Telling the kernel the frequency keeps the reference boot reliable.
 */
export const DEFAULT_APPEND = 'console=ttyS0 earlyprintk=ttyS0 panic=-1 tsc_early_khz=2000000';

export function qemuArgs(options: ReferenceBootOptions): string[] {
  const machine = options.pcie ? 'microvm,pcie=on' : 'microvm';
  const args = [
    '-M', machine, '-accel', 'tcg', '-m', '256M', '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-kernel', join(KERNELS, 'bzImage'), '-initrd', join(KERNELS, 'initramfs.cpio'),
    '-append', options.append ?? DEFAULT_APPEND,
  ];
  if (options.disk) {
    const device = options.pcie ? 'virtio-blk-pci' : 'virtio-blk-device';
    args.push('-drive', `file=${options.disk},if=none,id=disk0,format=raw,readonly=on`, '-device', `${device},drive=disk0`);
  }
  return args;
}

/** Boots, runs the commands, powers off. Rejects with the log so far on a timeout. */
export function referenceBoot(options: ReferenceBootOptions): Promise<ReferenceBootResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', qemuArgs(options), { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  let stderr = '';
  let waiter: { text: string; from: number; resolve: (at: number) => void } | undefined;

  const check = () => {
    if (!waiter) return;
    const at = log.indexOf(waiter.text, waiter.from);
    if (at >= 0) {
      const w = waiter;
      waiter = undefined;
      w.resolve(at + w.text.length);
    }
  };
  qemu.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    log += text;
    options.onOutput?.(text);
    check();
  });
  qemu.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => qemu.on('close', (code) => resolve(code)));

  const waitFor = (text: string, from: number) =>
    new Promise<number>((resolve, reject) => {
      waiter = { text, from, resolve };
      void exited.then(() => reject(new Error(`QEMU exited before "${text}"\n${stderr}\n--- log ---\n${log}`)));
      check();
    });

  const run = async (): Promise<ReferenceBootResult> => {
    let pos = await waitFor(BOOT_MARKER, 0);
    const bootSeconds = (Date.now() - started) / 1000;
    const results: CommandResult[] = [];
    for (const [i, command] of options.commands.entries()) {
      // Begin and end tags are split in the typed line, so the terminal's echo of the line
      // (however the line editor wraps it) cannot match them.
      pos = await waitFor('# ', pos);
      const begin = `__VL_BEGIN_${i}__`;
      const end = `__VL_END_${i}__ `;
      qemu.stdin.write(`echo "__VL_BEGIN_""${i}__"; ${command}; echo "__VL_END_""${i}__ $?"\n`);
      const outputStart = await waitFor('\n', await waitFor(begin, pos));
      const outputEnd = await waitFor(end, outputStart);
      const exitLine = await waitFor('\n', outputEnd);
      const exitCode = Number.parseInt(log.slice(outputEnd, exitLine).trim(), 10);
      const output = log.slice(outputStart, outputEnd - end.length).replace(/\r/g, '');
      results.push({ command, output, exitCode });
      pos = exitLine;
    }
    qemu.stdin.write('poweroff -f\n');
    const exitCode = await exited;
    return { log: log.replace(/\r/g, ''), bootSeconds, results, exitCode };
  };

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      qemu.kill('SIGKILL');
      reject(new Error(`reference boot timed out after ${timeoutMs} ms\n--- log ---\n${log}`));
    }, timeoutMs);
  });
  return Promise.race([run(), timeout]).finally(() => {
    clearTimeout(timer);
    if (qemu.exitCode === null) qemu.kill('SIGKILL');
  });
}

/** The commands whose output documents the reference machine in docs/reference-boot.log. */
export const REFERENCE_COMMANDS = [
  'uname -a',
  'cat /proc/cmdline',
  'grep -m1 flags /proc/cpuinfo',
  'cat /proc/interrupts',
  'ls /sys/bus/pci/devices /sys/bus/virtio/devices',
  'mount -o ro /dev/vda /mnt && cd /mnt && sha256sum -c SHA256SUMS; cd /; umount /mnt',
];

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : 'docs/reference-boot.log';
  const scratch = mkdtempSync(join(tmpdir(), 'virtlite-ref-'));
  const disk = join(scratch, 'test-disk.img');
  makeTestDisk(disk);
  const sections: string[] = [];
  try {
    for (const pcie of [false, true]) {
      const options = { pcie, commands: REFERENCE_COMMANDS, disk };
      const header = `qemu-system-x86_64 ${qemuArgs(options).join(' ').replaceAll(scratch, '$TMP').replaceAll(`${process.cwd()}/`, '')}`;
      process.stderr.write(`\n== booting: ${header}\n`);
      const result = await referenceBoot({ ...options, onOutput: (t) => process.stderr.write(t) });
      const failed = result.results.filter((r) => r.exitCode !== 0);
      if (failed.length > 0) throw new Error(`commands failed in the guest: ${failed.map((r) => r.command).join(', ')}`);
      sections.push(`### ${header}\n### marker after ${result.bootSeconds.toFixed(1)} s (TCG, wall clock)\n\n${result.log}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (out) writeFileSync(out, sections.join('\n'));
  process.stderr.write(`\nwrote ${out}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
