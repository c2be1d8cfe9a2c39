/**
 * virtio-blk read throughput for `npm run bench -- disk`: the default guest in this process with
 * a 32 MiB disk held in memory (src/devices/virtio/disk.ts MemoryBackend, under the machine's
 * copy-on-write overlay, as every disk is), read whole by `dd if=/dev/vda of=/dev/null bs=1M`.
 * Each run first drops the guest's page cache (`/proc/sys/vm/drop_caches`), so every run reads
 * through the device. Two rates per run: the disk size over the guest's time for dd alone
 * (/proc/uptime before and after, 10 ms resolution; guest time follows the host clock), and over
 * the host time of the whole command, measured from this side of the console (exec's round trip
 * included). The default guest's busybox dd (Debian's busybox-static) prints no rate of its own.
 *
 * Not supported: write throughput (the overlay absorbs writes in memory; a flush to a file is
 * the CLI's --overlay), asynchronous backends (the page's URL/Blob disks).
 */
import { createVM } from '../src/api/node.ts';
import { MemoryBackend } from '../src/devices/virtio/disk.ts';

const MARKER = 'virtlite: boot complete, shell ready';
const MIB = 1024 * 1024;

export interface DiskRun {
  /** MB/s (10^6 bytes per second) from the host's timing of the command. */
  readonly hostMBps: number;
  /** MB/s from the guest's own clock around dd alone. */
  readonly guestMBps: number;
}

export async function diskThroughput(megabytes: number, runs: number): Promise<DiskRun[]> {
  const image = new Uint8Array(megabytes * MIB);
  // Not all zeros: a pattern the guest could check (it does not; the device copies either way).
  for (let i = 0; i < image.length; i += 4096) image[i] = (i / 4096) & 0xff;
  const { vm } = createVM({ disks: [{ backend: new MemoryBackend(image), readOnly: true }] });
  try {
    await vm.waitFor(MARKER, { timeoutMs: 240_000 });
    const size = await vm.exec('cat /sys/block/vda/size');
    if (Number(size.stdout.trim()) * 512 !== image.length) throw new Error(`/dev/vda has ${size.stdout.trim()} sectors, expected ${image.length / 512}`);
    const out: DiskRun[] = [];
    for (let i = 0; i < runs; i++) {
      const drop = await vm.exec('sync && echo 3 > /proc/sys/vm/drop_caches');
      if (drop.exitCode !== 0) throw new Error(`drop_caches: exit ${drop.exitCode}\n${drop.stdout}`);
      const started = performance.now();
      const r = await vm.exec('cat /proc/uptime && dd if=/dev/vda of=/dev/null bs=1M 2>&1 && cat /proc/uptime', { timeoutMs: 600_000 });
      const seconds = (performance.now() - started) / 1000;
      const uptimes = [...r.stdout.matchAll(/^(\d+\.\d+) \d+\.\d+$/gm)].map((m) => Number(m[1]));
      if (r.exitCode !== 0 || !r.stdout.includes(`${megabytes}+0 records in`) || uptimes.length !== 2) throw new Error(`dd: exit ${r.exitCode}\n${r.stdout}`);
      const guestSeconds = Math.max(0.01, uptimes[1]! - uptimes[0]!);
      out.push({ hostMBps: image.length / 1e6 / seconds, guestMBps: image.length / 1e6 / guestSeconds });
    }
    return out;
  } finally {
    vm.stop();
  }
}
