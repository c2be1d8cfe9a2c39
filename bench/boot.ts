/**
 * Boot benchmark: boots the default guest (public/kernels, 256 MiB) with deterministic time
 * (the same instruction stream every run) to its shell marker, and prints instructions,
 * seconds and MIPS. Drives src/machine/machine.ts directly, without the runner's host sleeps:
 * idle periods are skipped (deterministic time jumps to the next deadline).
 *
 *   npx tsx bench/boot.ts [runs]            (default 1 run)
 *   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/boot.ts
 *
 * Printed, never asserted.
 */
import { readFileSync } from 'node:fs';
import { Machine } from '../src/machine/machine.ts';
import { DEFAULT_BOOT_MARKER } from '../src/api/vm.ts';

const KERNEL = new URL('../public/kernels/bzImage', import.meta.url);
const INITRD = new URL('../public/kernels/initramfs.cpio', import.meta.url);

export interface BootResult {
  /** Wall time and this process's CPU time (user + system) of the boot. */
  seconds: number;
  cpuSeconds: number;
  instructions: number;
}

/** One deterministic boot to the shell marker. */
export function bootOnce(kernel: Uint8Array, initrd: Uint8Array, limitSeconds = 120): BootResult {
  let text = '';
  let found = false;
  const decoder = new TextDecoder();
  const machine = new Machine({
    kernel,
    initrd,
    deterministic: true,
    serialOutput: (chunk) => {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes(DEFAULT_BOOT_MARKER)) found = true;
      if (text.length > 4096) text = text.slice(-1024);
    },
  });
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  while (!found) {
    const r = machine.run(50);
    if (r.kind === 'poweroff' || r.kind === 'error') throw new Error(`boot stopped: ${r.kind}`);
    if ((performance.now() - started) / 1000 > limitSeconds) throw new Error('boot took too long');
  }
  const cpu = process.cpuUsage(cpuStarted);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, instructions: machine.instructions };
}

function main(): void {
  const runs = Number(process.argv[2] ?? 1);
  const kernel = new Uint8Array(readFileSync(KERNEL));
  const initrd = new Uint8Array(readFileSync(INITRD));
  const results: BootResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = bootOnce(kernel, initrd);
    results.push(r);
    console.log(`run ${i + 1}: ${(r.instructions / 1e6).toFixed(2)} M instructions, ${r.seconds.toFixed(2)} s (CPU ${r.cpuSeconds.toFixed(2)} s), ${(r.instructions / 1e6 / r.seconds).toFixed(1)} MIPS`);
  }
  if (runs > 1) {
    const s = results.map((r) => r.seconds).sort((a, b) => a - b);
    const med = s[Math.floor(s.length / 2)]!;
    console.log(`median ${med.toFixed(2)} s, ${(results[0]!.instructions / 1e6 / med).toFixed(1)} MIPS`);
  }
}

main();
