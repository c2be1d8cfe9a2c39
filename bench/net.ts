/**
 * VM-to-VM network throughput for `npm run bench`: two default guests in this process, eth0 of
 * each on one NetSwitch (src/devices/net/switch.ts), static addresses; the second serves a file
 * of zeros with busybox httpd and the first fetches it with busybox wget. The rate is the file
 * size over the host time of the whole `wget` command (TCP over virtio-net, both guests'
 * interpreters sharing this thread), measured from this side of the console.
 */
import { createVM } from '../src/api/node.ts';
import { NetSwitch } from '../src/devices/net/switch.ts';

const MARKER = 'virtlite: boot complete, shell ready';

export async function netThroughput(megabytes: number, runs: number): Promise<{ mbps: number[]; frames: number }> {
  const sw = new NetSwitch();
  const a = createVM({ nics: [{ backend: sw.connect() }] });
  const b = createVM({ nics: [{ backend: sw.connect() }] });
  try {
    await Promise.all([a.vm.waitFor(MARKER, { timeoutMs: 240_000 }), b.vm.waitFor(MARKER, { timeoutMs: 240_000 })]);
    const run = async (vm: typeof a.vm, command: string) => {
      const r = await vm.exec(command, { timeoutMs: 600_000 });
      if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}\n${r.stdout}`);
      return r.stdout;
    };
    await run(a.vm, 'ifconfig eth0 10.0.0.1 netmask 255.255.255.0 up');
    await run(b.vm, 'ifconfig eth0 10.0.0.2 netmask 255.255.255.0 up');
    await run(b.vm, `mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=1M count=${megabytes} 2>/dev/null && httpd -p 8080 -h /tmp/www`);
    await run(a.vm, 'ping -c 1 -W 5 10.0.0.2 >/dev/null');
    const mbps: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await run(a.vm, 'wget -q -O /dev/null http://10.0.0.2:8080/blob');
      const seconds = (performance.now() - started) / 1000;
      mbps.push((megabytes * 8 * 1.048576) / seconds);
    }
    return { mbps, frames: sw.forwarded + sw.flooded };
  } finally {
    a.vm.stop();
    b.vm.stop();
  }
}
