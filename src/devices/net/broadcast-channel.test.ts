import { afterEach, describe, expect, it } from 'vitest';
import { BroadcastChannelNet } from './broadcast-channel.ts';
import { NetSwitch } from './switch.ts';

const open: BroadcastChannelNet[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

function channel(name: string): BroadcastChannelNet {
  const c = new BroadcastChannelNet(name);
  open.push(c);
  return c;
}

function next(c: BroadcastChannelNet): Promise<Uint8Array> {
  return new Promise((resolve) => c.onReceive(resolve));
}

describe('BroadcastChannelNet (Node >= 18 global BroadcastChannel)', () => {
  it('carries frames to the other channels of the same name only, copying view slices exactly', async () => {
    const name = `virtlite-test-${Math.random()}`;
    const [a, b] = [channel(name), channel(name)];
    const other = channel(`${name}-other`);
    let strays = 0;
    other.onReceive(() => strays++);
    const big = new Uint8Array(100).map((_, i) => i);
    const got = next(b);
    a.send(big.subarray(20, 80)); // a view: only its 60 bytes travel
    expect(await got).toEqual(big.subarray(20, 80));
    expect(strays).toBe(0);
  });

  it('joins two switches (two "tabs") into one LAN', async () => {
    const name = `virtlite-lan-${Math.random()}`;
    const [left, right] = [new NetSwitch(), new NetSwitch()];
    left.attach(channel(name));
    right.attach(channel(name));
    const a = left.connect();
    const b = right.connect();
    const got = new Promise<Uint8Array>((resolve) => b.onReceive(resolve));
    const frame = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x06, 42]);
    a.send(frame);
    expect(await got).toEqual(frame);
  });

  it('ignores messages that are not frames', async () => {
    const name = `virtlite-junk-${Math.random()}`;
    const a = channel(name);
    const raw = new BroadcastChannel(name);
    let n = 0;
    a.onReceive(() => n++);
    raw.postMessage('hello');
    raw.postMessage(new ArrayBuffer(4));
    raw.postMessage(new ArrayBuffer(20));
    await new Promise((r) => setTimeout(r, 50));
    raw.close();
    expect(n).toBe(1);
  });
});
