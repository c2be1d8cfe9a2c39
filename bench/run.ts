/**
 * `npm run bench`: prints the numbers our speed targets are checked by. Timing is never
 * asserted; docs/PERFORMANCE.md records what was measured.
 *
 * - interpreter MIPS on guest-code workloads (bench/cpu.ts), target >= 50 MIPS in Node;
 * - the reference: the default guest's boot to its shell marker on QEMU microvm (TCG).
 * virtlite's own boot time joins here when the machine boots (issue 5).
 */
import { WORKLOADS, mips } from './cpu.ts';
import { referenceBoot } from '../guest/reference-boot.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_MIPS = 50;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  console.log('interpreter (Node, long mode, paging on)');
  const rates: number[] = [];
  for (const [name, source] of Object.entries(WORKLOADS)) {
    const runs = Array.from({ length: RUNS }, () => mips(source, 1000));
    const m = median(runs);
    rates.push(m);
    console.log(`  ${name.padEnd(16)} ${m.toFixed(1).padStart(6)} MIPS   (runs: ${runs.map((r) => r.toFixed(1)).join(', ')})`);
  }
  const geo = Math.exp(rates.reduce((s, r) => s + Math.log(r), 0) / rates.length);
  console.log(`  ${'geometric mean'.padEnd(16)} ${geo.toFixed(1).padStart(6)} MIPS   ratio to the ${TARGET_MIPS} MIPS target: ${(geo / TARGET_MIPS).toFixed(2)}`);

  console.log('\nreference boot (QEMU microvm, pcie=on, TCG) to the shell marker');
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await referenceBoot({ pcie: true, commands: [] });
    times.push(r.bootSeconds);
  }
  console.log(`  median ${median(times).toFixed(2)} s   (runs: ${times.map((t) => t.toFixed(2)).join(', ')})`);
  console.log('  virtlite boot to marker: n/a (the machine does not boot yet)');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
