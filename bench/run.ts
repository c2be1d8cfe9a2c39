/**
 * `npm run bench`: prints the numbers our speed targets are checked by. Timing is never
 * asserted; docs/PERFORMANCE.md records what was measured.
 *
 * - interpreter MIPS on guest-code workloads (bench/cpu.ts), target >= 50 MIPS in Node;
 * - the default guest's boot to its shell marker on virtlite (Node, this process) and on the
 *   reference, QEMU microvm (TCG), with the ratio between them;
 * - VM-to-VM network throughput: two guests on one switch, an HTTP download (bench/net.ts);
 * - virtio-blk read throughput: dd of a whole 32 MiB in-memory disk in the guest (bench/disk.ts).
 *
 * `npm run bench -- net` runs the network part only, `npm run bench -- disk` the disk part.
 */
import { WORKLOADS, mips } from './cpu.ts';
import { referenceBoot } from '../guest/reference-boot.ts';
import { createVM } from '../src/api/node.ts';
import { netThroughput } from './net.ts';
import { diskThroughput } from './disk.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_MIPS = 50;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const NET_MEGABYTES = Number(process.env.BENCH_NET_MB ?? 8);

async function network(): Promise<void> {
  console.log(`\nVM-to-VM network (two guests on one NetSwitch, wget of ${NET_MEGABYTES} MiB from busybox httpd)`);
  const r = await netThroughput(NET_MEGABYTES, RUNS);
  console.log(`  median ${median(r.mbps).toFixed(1)} Mbit/s   (runs: ${r.mbps.map((m) => m.toFixed(1)).join(', ')}; ${r.frames} frames switched)`);
}

const DISK_MEGABYTES = Number(process.env.BENCH_DISK_MB ?? 32);

async function disk(): Promise<void> {
  console.log(`\nvirtio-blk read (dd if=/dev/vda of=/dev/null bs=1M of a ${DISK_MEGABYTES} MiB in-memory disk, page cache dropped before each run)`);
  const runs = await diskThroughput(DISK_MEGABYTES, RUNS);
  const host = runs.map((r) => r.hostMBps);
  const guest = runs.map((r) => r.guestMBps);
  console.log(`  guest-timed (dd alone)   median ${median(guest).toFixed(1)} MB/s   (runs: ${guest.map((m) => m.toFixed(1)).join(', ')})`);
  console.log(`  host-timed (the command) median ${median(host).toFixed(1)} MB/s   (runs: ${host.map((m) => m.toFixed(1)).join(', ')})`);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'net') return network();
  if (process.argv[2] === 'disk') return disk();
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
  const reference = median(times);
  console.log(`  median ${reference.toFixed(2)} s   (runs: ${times.map((t) => t.toFixed(2)).join(', ')})`);

  console.log('\nvirtlite boot (Node, interpreter) to the shell marker');
  const boots: { s: number; minsn: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const { vm, machine } = createVM();
    await vm.booted;
    boots.push({ s: (performance.now() - started) / 1000, minsn: machine.instructions / 1e6 });
    vm.stop();
    process.stdout.write(`  run ${i + 1}: ${boots.at(-1)!.s.toFixed(2)} s, ${boots.at(-1)!.minsn.toFixed(0)} M instructions\n`);
  }
  const boot = median(boots.map((b) => b.s));
  const insns = median(boots.map((b) => b.minsn));
  console.log(`  median ${boot.toFixed(2)} s, ${insns.toFixed(0)} M instructions (${(insns / boot).toFixed(1)} MIPS over the boot)`);
  console.log(`  ratio to the QEMU TCG reference: ${(boot / reference).toFixed(1)}x slower`);
  await network();
  await disk();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
