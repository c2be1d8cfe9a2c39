import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalVm, type LocalVm } from '../../api/local.ts';
import { formatMac } from '../net/backend.ts';
import { startRelay, type Relay } from '../net/relay.ts';
import { NetSwitch } from '../net/switch.ts';
import { NodeWebSocketNet } from '../net/websocket-node.ts';
import { VirtioNet } from './virtio-net.ts';

// Two default guests booted side by side in this process, their eth0 on one NetSwitch: static
// addresses with busybox ifconfig, then ping both ways. The second guest also has eth1 on a
// WebSocket relay (127.0.0.1): the test, as a station behind the relay, sends it an ARP request
// and an ICMP echo request and checks the guest's ARP reply and echo reply.

const kernel = new Uint8Array(readFileSync(new URL('../../../public/kernels/bzImage', import.meta.url)));
const initrd = new Uint8Array(readFileSync(new URL('../../../public/kernels/initramfs.cpio', import.meta.url)));
const BOOT_TIMEOUT = 240_000;
const MARKER = 'virtlite: boot complete, shell ready';
const MAC_A = Uint8Array.of(0x52, 0x54, 0x00, 0x00, 0x00, 0x0a);
const MAC_B = Uint8Array.of(0x52, 0x54, 0x00, 0x00, 0x00, 0x0b);
const MAC_B1 = Uint8Array.of(0x52, 0x54, 0x00, 0x00, 0x01, 0x0b);
const MAC_X = Uint8Array.of(0x52, 0x54, 0x00, 0xee, 0xee, 0x01); // the test's station on the relay
const IP_B1 = [10, 0, 1, 2];
const IP_X = [10, 0, 1, 1];

let a: LocalVm;
let b: LocalVm;
let relay: Relay;
let ws: NodeWebSocketNet;
const sw = new NetSwitch();

beforeAll(async () => {
  relay = await startRelay();
  ws = new NodeWebSocketNet(relay.url);
  await ws.ready;
  a = startLocalVm({ kernel, initrd, nics: [{ backend: sw.connect(), mac: MAC_A }] });
  b = startLocalVm({ kernel, initrd, nics: [{ backend: sw.connect(), mac: MAC_B }, { backend: ws, mac: MAC_B1 }] });
  await Promise.all([a.vm.waitFor(MARKER, { timeoutMs: BOOT_TIMEOUT }), b.vm.waitFor(MARKER, { timeoutMs: BOOT_TIMEOUT })]);
}, BOOT_TIMEOUT + 5000);

afterAll(async () => {
  a?.vm.stop();
  b?.vm.stop();
  ws?.close();
  await relay?.close();
});

function shell(local: LocalVm) {
  return async (command: string, expectedExit = 0) => {
    const r = await local.vm.exec(command, { timeoutMs: 60_000 });
    expect(r.exitCode, `${command}\n${r.stdout}`).toBe(expectedExit);
    return r.stdout;
  };
}

/** IPv4 header checksum / ICMP checksum (RFC 1071). */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function arpRequest(): Uint8Array {
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...MAC_X, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
    ...MAC_X, ...IP_X, 0, 0, 0, 0, 0, 0, ...IP_B1,
  ]);
}

function echoRequest(seq: number): Uint8Array {
  const payload = new TextEncoder().encode('virtlite-relay-ping');
  const icmp = Uint8Array.from([8, 0, 0, 0, 0x12, 0x34, 0, seq, ...payload]);
  const c = checksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  const total = 20 + icmp.length;
  const ip = Uint8Array.from([0x45, 0, total >> 8, total & 0xff, 0, seq, 0x40, 0, 64, 1, 0, 0, ...IP_X, ...IP_B1]);
  const ipc = checksum(ip);
  ip[10] = ipc >> 8;
  ip[11] = ipc & 0xff;
  return Uint8Array.from([...MAC_B1, ...MAC_X, 0x08, 0x00, ...ip, ...icmp]);
}

/** The next frame the relay sees that matches `test`. */
function relayFrame(test: (f: Uint8Array) => boolean, timeoutMs = 20_000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching frame at the relay')), timeoutMs);
    relay.onFrame = (f) => {
      if (!test(f)) return;
      clearTimeout(timer);
      relay.onFrame = undefined;
      resolve(f);
    };
  });
}

describe('virtio-net in the default guest', () => {
  it('finds the virtio-net device with its MAC and the link up', async () => {
    const sh = shell(b);
    expect(await sh('cat /sys/bus/pci/devices/0000:00:01.0/vendor /sys/bus/pci/devices/0000:00:01.0/device')).toMatch(/0x1af4\s+0x1041/);
    expect(await sh('cat /sys/class/net/eth0/address /sys/class/net/eth1/address')).toContain(`${formatMac(MAC_B)}\n${formatMac(MAC_B1)}`);
    await sh('ifconfig eth0 up && ifconfig eth1 up');
    expect(await sh('cat /sys/class/net/eth0/carrier')).toMatch(/^1\s*$/m);
  });

  it('two VMs on one switch ping each other (static addresses)', async () => {
    await shell(a)('ifconfig eth0 10.0.0.1 netmask 255.255.255.0 up');
    await shell(b)('ifconfig eth0 10.0.0.2 netmask 255.255.255.0 up');
    const out = await shell(a)('ping -c 3 -W 5 10.0.0.2');
    expect(out).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
    expect(await shell(b)('ping -c 2 -W 5 10.0.0.1')).toMatch(/2 packets received/);
    expect(sw.forwarded).toBeGreaterThan(0);
    const net = a.machine.virtio.find((t) => t.model instanceof VirtioNet)!.model as VirtioNet;
    expect(net.stats.txFrames).toBeGreaterThanOrEqual(4);
    expect(net.stats.rxFrames).toBeGreaterThanOrEqual(4);
  });

  it('a guest answers ARP and ICMP echo from a station behind the WebSocket relay', async () => {
    await shell(b)(`ifconfig eth1 ${IP_B1.join('.')} netmask 255.255.255.0 up`);
    const isArpReply = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x06 && f[21] === 2;
    const arp = relayFrame(isArpReply);
    relay.inject(arpRequest());
    const reply = await arp;
    expect(Array.from(reply.subarray(0, 6))).toEqual(Array.from(MAC_X)); // to the station
    expect(Array.from(reply.subarray(22, 28))).toEqual(Array.from(MAC_B1)); // sender MAC: eth1
    expect(Array.from(reply.subarray(28, 32))).toEqual(IP_B1);
    const isEchoReply = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 0;
    const echo = relayFrame(isEchoReply);
    relay.inject(echoRequest(1));
    const pong = await echo;
    expect(Array.from(pong.subarray(30, 34))).toEqual(IP_X);
    expect(new TextDecoder().decode(pong.subarray(42))).toContain('virtlite-relay-ping');
  });

  it('frames for an interface that is down fill its ring, then wait or drop; the idle guest still sleeps', async () => {
    await shell(b)('ifconfig eth1 down');
    const net = b.machine.virtio.filter((t) => t.model instanceof VirtioNet)[1]!.model as VirtioNet;
    for (let i = 0; i < 700; i++) relay.inject(arpRequest());
    const deadline = performance.now() + 20_000;
    while (net.stats.rxDropped === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(net.stats.rxDropped).toBeGreaterThan(0);
    expect(net.hasPendingRx).toBe(true); // the backlog waits for buffers that do not come
    // The guest is idle at its prompt: the runner must sleep, not spin on the waiting frames.
    let idle = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (b.runner.stats().idle) idle++;
    }
    expect(idle).toBeGreaterThan(10);
    expect((await b.vm.exec('echo alive')).stdout).toContain('alive');
  });
});
