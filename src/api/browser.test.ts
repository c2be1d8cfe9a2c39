import { readFileSync } from 'node:fs';
import { expose, wrap } from 'comlink';
import { describe, expect, it, vi } from 'vitest';
import { VmHost } from '../worker/host.ts';
import { connectVm, parseNetSpec, toImageSource, type BrowserVmOptions } from './browser.ts';
import type { VmWorkerApi, WorkerEvent } from './protocol.ts';

// The page's side of the protocol against the worker's side, over a real MessageChannel with
// comlink, as the browser runs them (minus the Worker itself), booting the default kernel.

const kernel = new Uint8Array(readFileSync(new URL('../../public/kernels/bzImage', import.meta.url)));
const initrd = new Uint8Array(readFileSync(new URL('../../public/kernels/initramfs.cpio', import.meta.url)));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(options: BrowserVmOptions) {
  const { port1, port2 } = new MessageChannel();
  const host = new VmHost();
  expose(host, port1);
  const events: WorkerEvent[] = [];
  const { handle, fail } = connectVm(wrap<VmWorkerApi>(port2), { ...options, onEvent: (e) => events.push(e) }, 'http://127.0.0.1/', () => {
    host.stop();
    port1.close();
    port2.close();
  });
  return { handle, fail, events, host };
}

describe('createVM over the worker protocol', () => {
  it('boots the kernel: console bytes, machine log, stats, pause, resume and reset', async () => {
    const { handle, events } = connect({ kernel, initrd });
    const { vm } = handle;
    try {
      const info = await handle.ready;
      expect(info.kernel).toMatch(/^Linux 6\.1\.\d+/);
      expect(info.kernelBytes).toBe(kernel.length);
      expect(info.initrdBytes).toBe(initrd.length);
      expect(info.ramSize).toBe(256 * 2 ** 20);
      expect(info.cmdline).toMatch(/console=ttyS0/);
      expect(info.disk).toBeUndefined();
      // Events travel on their own channel: they may arrive just after create() has returned.
      await vi.waitFor(() => {
        const progress = events.filter((e) => e.type === 'image/progress');
        expect(new Set(progress.map((e) => e.image))).toEqual(new Set(['initrd', 'kernel']));
        expect(events.some((e) => e.type === 'machine/log' && /^ACPI: RSDP@0x/.test(e.line))).toBe(true);
      });

      await vm.waitFor('Linux version 6.1', { timeoutMs: 60_000 });
      // Output arrives in batches, one per runner slice, never empty.
      const chunks = events.filter((e) => e.type === 'serial/output');
      expect(chunks.every((e) => e.data.length > 0)).toBe(true);

      await handle.pause();
      const paused = await handle.stats();
      expect(paused.state).toBe('paused');
      expect(paused.instructions).toBeGreaterThan(1_000_000);
      expect(paused.busyMs).toBeGreaterThan(0);
      const outputAtPause = vm.output.length;
      await sleep(300);
      const still = await handle.stats();
      expect(still.instructions).toBe(paused.instructions);
      expect(vm.output.length).toBe(outputAtPause);

      await handle.resume();
      await vm.waitFor('\n', { from: outputAtPause, timeoutMs: 60_000 });
      expect((await handle.stats()).state).toBe('running');

      const beforeReset = vm.output.length;
      await handle.reset();
      await vm.waitFor('Linux version 6.1', { from: beforeReset, timeoutMs: 60_000 });
      const afterReset = await handle.stats();
      expect(afterReset.resets).toBe(1);
      expect(events.some((e) => e.type === 'machine/log' && e.line === 'machine reset: booting again')).toBe(true);
    } finally {
      handle.terminate();
    }
  }, 120_000);

  it('boots to the shell: exec with exit codes, typed-ahead input, an idle worker, poweroff, and reset boots again', async () => {
    const { handle, events, host } = connect({ kernel, initrd });
    const { vm } = handle;
    try {
      // Typed before the machine exists: kept and given to the guest's console.
      vm.write('echo typed-$((40+2))-ahead\n');
      await vm.waitFor('virtlite: boot complete, shell ready', { timeoutMs: 180_000 });
      await vm.waitFor('typed-42-ahead', { timeoutMs: 60_000 });
      expect(await vm.exec('uname -m')).toEqual({ stdout: 'x86_64\n', exitCode: 0 });
      expect((await vm.exec('sh -c "exit 7"')).exitCode).toBe(7);

      // Idle at the prompt: the runner sleeps between the guest's timer ticks.
      await sleep(1000);
      const a = await handle.stats();
      await sleep(2000);
      const b = await handle.stats();
      expect((b.busyMs - a.busyMs) / 2000).toBeLessThan(0.5);

      await vm.poweroff();
      await vi.waitFor(async () => expect((await handle.stats()).state).toBe('poweroff'));
      expect(events.filter((e) => e.type === 'machine/poweroff')).toHaveLength(1);

      // After a poweroff, reset() runs the machine again from the same images.
      let text = '';
      const decoder = new TextDecoder();
      host.subscribe((e) => {
        if (e.type === 'serial/output') text += decoder.decode(e.data, { stream: true });
      });
      await handle.reset();
      expect((await handle.stats()).state).toBe('running');
      await vi.waitFor(() => expect(text).toContain('Linux version 6.1'), { timeout: 60_000, interval: 100 });
    } finally {
      handle.terminate();
    }
  }, 300_000);

  it('refuses a bad kernel: ready rejects with the reason and the Vm ends with it', async () => {
    const { handle } = connect({ kernel: new TextEncoder().encode('not a kernel'.repeat(100)), initrd: null });
    try {
      await expect(handle.ready).rejects.toThrow(/"HdrS" boot-protocol magic is missing/);
      await expect(handle.ready).rejects.toMatchObject({ name: 'BzImageError' });
      await expect(handle.vm.waitFor('anything')).rejects.toThrow(/the emulator failed: .*HdrS/);
      expect((await handle.stats()).state).toBe('empty');
    } finally {
      handle.terminate();
    }
  });

  it('refuses a RAM size the machine cannot have', async () => {
    const { handle } = connect({ kernel, initrd: null, ramSize: 3 * 2 ** 20 });
    try {
      await expect(handle.ready).rejects.toThrow(/RAM size must be a whole number of MiB/);
    } finally {
      handle.terminate();
    }
  });

  it('attaches a disk (bytes: not saved across runs) and exports its overlay; without autostart the machine waits', async () => {
    const disk = new Uint8Array(4096).fill(0xa5);
    const { handle, events } = connect({ kernel, initrd: null, disk, autostart: false, ramSize: 64 * 2 ** 20 });
    try {
      const info = await handle.ready;
      expect(info.disk).toEqual({ name: 'bytes', bytes: 4096, readOnly: false, persistent: false, restoredChunks: 0 });
      expect(info.ramSize).toBe(64 * 2 ** 20);
      await vi.waitFor(() => expect(events.some((e) => e.type === 'machine/log' && /^disk: bytes \(4096 bytes\) on \/dev\/vda$/.test(e.line))).toBe(true));
      const overlay = await handle.exportDiskOverlay();
      expect(new TextDecoder().decode(overlay!.subarray(0, 6))).toBe('VLCOW1');
      await sleep(100);
      const stats = await handle.stats();
      expect(stats.state).toBe('created');
      expect(stats.instructions).toBe(0);
      await handle.start();
      await handle.vm.waitFor('Linux version', { timeoutMs: 60_000 });
    } finally {
      handle.terminate();
    }
  }, 90_000);

  it('plugs eth0 into a BroadcastChannel: the guest ARPs with its MAC on the channel and learns a reply from it', async () => {
    const channel = `virtlite-test-${process.pid}-${Date.now()}`;
    const guestMac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const peerMac = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
    const peerIp = [10, 0, 0, 2];
    const guestIp = [10, 0, 0, 1];
    const seen: Uint8Array[] = [];
    const peer = new BroadcastChannel(channel);
    peer.onmessage = (e: MessageEvent) => {
      const f = new Uint8Array(e.data as ArrayBuffer);
      seen.push(f);
      // An ARP request (EtherType 0x0806, opcode 1) for 10.0.0.2: answer it as that host.
      if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && [...f.subarray(38, 42)].join('.') === peerIp.join('.')) {
        const reply = new Uint8Array(42);
        reply.set(f.subarray(6, 12), 0); // to the asker
        reply.set(peerMac, 6);
        reply.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02], 12); // Ethernet/IPv4, reply
        reply.set(peerMac, 22);
        reply.set(peerIp, 28);
        reply.set(f.subarray(22, 32), 32); // the asker's MAC and IP
        peer.postMessage(reply.buffer);
      }
    };
    const { handle, events } = connect({ kernel, initrd, net: `broadcast:${channel}`, mac: '52:54:00:12:34:56' });
    const { vm } = handle;
    try {
      const info = await handle.ready;
      expect(info.net).toEqual({ name: `broadcast:${channel}`, mac: '52:54:00:12:34:56' });
      await vi.waitFor(() => expect(events.some((e) => e.type === 'machine/log' && e.line === `net: eth0 (52:54:00:12:34:56) on broadcast:${channel}`)).toBe(true));
      await vm.waitFor('virtlite: boot complete, shell ready', { timeoutMs: 180_000 });
      expect((await vm.exec('cat /sys/class/net/eth0/address')).stdout).toBe('52:54:00:12:34:56\n');
      expect((await vm.exec('ifconfig eth0 10.0.0.1 netmask 255.255.255.0 up')).exitCode).toBe(0);
      // Nobody answers the echo request (the peer only does ARP): ping fails, the frames are on the channel.
      expect((await vm.exec('ping -c 1 -W 2 10.0.0.2', { timeoutMs: 30_000 })).exitCode).not.toBe(0);
      const arp = seen.find((f) => f[12] === 0x08 && f[13] === 0x06 && f[21] === 1);
      expect(arp && [...arp.subarray(6, 12)]).toEqual(guestMac);
      expect(arp && [...arp.subarray(28, 32)]).toEqual(guestIp);
      const echo = seen.find((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 8);
      expect(echo && [...echo.subarray(0, 6)]).toEqual(peerMac); // sent to the MAC the guest learnt from the reply
      expect((await vm.exec('cat /proc/net/arp')).stdout).toMatch(/10\.0\.0\.2\s+0x1\s+0x2\s+52:54:00:ab:cd:ef/);
    } finally {
      handle.terminate();
      peer.close();
    }
  }, 240_000);

  it('refuses bad network settings before loading anything', async () => {
    const bad = connect({ kernel, initrd: null, net: 'tcp://host:1/' });
    const group = connect({ kernel, initrd: null, net: 'none', mac: '01:00:5e:00:00:01' });
    const empty = connect({ kernel, initrd: null, net: { kind: 'broadcast', channel: '' } });
    try {
      await expect(bad.handle.ready).rejects.toThrow(/expected broadcast:NAME, ws:\/\/HOST:PORT\/ \(or wss:\/\/\), or none/);
      await expect(group.handle.ready).rejects.toThrow(/group \(multicast\) address/);
      await expect(empty.handle.ready).rejects.toThrow(/needs a channel name/);
      expect(bad.events.some((e) => e.type === 'image/progress')).toBe(false);
    } finally {
      for (const c of [bad, group, empty]) c.handle.terminate();
    }
  });

  it('a card with nothing attached (net none) is in the info and the machine log', async () => {
    const { handle, events } = connect({ kernel, initrd: null, net: 'none', autostart: false });
    try {
      const info = await handle.ready;
      expect(info.net?.name).toBe('none');
      expect(info.net?.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
      await vi.waitFor(() => expect(events.some((e) => e.type === 'machine/log' && e.line === `net: eth0 (${info.net!.mac}) on none`)).toBe(true));
    } finally {
      handle.terminate();
    }
  });

  it('ends the VM when the worker fails outside the protocol', async () => {
    const { handle, fail, events } = connect({ kernel, initrd: null, autostart: false });
    try {
      await handle.ready;
      fail("the emulator's worker failed: boom");
      await expect(handle.vm.waitFor('never')).rejects.toThrow(/the emulator failed: the emulator's worker failed: boom/);
      expect(events.at(-1)).toEqual({ type: 'machine/error', message: "the emulator's worker failed: boom" });
    } finally {
      handle.terminate();
    }
  });
});

describe('parseNetSpec', () => {
  it('reads broadcast:NAME, ws:// and wss:// URLs and none; refuses anything else', () => {
    expect(parseNetSpec('broadcast:lan0')).toEqual({ kind: 'broadcast', channel: 'lan0' });
    expect(parseNetSpec(' broadcast:a b ')).toEqual({ kind: 'broadcast', channel: 'a b' });
    expect(parseNetSpec('ws://127.0.0.1:8080')).toEqual({ kind: 'websocket', url: 'ws://127.0.0.1:8080/' });
    expect(parseNetSpec('WSS://relay.example/net')).toEqual({ kind: 'websocket', url: 'wss://relay.example/net' });
    expect(parseNetSpec('none')).toEqual({ kind: 'none' });
    for (const bad of ['', 'broadcast:', 'lan0', 'http://h/', 'ws://', '/relay']) expect(() => parseNetSpec(bad), bad).toThrow(/expected broadcast:NAME/);
  });
});

describe('toImageSource', () => {
  it('makes URLs absolute against the page and passes files and bytes through', () => {
    expect(toImageSource('kernels/bzImage', 'http://h/docs/page.html')).toEqual({ url: 'http://h/docs/kernels/bzImage' });
    expect(toImageSource('/k', 'http://h/docs/')).toEqual({ url: 'http://h/k' });
    expect(toImageSource(new URL('https://x/y'), 'http://h/')).toEqual({ url: 'https://x/y' });
    const blob = new Blob(['x']);
    expect(toImageSource(blob, 'http://h/')).toEqual({ file: blob });
    const bytes = new Uint8Array(3);
    expect(toImageSource(bytes, 'http://h/')).toEqual({ bytes });
  });
});
