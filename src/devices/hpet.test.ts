import { describe, expect, it } from 'vitest';
import { FakeClock, TimerQueue } from '../machine/clock.ts';
import {
  GEN_CONF_ENABLE_CNF,
  GEN_CONF_LEG_RT_CNF,
  HPET_COUNTER_CLK_PERIOD_OFFSET,
  HPET_GCAP_ID_OFFSET,
  HPET_GEN_CONF_OFFSET,
  HPET_GINTR_STA_OFFSET,
  HPET_MAIN_CNT_OFFSET,
  Hpet,
  TN_32MODE_CNF,
  TN_INT_ENB_CNF,
  TN_INT_ROUTE_CNF_SHIFT,
  TN_INT_TYPE_CNF,
  TN_TYPE_CNF,
  TN_VAL_SET_CNF,
} from './hpet.ts';
import { xorshift32 } from './testing/contract.ts';

const CONF = (n: number): number => 0x100 + 0x20 * n;
const CMP = (n: number): number => 0x108 + 0x20 * n;
const route = (gsi: number): number => gsi << TN_INT_ROUTE_CNF_SHIFT;
const TICK = 10; // ns per counter tick (100 MHz)
const ENABLE = GEN_CONF_ENABLE_CNF;
const LEGACY = GEN_CONF_LEG_RT_CNF;

/** A clock whose time moves without running timers: events fall due "inside a CPU slice". */
class SliceClock extends TimerQueue {
  t = 0;
  readonly wallClockAtZero = 0;
  now(): number {
    return this.t;
  }
}

/** An HPET whose interrupt output is logged as "time:gsi+" / "time:gsi-". */
function setup<C extends TimerQueue>(clock: C) {
  const log: string[] = [];
  const lines = new Map<number, boolean>();
  const options = {
    clock,
    setIrq: (gsi: number, level: boolean) => {
      log.push(`${clock.now()}:${gsi}${level ? '+' : '-'}`);
      lines.set(gsi, level);
    },
  };
  const hpet = new Hpet(options);
  const r = (offset: number): number => hpet.read(offset, 4);
  const w = (offset: number, value: number): void => hpet.write(offset, 4, value >>> 0);
  const counter = (): bigint => (BigInt(r(HPET_MAIN_CNT_OFFSET + 4)) << 32n) | BigInt(r(HPET_MAIN_CNT_OFFSET));
  return { clock, hpet, log, lines, options, r, w, counter };
}
const fake = () => setup(new FakeClock());

/** Moves time forward by `ns`, stopping at every deadline on the way (a punctual host). */
function step(clock: FakeClock, ns: number): void {
  const end = clock.now() + ns;
  while (clock.nextDeadline() <= end) clock.set(Math.max(clock.now(), clock.nextDeadline()));
  clock.set(end);
}

/** The times at which `gsi` rose. */
const rises = (log: string[], gsi: number): number[] =>
  log.filter((e) => e.endsWith(`:${gsi}+`)).map((e) => Number(e.split(':')[0]));

describe('hpet registers', () => {
  it('reports rev 1, 3 timers, a 64-bit counter, legacy route and a 10 ns period', () => {
    const { r } = fake();
    expect(r(HPET_GCAP_ID_OFFSET)).toBe(0x8086a201);
    expect(r(HPET_COUNTER_CLK_PERIOD_OFFSET)).toBe(10_000_000);
    // Timer 0: periodic and 64-bit capable; timers 1-2: 32-bit one-shot. Route cap: GSI 2, 8, 20-23.
    expect(r(CONF(0))).toBe(0x30);
    expect(r(CONF(1))).toBe(0);
    expect(r(CONF(2))).toBe(0);
    for (let n = 0; n < 3; n++) expect(r(CONF(n) + 4)).toBe(0x00f00104);
    // Comparators reset to all ones in their implemented bits.
    expect([r(CMP(0)), r(CMP(0) + 4)]).toEqual([0xffffffff, 0xffffffff]);
    expect([r(CMP(1)), r(CMP(1) + 4)]).toEqual([0xffffffff, 0]);
    expect([r(HPET_GEN_CONF_OFFSET), r(HPET_GINTR_STA_OFFSET)]).toEqual([0, 0]);
  });

  it('keeps capability bits read-only and refuses routes outside INT_ROUTE_CAP', () => {
    const { r, w, hpet } = fake();
    w(HPET_GCAP_ID_OFFSET, 0);
    w(HPET_COUNTER_CLK_PERIOD_OFFSET, 1);
    expect([r(HPET_GCAP_ID_OFFSET), r(HPET_COUNTER_CLK_PERIOD_OFFSET)]).toEqual([0x8086a201, 10_000_000]);
    w(HPET_GEN_CONF_OFFSET, 0xfffffffc); // reserved bits read 0
    expect(r(HPET_GEN_CONF_OFFSET)).toBe(0);
    w(CONF(1), 0xffffffff); // 32-bit one-shot timer: TYPE, 32MODE, FSB stay 0; route 31 refused
    expect(r(CONF(1))).toBe(TN_INT_TYPE_CNF | TN_INT_ENB_CNF | TN_VAL_SET_CNF);
    w(CONF(1), route(21));
    expect(r(CONF(1))).toBe(route(21));
    w(CONF(1), route(16)); // GSI 16 belongs to PCI INTA: not offered, the old route stays
    expect(r(CONF(1))).toBe(route(21));
    w(CONF(1) + 4, 0);
    expect(r(CONF(1) + 4)).toBe(0x00f00104);
    w(CONF(0), TN_TYPE_CNF | TN_32MODE_CNF | route(8));
    expect(r(CONF(0))).toBe(0x30 | TN_TYPE_CNF | TN_32MODE_CNF | route(8));
    // 1- and 2-byte writes are ignored.
    hpet.write(CONF(1), 1, 0);
    hpet.write(CONF(1), 2, 0);
    hpet.write(CONF(1) + 1, 4, 0);
    expect(r(CONF(1))).toBe(route(21));
  });

  it('returns the bytes of the containing registers for 1- and 2-byte reads', () => {
    const { hpet } = fake();
    // GCAP_ID = 0x00989680_8086A201, little endian: 01 A2 86 80 | 80 96 98 00
    expect(hpet.read(0, 1)).toBe(0x01);
    expect(hpet.read(1, 1)).toBe(0xa2);
    expect(hpet.read(2, 2)).toBe(0x8086);
    expect(hpet.read(3, 2)).toBe(0x8080); // spans both halves
    expect(hpet.read(5, 2)).toBe(0x9896);
    expect(hpet.read(0x0e, 4)).toBe(0); // unaligned, reserved bytes
    expect(hpet.peek(2, 2)).toBe(0x8086);
    expect(hpet.read(0x800, 4)).toBe(0); // beyond the register block
  });
});

describe('hpet main counter', () => {
  it('runs only while ENABLE_CNF is set, at 100 MHz', () => {
    const { clock, w, counter } = fake();
    clock.advance(1000);
    expect(counter()).toBe(0n);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(1000);
    expect(counter()).toBe(100n);
    clock.advance(9);
    expect(counter()).toBe(100n);
    clock.advance(1);
    expect(counter()).toBe(101n);
    clock.advance(1e9); // one second = 100 M ticks
    expect(counter()).toBe(100_000_101n);
    w(HPET_GEN_CONF_OFFSET, 0);
    clock.advance(5000);
    expect(counter()).toBe(100_000_101n);
    w(HPET_GEN_CONF_OFFSET, ENABLE); // continues from the frozen value
    clock.advance(50);
    expect(counter()).toBe(100_000_106n);
  });

  it('is writable while halted and ignores writes while running', () => {
    const { clock, w, counter } = fake();
    w(HPET_MAIN_CNT_OFFSET, 0x1234);
    w(HPET_MAIN_CNT_OFFSET + 4, 0x5678);
    expect(counter()).toBe(0x5678_0000_1234n);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(100);
    w(HPET_MAIN_CNT_OFFSET, 0);
    w(HPET_MAIN_CNT_OFFSET + 4, 0);
    expect(counter()).toBe(0x5678_0000_1234n + 10n);
  });

  it('carries into the high half across 32-bit reads and wraps at 2^64', () => {
    const { clock, w, r, counter } = fake();
    w(HPET_MAIN_CNT_OFFSET, 0xfffffff0);
    w(HPET_MAIN_CNT_OFFSET + 4, 1);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(20 * TICK);
    expect([r(HPET_MAIN_CNT_OFFSET), r(HPET_MAIN_CNT_OFFSET + 4)]).toEqual([4, 2]);
    w(HPET_GEN_CONF_OFFSET, 0);
    w(HPET_MAIN_CNT_OFFSET, 0xfffffffe);
    w(HPET_MAIN_CNT_OFFSET + 4, 0xffffffff);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(5 * TICK);
    expect(counter()).toBe(3n);
  });
});

describe('hpet interrupts', () => {
  it('fires a one-shot edge interrupt when the counter reaches the comparator', () => {
    const { clock, w, r, log } = fake();
    w(CONF(0), TN_INT_ENB_CNF | route(20));
    w(CMP(0), 1000);
    w(CMP(0) + 4, 0);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(1000 * TICK - 1);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(['10000:20+', '10000:20-']);
    clock.advance(10e9); // 64-bit comparator: no second match
    expect(log.length).toBe(2);
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(0); // edge mode leaves the status bit alone
  });

  it('delivers nothing without INT_ENB_CNF, without ENABLE_CNF or without a valid route', () => {
    const { clock, w, log } = fake();
    w(CMP(1), 100);
    w(CONF(1), route(21)); // interrupts disabled
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(200 * TICK);
    w(HPET_GEN_CONF_OFFSET, 0);
    w(CONF(1), TN_INT_ENB_CNF | route(21));
    w(CMP(1), 300);
    clock.advance(200 * TICK); // counter halted at 200
    expect(log).toEqual([]);
    w(CONF(2), TN_INT_ENB_CNF); // route 0: not in the capability
    w(CMP(2), 250);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(100 * TICK);
    expect(log).toEqual([`${400 * TICK + 100 * TICK}:21+`, `${500 * TICK}:21-`]);
  });

  it('fires a periodic timer set with VAL_SET, adding the period at each match', () => {
    const { clock, w, r, log } = fake();
    w(CONF(0), TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF | route(22));
    w(CMP(0), 500); // first match (and period, until the next write)
    w(CMP(0), 200); // period only: VAL_SET cleared itself
    expect(r(CONF(0)) & TN_VAL_SET_CNF).toBe(0);
    expect(r(CMP(0))).toBe(500);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    step(clock, 1300 * TICK);
    expect(rises(log, 22)).toEqual([500, 700, 900, 1100, 1300].map((t) => t * TICK));
    expect(r(CMP(0))).toBe(1500); // the next match
    // A late host: three periods pass at once, one interrupt, the comparator skips ahead.
    clock.advance(650 * TICK);
    expect(rises(log, 22).length).toBe(6);
    expect(r(CMP(0))).toBe(2100);
    clock.advance(150 * TICK);
    expect(rises(log, 22).at(-1)).toBe(2100 * TICK);
  });

  it('keeps a periodic comparator moving without host wakeups while its interrupt is off', () => {
    const { clock, w, r, log } = fake();
    w(CONF(0), TN_TYPE_CNF | TN_VAL_SET_CNF);
    w(CMP(0), 100);
    w(CMP(0) + 4, 0);
    w(CMP(0), 100);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    expect(clock.nextDeadline()).toBe(Infinity); // nothing armed
    clock.advance(1050 * TICK);
    expect(r(CMP(0))).toBe(1100);
    w(CONF(0), TN_TYPE_CNF | TN_INT_ENB_CNF | route(23));
    clock.advance(50 * TICK);
    expect(rises(log, 23)).toEqual([1100 * TICK]);
    expect(r(CMP(0))).toBe(1200);
  });

  it('sets a 64-bit periodic comparator with a split 64-bit write under VAL_SET', () => {
    const { clock, w, r, log } = fake();
    w(HPET_MAIN_CNT_OFFSET + 4, 2); // counter = 2^33
    w(CONF(0), TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | route(20));
    w(CMP(0), 1000); // low half, then high half: one 64-bit write split by the CPU
    w(CMP(0) + 4, 2);
    expect([r(CMP(0)), r(CMP(0) + 4)]).toEqual([1000, 2]);
    w(CMP(0), 300); // VAL_SET is gone: both halves now write only the period
    w(CMP(0) + 4, 0);
    expect([r(CMP(0)), r(CMP(0) + 4)]).toEqual([1000, 2]);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    step(clock, 1600 * TICK);
    expect(rises(log, 20)).toEqual([1000, 1300, 1600].map((t) => t * TICK));
    expect([r(CMP(0)), r(CMP(0) + 4)]).toEqual([1900, 2]);
  });

  it('wraps at 32 bits in 32-bit mode: an interrupt at the wrap and one at the match', () => {
    const { clock, w, log } = fake();
    w(HPET_MAIN_CNT_OFFSET, 0xffffff00);
    w(CONF(0), TN_INT_ENB_CNF | TN_32MODE_CNF | route(20));
    w(CMP(0), 0x100);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    step(clock, 0x200 * TICK);
    expect(rises(log, 20)).toEqual([0x100 * TICK, 0x200 * TICK]);
  });

  it('fires a comparator set in the past only after the counter wraps back (32-bit timer)', () => {
    const { clock, w, r, log } = fake();
    w(HPET_MAIN_CNT_OFFSET, 1000);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    w(CONF(1), TN_INT_ENB_CNF | route(21));
    w(CMP(1), 500); // behind the counter
    w(CMP(1) + 4, 7); // a 32-bit timer has no high half
    expect(r(CMP(1) + 4)).toBe(0);
    const toWrap = 2 ** 32 - 1000;
    clock.advance((toWrap - 1) * TICK);
    expect(log).toEqual([]);
    clock.advance(TICK); // low 32 bits wrap to 0
    clock.advance(500 * TICK); // and then reach the comparator
    expect(rises(log, 21)).toEqual([toWrap * TICK, (toWrap + 500) * TICK]);
  });

  it('holds a level interrupt until the guest clears the status bit', () => {
    const { clock, w, r, log, lines } = fake();
    w(CONF(2), TN_INT_TYPE_CNF | TN_INT_ENB_CNF | route(23));
    w(CMP(2), 100);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(100 * TICK);
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(1 << 2);
    expect(log).toEqual([`${100 * TICK}:23+`]);
    w(HPET_GINTR_STA_OFFSET, 0); // writing 0 has no effect
    w(HPET_GINTR_STA_OFFSET, 1 << 1); // nor does clearing another timer's bit
    expect(lines.get(23)).toBe(true);
    w(HPET_GEN_CONF_OFFSET, 0); // halting drops the line but keeps the status
    expect(lines.get(23)).toBe(false);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    expect(lines.get(23)).toBe(true);
    w(HPET_GINTR_STA_OFFSET, 1 << 2);
    expect(lines.get(23)).toBe(false);
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(0);
  });

  it('sets level status with INT_ENB_CNF clear, without raising the line', () => {
    const { clock, w, r, log, lines } = fake();
    w(CONF(1), TN_INT_TYPE_CNF | route(21));
    w(CMP(1), 10);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(10 * TICK);
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(1 << 1);
    expect(log).toEqual([]);
    w(CONF(1), TN_INT_TYPE_CNF | TN_INT_ENB_CNF | route(21)); // enabling raises the pending level
    expect(lines.get(21)).toBe(true);
    w(CONF(1), TN_INT_ENB_CNF | route(21)); // switching to edge mode drops status and line
    expect(lines.get(21)).toBe(false);
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(0);
  });

  it('routes timers 0 and 1 to GSI 2 and 8 in LegacyReplacement mode', () => {
    const { clock, w, log } = fake();
    for (const n of [0, 1, 2]) {
      w(CONF(n), TN_INT_ENB_CNF | TN_32MODE_CNF | route(20 + n));
      w(CMP(n), 100 * (n + 1));
    }
    w(HPET_GEN_CONF_OFFSET, ENABLE | LEGACY);
    step(clock, 300 * TICK);
    expect(log.filter((e) => e.endsWith('+'))).toEqual([`1000:2+`, `2000:8+`, `3000:22+`]);
    w(HPET_GEN_CONF_OFFSET, ENABLE); // back to the INT_ROUTE_CNF routes
    for (const n of [0, 1]) w(CMP(n), 400 + 100 * n);
    step(clock, 200 * TICK);
    expect(log.filter((e) => e.endsWith('+')).slice(3)).toEqual([`4000:20+`, `5000:21+`]);
  });

  it('moves a held level line when the route changes', () => {
    const { clock, w, log } = fake();
    w(CONF(2), TN_INT_TYPE_CNF | TN_INT_ENB_CNF | route(20));
    w(CMP(2), 1);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.advance(TICK);
    w(CONF(2), TN_INT_TYPE_CNF | TN_INT_ENB_CNF | route(21));
    expect(log).toEqual(['10:20+', '10:20-', '10:21+']);
  });

  it('delivers events that fell due before the next register access', () => {
    const { clock, w, r, hpet } = setup(new SliceClock());
    w(CONF(2), TN_INT_TYPE_CNF | route(22));
    w(CMP(2), 10);
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    clock.t = 20 * TICK; // the CPU ran past the deadline; the timer queue has not run yet
    expect(hpet.peek(HPET_GINTR_STA_OFFSET, 4)).toBe(0); // peek has no side effect
    expect(r(HPET_GINTR_STA_OFFSET)).toBe(1 << 2);
    expect(clock.runDue()).toBe(0); // already delivered, not twice
  });
});

describe('hpet with the Linux driver sequences (arch/x86/kernel/hpet.c)', () => {
  it('passes hpet_enable, runs the legacy periodic tick, then one-shot events', () => {
    const { clock, w, r, log } = fake();
    // hpet_enable: sane config and period, sanitise global and channel configs.
    expect(r(HPET_GEN_CONF_OFFSET)).not.toBe(0xffffffff);
    const period = r(HPET_COUNTER_CLK_PERIOD_OFFSET);
    expect(period >= 100_000 && period <= 100_000_000).toBe(true);
    const id = r(HPET_GCAP_ID_OFFSET);
    const channels = ((id >> 8) & 0x1f) + 1;
    expect(channels).toBe(3);
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) & ~(ENABLE | LEGACY));
    for (let i = 0; i < channels; i++) {
      const cfg = r(CONF(i));
      w(CONF(i), cfg & ~(TN_INT_ENB_CNF | TN_INT_TYPE_CNF | (1 << 14)));
      const unknown = cfg & ~(TN_TYPE_CNF | 0x10 | 0x20 | TN_32MODE_CNF | 0x3e00 | (1 << 14) | (1 << 15));
      expect(unknown).toBe(0); // no "Channel #n config: Unknown bits"
    }
    // hpet_counting: restart the counter at 0 and watch it move.
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) & ~ENABLE);
    w(HPET_MAIN_CNT_OFFSET, 0);
    w(HPET_MAIN_CNT_OFFSET + 4, 0);
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) | ENABLE);
    const t1 = r(HPET_MAIN_CNT_OFFSET);
    clock.advance(200); // 200 TSC cycles at 1 GHz
    expect(r(HPET_MAIN_CNT_OFFSET)).not.toBe(t1);
    expect(id & (1 << 15)).not.toBe(0); // HPET_ID_LEGSUP: legacy clockevent on channel 0
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) | LEGACY); // hpet_enable_legacy_int

    // hpet_clkevt_set_state_periodic, HZ = 250: delta = 4 ms = 400000 ticks.
    const delta = 400_000;
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) & ~ENABLE);
    const now = r(HPET_MAIN_CNT_OFFSET);
    w(CONF(0), r(CONF(0)) | TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF);
    w(CMP(0), now + delta);
    w(CMP(0), delta); // the AMD 81xx second write: the period
    const start = clock.now();
    w(HPET_GEN_CONF_OFFSET, r(HPET_GEN_CONF_OFFSET) | ENABLE);
    step(clock, 4 * 4_000_000);
    expect(rises(log, 2)).toEqual([1, 2, 3, 4].map((k) => start + k * 4_000_000));

    // hpet_clkevt_set_state_oneshot + hpet_clkevt_set_next_event(delta = 1000 ticks).
    w(CONF(0), (r(CONF(0)) & ~TN_TYPE_CNF) | TN_INT_ENB_CNF | TN_32MODE_CNF);
    const cnt = (r(HPET_MAIN_CNT_OFFSET) + 1000) >>> 0;
    w(CMP(0), cnt);
    const res = (cnt - r(HPET_MAIN_CNT_OFFSET)) | 0;
    expect(res >= 128).toBe(true); // not -ETIME
    const armedAt = clock.now();
    clock.advance(1000 * TICK);
    expect(rises(log, 2).at(-1)).toBe(armedAt + 1000 * TICK);
    clock.advance(100_000_000);
    expect(rises(log, 2).length).toBe(5); // one-shot: nothing more within 0.1 s

    // hpet_clkevt_set_state_shutdown: nothing stays armed.
    w(CONF(0), r(CONF(0)) & ~TN_INT_ENB_CNF);
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it('reports -ETIME for a comparator already passed, which then waits for the wrap', () => {
    const { clock, w, r, log } = fake();
    w(HPET_GEN_CONF_OFFSET, ENABLE | LEGACY);
    w(CONF(0), TN_INT_ENB_CNF | TN_32MODE_CNF);
    clock.advance(10_000);
    const cnt = (r(HPET_MAIN_CNT_OFFSET) - 5) >>> 0; // the counter moved past the target (an SMI)
    w(CMP(0), cnt);
    expect((cnt - r(HPET_MAIN_CNT_OFFSET)) | 0).toBeLessThan(128);
    clock.advance(1e9);
    expect(log).toEqual([]);
  });

  it('serves the 32-bit clocksource read: monotonic at 100 MHz', () => {
    const { clock, w, r } = fake();
    w(HPET_GEN_CONF_OFFSET, ENABLE);
    let last = r(HPET_MAIN_CNT_OFFSET);
    for (let i = 1; i <= 50; i++) {
      clock.advance(i * 37);
      const v = r(HPET_MAIN_CNT_OFFSET);
      expect(v).toBe(Math.floor(clock.now() / TICK) >>> 0);
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
    }
  });
});

describe('hpet snapshots and robustness', () => {
  it('round-trips its state: counter, periodic phase, pending level interrupt', () => {
    const a = fake();
    a.w(CONF(0), TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF | route(20));
    a.w(CMP(0), 100);
    a.w(CMP(0), 100);
    a.w(CONF(2), TN_INT_TYPE_CNF | TN_INT_ENB_CNF | route(23));
    a.w(CMP(2), 150);
    a.w(HPET_GEN_CONF_OFFSET, ENABLE);
    a.clock.advance(250 * TICK);
    expect(a.lines.get(23)).toBe(true);
    const saved = a.hpet.state();
    expect(saved.counter).toBe(250n);

    const clock = new FakeClock();
    clock.set(1_000_000); // the restored machine's clock reads another time
    const log: string[] = [];
    const b = Hpet.fromState(structuredClone(saved), {
      clock,
      setIrq: (gsi, level) => void log.push(`${clock.now()}:${gsi}${level ? '+' : '-'}`),
    });
    expect(log).toEqual(['1000000:23+']); // the pending level interrupt is raised again
    expect(b.state()).toEqual(saved);
    clock.advance(50 * TICK); // counter 300: the periodic match
    expect(log.slice(1)).toEqual(['1000500:20+', '1000500:20-']);
    expect(b.read(CMP(0), 4)).toBe(400);
  });

  it('survives random register traffic without throwing, and resets', () => {
    const { clock, hpet, r, lines } = fake();
    const next = xorshift32(12345);
    const rand = (n: number): number => Math.floor((next() / 2 ** 32) * n);
    const sizes = [1, 2, 4] as const;
    for (let i = 0; i < 20_000; i++) {
      const interesting = [0, 4, 0x10, 0x20, 0xf0, 0xf4, CONF(rand(3)), CMP(rand(3)), CMP(rand(3)) + 4];
      const offset = rand(4) === 0 ? rand(0x1000) : interesting[rand(interesting.length)]!;
      const size = sizes[rand(3)]!;
      const value = rand(8) === 0 ? rand(2 ** 32) : [0, 1, 0xffffffff, 0x4e, 0x14c, rand(1000)][rand(6)]!;
      if (rand(2)) hpet.write(offset, size, value);
      else expect(hpet.read(offset, size)).toBeLessThan(2 ** (8 * size));
      if (rand(16) === 0) clock.advance(rand(100_000));
    }
    hpet.reset();
    expect([...lines.values()].every((level) => !level)).toBe(true);
    expect(r(HPET_GEN_CONF_OFFSET)).toBe(0);
    expect(clock.nextDeadline()).toBe(Infinity);
  });
});
