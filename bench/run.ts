/**
 * `npm run bench`: prints the numbers our speed targets are checked by.
 *
 * Until virtlite's CPU exists, the only thing to measure is the reference: the default guest's
 * boot to its shell marker on QEMU microvm (TCG). virtlite's own boot time, MIPS and the ratio
 * to this reference join here as they are built. Timing is never asserted: this only reports.
 */
import { referenceBoot } from '../guest/reference-boot.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    process.stdout.write(`reference boot ${i + 1}/${RUNS} (QEMU microvm, TCG)… `);
    const r = await referenceBoot({ pcie: true, commands: [] });
    times.push(r.bootSeconds);
    process.stdout.write(`${r.bootSeconds.toFixed(2)} s\n`);
  }
  console.log('\nbenchmark                                   value');
  console.log(`qemu-microvm-tcg boot to marker (median)    ${median(times).toFixed(2)} s`);
  console.log('virtlite boot to marker                     n/a (CPU core not implemented yet)');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
