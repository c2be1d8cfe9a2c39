import { describe, expect, it } from 'vitest';
import type { NetBackend } from './backend.ts';
import { formatMac, parseMac, randomMac } from './backend.ts';
import { NetSwitch } from './switch.ts';

const A = [0x52, 0x54, 0, 0, 0, 0xa];
const B = [0x52, 0x54, 0, 0, 0, 0xb];
const C = [0x52, 0x54, 0, 0, 0, 0xc];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function eth(dst: number[], src: number[], tag: number): Uint8Array {
  return Uint8Array.from([...dst, ...src, 0x08, 0x00, tag]);
}

function port(sw: NetSwitch): { backend: NetBackend; got: number[] } {
  const backend = sw.connect();
  const got: number[] = [];
  backend.onReceive((f) => void got.push(f[14]!));
  return { backend, got };
}

describe('NetSwitch', () => {
  it('floods broadcast and unknown unicast, then forwards to the learned port only', () => {
    const sw = new NetSwitch();
    const [a, b, c] = [port(sw), port(sw), port(sw)];
    a.backend.send(eth(BCAST, A, 1)); // broadcast: everyone else
    expect([a.got, b.got, c.got]).toEqual([[], [1], [1]]);
    a.backend.send(eth(B, A, 2)); // B not learned yet: flooded
    expect([a.got, b.got, c.got]).toEqual([[], [1, 2], [1, 2]]);
    b.backend.send(eth(A, B, 3)); // A was learned on port a
    expect([a.got, b.got, c.got]).toEqual([[3], [1, 2], [1, 2]]);
    a.backend.send(eth(B, A, 4)); // B learned now
    expect([a.got, b.got, c.got]).toEqual([[3], [1, 2, 4], [1, 2]]);
    expect(sw.forwarded).toBe(2);
    expect(sw.flooded).toBe(2);
  });

  it('never sends a frame back to its source port, drops runts, forgets closed ports', () => {
    const sw = new NetSwitch();
    const [a, b] = [port(sw), port(sw)];
    a.backend.send(eth(BCAST, A, 1));
    a.backend.send(eth(A, C, 2)); // C on port a, destination A also on port a: filtered
    expect(a.got).toEqual([]);
    expect(b.got).toEqual([1]);
    a.backend.send(new Uint8Array(13));
    expect(b.got).toEqual([1]);
    a.backend.close!();
    expect(sw.portCount).toBe(1);
    const c = port(sw);
    b.backend.send(eth(A, B, 5)); // A's entry went with its port: flooded to c
    expect(c.got).toEqual([5]);
  });

  it('joins an uplink as one more port', () => {
    const sw = new NetSwitch();
    const a = port(sw);
    let toUplink: Uint8Array[] = [];
    let fromUplink: (f: Uint8Array) => void = () => {};
    sw.attach({ send: (f) => void toUplink.push(f), onReceive: (cb) => (fromUplink = cb) });
    a.backend.send(eth(BCAST, A, 7));
    expect(toUplink.map((f) => f[14])).toEqual([7]);
    fromUplink(eth(A, C, 8));
    expect(a.got).toEqual([8]);
    toUplink = [];
    a.backend.send(eth(C, A, 9)); // C learned on the uplink
    expect(toUplink.map((f) => f[14])).toEqual([9]);
  });

  it('formats, parses and makes MAC addresses', () => {
    expect(formatMac(Uint8Array.of(0x52, 0x54, 0, 0x12, 0xab, 0xff))).toBe('52:54:00:12:ab:ff');
    expect(parseMac('52:54:00:12:AB:ff')).toEqual(Uint8Array.of(0x52, 0x54, 0, 0x12, 0xab, 0xff));
    expect(parseMac('52:54:00:12:ab')).toBeUndefined();
    expect(parseMac('52:54:00:12:ab:zz')).toBeUndefined();
    const m = randomMac();
    expect(m[0]! & 3).toBe(2); // locally administered unicast
    expect(formatMac(m)).toMatch(/^52:54:00:/);
  });
});
