import { describe, expect, it } from 'vitest';
import { flatMemory } from './mock-driver.ts';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, Virtqueue, readChain, writeChain,
} from './virtqueue.ts';

const SIZE = 8;
const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const MEM = 0x10000;

/** A ready queue of 8 entries on flat memory, with helpers playing the driver. */
function setup(options: { indirect?: boolean; eventIdx?: boolean } = {}) {
  const mem = flatMemory(MEM);
  const v = new DataView(mem.bytes.buffer);
  const q = new Virtqueue(mem, SIZE);
  q.descAddr = DESC;
  q.availAddr = AVAIL;
  q.usedAddr = USED;
  q.indirect = options.indirect ?? false;
  q.eventIdx = options.eventIdx ?? false;
  q.ready = true;
  expect(q.checkRings()).toBe(true);
  let availIdx = 0;
  const desc = (table: number, i: number, addr: number, len: number, flags: number, next = 0) => {
    v.setUint32(table + 16 * i, addr % 2 ** 32, true);
    v.setUint32(table + 16 * i + 4, Math.floor(addr / 2 ** 32), true);
    v.setUint32(table + 16 * i + 8, len, true);
    v.setUint16(table + 16 * i + 12, flags, true);
    v.setUint16(table + 16 * i + 14, next, true);
  };
  const publish = (head: number) => {
    v.setUint16(AVAIL + 4 + 2 * (availIdx % SIZE), head, true);
    availIdx = (availIdx + 1) & 0xffff;
    v.setUint16(AVAIL + 2, availIdx, true);
  };
  return { mem, v, q, desc, publish };
}

describe('Virtqueue chains', () => {
  it('walks a chain: readable then writable segments, zero-length ones dropped', () => {
    const { q, desc, publish, mem } = setup();
    desc(DESC, 2, 0x8000, 4, VIRTQ_DESC_F_NEXT, 5);
    desc(DESC, 5, 0x9000, 0, VIRTQ_DESC_F_NEXT, 1);
    desc(DESC, 1, 0xa000, 3, VIRTQ_DESC_F_WRITE);
    publish(2);
    mem.bytes.set([1, 2, 3, 4], 0x8000);
    const chain = q.pop()!;
    expect(chain).toEqual({ head: 2, segments: [{ addr: 0x8000, len: 4, writable: false }, { addr: 0xa000, len: 3, writable: true }] });
    const buf = new Uint8Array(3);
    expect(readChain(mem, chain, 1, buf)).toBe(3);
    expect([...buf]).toEqual([2, 3, 4]);
    expect(writeChain(mem, chain, 1, Uint8Array.of(9, 9, 9))).toBe(2); // only 2 bytes fit
    expect([...mem.bytes.subarray(0xa000, 0xa003)]).toEqual([0, 9, 9]);
    expect(q.pop()).toBeUndefined();
    expect(q.error).toBeUndefined();
  });

  it('fills the used ring and wraps its index', () => {
    const { q, v, desc, publish } = setup();
    desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_WRITE);
    for (let i = 0; i < 20; i++) {
      publish(0);
      const chain = q.pop()!;
      q.push(chain.head, 7);
    }
    expect(v.getUint16(USED + 2, true)).toBe(20);
    expect(v.getUint32(USED + 4 + 8 * (19 % SIZE) + 4, true)).toBe(7);
  });

  const bad: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    ['a head index beyond the queue', (s) => s.publish(SIZE), /head descriptor/],
    ['a loop', (s) => { s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_NEXT, 1); s.desc(DESC, 1, 0x8000, 1, VIRTQ_DESC_F_NEXT, 0); s.publish(0); }, /loop/],
    ['a next index beyond the queue', (s) => { s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_NEXT, 99); s.publish(0); }, /next descriptor/],
    ['a buffer outside RAM', (s) => { s.desc(DESC, 0, MEM - 2, 4, 0); s.publish(0); }, /outside guest RAM/],
    ['an address above 2^53', (s) => { s.desc(DESC, 0, 2 ** 60, 4, 0); s.publish(0); }, /outside guest RAM/],
    ['a readable buffer after a writable one', (s) => { s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1); s.desc(DESC, 1, 0x8000, 1, 0); s.publish(0); }, /after a device-writable/],
    ['an indirect descriptor without the feature', (s) => { s.desc(DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT); s.publish(0); }, /INDIRECT_DESC/],
    ['an available index too far ahead', (s) => s.v.setUint16(AVAIL + 2, SIZE + 1, true), /ahead/],
  ];
  for (const [what, make, message] of bad) {
    it(`breaks the queue on ${what}, and pops nothing more`, () => {
      const s = setup();
      make(s);
      expect(s.q.pop()).toBeUndefined();
      expect(s.q.error).toMatch(message);
      s.desc(DESC, 3, 0x8000, 1, 0);
      s.publish(3);
      expect(s.q.pop()).toBeUndefined();
    });
  }

  const badIndirect: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    ['INDIRECT with NEXT', (s) => s.desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1), /with NEXT/],
    ['a table length not a multiple of 16', (s) => s.desc(DESC, 0, 0x8000, 24, VIRTQ_DESC_F_INDIRECT), /table length/],
    ['an empty table', (s) => s.desc(DESC, 0, 0x8000, 0, VIRTQ_DESC_F_INDIRECT), /table length/],
    ['a table outside RAM', (s) => s.desc(DESC, 0, MEM - 16, 32, VIRTQ_DESC_F_INDIRECT), /outside guest RAM/],
    ['a nested indirect', (s) => { s.desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT); s.desc(0x8000, 0, 0x9000, 16, VIRTQ_DESC_F_INDIRECT); }, /INDIRECT inside/],
    ['a loop in the table', (s) => { s.desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT); s.desc(0x8000, 0, 0x9000, 1, VIRTQ_DESC_F_NEXT, 1); s.desc(0x8000, 1, 0x9000, 1, VIRTQ_DESC_F_NEXT, 0); }, /loop/],
    ['a next beyond the table', (s) => { s.desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT); s.desc(0x8000, 0, 0x9000, 1, VIRTQ_DESC_F_NEXT, 2); }, /next descriptor 2 >= 2/],
  ];
  for (const [what, make, message] of badIndirect) {
    it(`rejects ${what}`, () => {
      const s = setup({ indirect: true });
      make(s);
      s.publish(0);
      expect(s.q.pop()).toBeUndefined();
      expect(s.q.error).toMatch(message);
    });
  }

  it('follows a valid indirect table', () => {
    const s = setup({ indirect: true });
    s.desc(DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT);
    s.desc(0x8000, 0, 0x9000, 16, VIRTQ_DESC_F_NEXT, 1);
    s.desc(0x8000, 1, 0xa000, 1, VIRTQ_DESC_F_WRITE);
    s.publish(0);
    expect(s.q.pop()).toEqual({ head: 0, segments: [{ addr: 0x9000, len: 16, writable: false }, { addr: 0xa000, len: 1, writable: true }] });
  });

  it('refuses rings outside RAM or misaligned when enabled', () => {
    const q = new Virtqueue(flatMemory(MEM), SIZE);
    q.descAddr = 0x1008; // not 16-aligned
    q.availAddr = AVAIL;
    q.usedAddr = MEM - 8; // runs past RAM
    expect(q.checkRings()).toBe(false);
    expect(q.error).toMatch(/descriptor table, used ring/);
  });
});

describe('Virtqueue notifications', () => {
  it('honours NO_INTERRUPT without event index', () => {
    const s = setup();
    s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_WRITE);
    s.publish(0);
    s.q.push(s.q.pop()!.head, 1);
    expect(s.q.takeNotification()).toBe(true);
    expect(s.q.takeNotification()).toBe(false); // nothing new
    s.v.setUint16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT, true);
    s.publish(0);
    s.q.push(s.q.pop()!.head, 1);
    expect(s.q.takeNotification()).toBe(false);
  });

  it('notifies when the used index passes used_event, and publishes avail_event', () => {
    const s = setup({ eventIdx: true });
    s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_WRITE);
    s.v.setUint16(AVAIL + 4 + 2 * SIZE, 2, true); // used_event = 2: notify when idx goes past 2
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      s.publish(0);
      s.q.push(s.q.pop()!.head, 1);
      expect(s.v.getUint16(USED + 4 + 8 * SIZE, true)).toBe(i + 1); // avail_event
      results.push(s.q.takeNotification());
    }
    expect(results).toEqual([false, false, true, false]);
  });

  it('round-trips its state', () => {
    const s = setup({ eventIdx: true });
    s.desc(DESC, 0, 0x8000, 1, VIRTQ_DESC_F_WRITE);
    s.publish(0);
    s.q.push(s.q.pop()!.head, 1);
    const copy = new Virtqueue(s.mem, SIZE);
    copy.restore(structuredClone(s.q.state()));
    expect(copy.state()).toEqual(s.q.state());
  });
});
