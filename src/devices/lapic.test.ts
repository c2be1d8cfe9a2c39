import { describe, expect, it } from 'vitest';
import { FakeClock } from '../machine/clock.ts';
import type { AccessSize } from './device.ts';
import {
  APIC_APR_OFFSET, APIC_DFR_OFFSET, APIC_EOI_OFFSET, APIC_ESR_OFFSET, APIC_ICR_HIGH_OFFSET, APIC_ICR_LOW_OFFSET,
  APIC_ID_OFFSET, APIC_IRR_OFFSET, APIC_ISR_OFFSET, APIC_LDR_OFFSET, APIC_LVT_ERROR_OFFSET, APIC_LVT_LINT0_OFFSET,
  APIC_LVT_LINT1_OFFSET, APIC_LVT_PERF_OFFSET, APIC_LVT_THERMAL_OFFSET, APIC_LVT_TIMER_OFFSET, APIC_PPR_OFFSET,
  APIC_SVR_OFFSET, APIC_TIMER_CURRENT_COUNT_OFFSET, APIC_TIMER_DIVIDE_OFFSET, APIC_TIMER_INITIAL_COUNT_OFFSET,
  APIC_TMR_OFFSET, APIC_TPR_OFFSET, APIC_VERSION_OFFSET, ESR_ILLEGAL_REGISTER_ADDRESS, ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_SEND_ILLEGAL_VECTOR, Lapic, type LapicOptions,
} from './lapic.ts';
import {
  DELIVERY_EXTINT, DELIVERY_FIXED, DELIVERY_INIT, DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI, DELIVERY_SMI,
  DELIVERY_STARTUP, type InterruptMessage,
} from './msi.ts';
import { xorshift32 } from './testing/contract.ts';

const MASKED = 1 << 16;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;

function fixed(vector: number, levelTriggered = false, destination = 0): InterruptMessage {
  return { vector, deliveryMode: DELIVERY_FIXED, logical: false, destination, levelTriggered };
}

/** A LAPIC on a fake clock, software-enabled with spurious vector 0xFF, recording its effects. */
function setup(options: Partial<LapicOptions> = {}, enable = true) {
  const clock = new FakeClock();
  const log = { pending: 0, eois: [] as number[], nmis: 0, smis: 0, inits: 0, ipis: [] as InterruptMessage[] };
  const lapic = new Lapic({
    clock,
    onPending: () => log.pending++,
    onEoi: (v) => log.eois.push(v),
    onNmi: () => log.nmis++,
    onSmi: () => log.smis++,
    onInit: () => log.inits++,
    onIpi: (msg) => log.ipis.push(msg),
    ...options,
  });
  const r = (offset: number) => lapic.read(offset, 4);
  const w = (offset: number, value: number) => lapic.write(offset, 4, value);
  if (enable) w(APIC_SVR_OFFSET, 0x1ff);
  /** The vectors set in ISR/IRR/TMR, read through MMIO. */
  const vectors = (base: number) => {
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const word = r(base + 16 * i);
      for (let b = 0; b < 32; b++) if ((word >>> b) & 1) out.push(i * 32 + b);
    }
    return out;
  };
  /** ESR after the write-then-read protocol. */
  const esr = () => {
    w(APIC_ESR_OFFSET, 0);
    return r(APIC_ESR_OFFSET);
  };
  return { clock, lapic, log, r, w, vectors, esr };
}

describe('LAPIC registers', () => {
  it('has the documented power-up values', () => {
    const { lapic, r } = setup({ apicId: 3 }, false);
    expect(lapic.apicBase).toBe(0xfee0_0900); // base | enable | BSP
    expect(r(APIC_ID_OFFSET)).toBe(0x0300_0000);
    expect(r(APIC_VERSION_OFFSET)).toBe(0x0005_0014);
    expect(r(APIC_TPR_OFFSET)).toBe(0);
    expect(r(APIC_PPR_OFFSET)).toBe(0);
    expect(r(APIC_LDR_OFFSET)).toBe(0);
    expect(r(APIC_DFR_OFFSET)).toBe(0xffff_ffff);
    expect(r(APIC_SVR_OFFSET)).toBe(0xff);
    for (let off = APIC_LVT_TIMER_OFFSET; off <= APIC_LVT_ERROR_OFFSET; off += 16) expect(r(off)).toBe(MASKED);
    expect(lapic.isSoftwareEnabled()).toBe(false);
    expect(new Lapic({ clock: new FakeClock(), bsp: false }).apicBase).toBe(0xfee0_0800);
  });

  it('keeps only the writable bits', () => {
    const { r, w } = setup();
    w(APIC_ID_OFFSET, 0xffff_ffff);
    expect(r(APIC_ID_OFFSET)).toBe(0xff00_0000);
    w(APIC_TPR_OFFSET, 0xffff_ffff);
    expect(r(APIC_TPR_OFFSET)).toBe(0xff);
    w(APIC_LDR_OFFSET, 0x1234_5678);
    expect(r(APIC_LDR_OFFSET)).toBe(0x1200_0000);
    w(APIC_DFR_OFFSET, 0);
    expect(r(APIC_DFR_OFFSET)).toBe(0x0fff_ffff); // cluster model, reserved bits read 1
    w(APIC_SVR_OFFSET, 0xffff_ffff);
    expect(r(APIC_SVR_OFFSET)).toBe(0x3ff);
    w(APIC_ICR_HIGH_OFFSET, 0xffff_ffff);
    expect(r(APIC_ICR_HIGH_OFFSET)).toBe(0xff00_0000);
    w(APIC_TIMER_DIVIDE_OFFSET, 0xffff_ffff);
    expect(r(APIC_TIMER_DIVIDE_OFFSET)).toBe(0xb);
    const lvtMasks: [number, number][] = [
      [APIC_LVT_TIMER_OFFSET, 0x700ff], [APIC_LVT_THERMAL_OFFSET, 0x107ff], [APIC_LVT_PERF_OFFSET, 0x107ff],
      [APIC_LVT_LINT0_OFFSET, 0x1a7ff], [APIC_LVT_LINT1_OFFSET, 0x1a7ff], [APIC_LVT_ERROR_OFFSET, 0x100ff],
    ];
    for (const [off, mask] of lvtMasks) {
      w(off, 0xffff_ffff);
      expect(r(off)).toBe(mask);
    }
    // Read-only registers ignore writes.
    for (const off of [APIC_VERSION_OFFSET, APIC_PPR_OFFSET, APIC_APR_OFFSET, APIC_ISR_OFFSET, APIC_TMR_OFFSET, APIC_IRR_OFFSET + 0x70]) {
      const before = r(off);
      w(off, 0x5555_5555);
      expect(r(off)).toBe(before);
    }
  });

  it('reads narrow values within a register dword and ignores narrow or unaligned writes', () => {
    const { lapic, r, w } = setup();
    expect(lapic.read(APIC_VERSION_OFFSET, 1)).toBe(0x14);
    expect(lapic.read(APIC_VERSION_OFFSET + 2, 1)).toBe(0x05);
    expect(lapic.read(APIC_VERSION_OFFSET + 2, 2)).toBe(0x0005);
    expect(lapic.read(APIC_VERSION_OFFSET + 3, 2)).toBe(0); // crosses the dword
    expect(lapic.read(APIC_VERSION_OFFSET + 1, 4)).toBe(0); // unaligned dword
    expect(lapic.read(APIC_VERSION_OFFSET + 4, 4)).toBe(0); // bytes 4-15 of a slot
    lapic.write(APIC_TPR_OFFSET, 1, 0x20);
    lapic.write(APIC_TPR_OFFSET, 2, 0x20);
    lapic.write(APIC_TPR_OFFSET + 4, 4, 0x20);
    lapic.write(APIC_TPR_OFFSET + 1, 4, 0x20);
    expect(r(APIC_TPR_OFFSET)).toBe(0);
    w(APIC_TPR_OFFSET, 0x20);
    expect(r(APIC_TPR_OFFSET)).toBe(0x20);
  });

  it('logs errors in the ESR with write-then-read semantics and raises the error LVT', () => {
    const { lapic, r, w, esr, vectors } = setup();
    expect(esr()).toBe(0);
    r(0x3f0); // reserved register
    expect(r(APIC_ESR_OFFSET)).toBe(0); // not visible until the next ESR write
    expect(esr()).toBe(ESR_ILLEGAL_REGISTER_ADDRESS);
    expect(esr()).toBe(0); // the write cleared it
    // With the error LVT unmasked, an error is also an interrupt.
    w(APIC_LVT_ERROR_OFFSET, 0xfe);
    w(0x2f0, 1); // CMCI LVT is absent (max LVT entry 5): reserved
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0xfe]);
    expect(lapic.acknowledge()).toBe(0xfe);
    lapic.write(APIC_EOI_OFFSET, 4, 0);
    lapic.deliver(fixed(5)); // vectors 0-15 are illegal: not accepted, an error interrupt instead
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0xfe]);
    expect(esr()).toBe(ESR_ILLEGAL_REGISTER_ADDRESS | ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(lapic.acknowledge()).toBe(0xfe);
    lapic.write(APIC_EOI_OFFSET, 4, 0);
    // An illegal error vector is logged, without a loop of error interrupts.
    w(APIC_LVT_ERROR_OFFSET, 0x03);
    lapic.deliver(fixed(0x0f));
    expect(esr()).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(lapic.hasInterrupt()).toBe(false);
    // peek() has no side effects.
    lapic.peek(0x3f0, 4);
    expect(esr()).toBe(0);
  });
});

describe('LAPIC priorities', () => {
  it('delivers the highest IRR vector above the PPR class and tracks ISR', () => {
    const { lapic, r, w, vectors } = setup();
    lapic.deliver(fixed(0x31));
    lapic.deliver(fixed(0x45));
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x31, 0x45]);
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x45);
    expect(vectors(APIC_ISR_OFFSET)).toEqual([0x45]);
    expect(r(APIC_PPR_OFFSET)).toBe(0x40);
    expect(lapic.hasInterrupt()).toBe(false); // 0x31 is in a lower class than 0x45 in service
    lapic.deliver(fixed(0x4f)); // same class as in service: held
    expect(lapic.hasInterrupt()).toBe(false);
    lapic.deliver(fixed(0x50)); // a higher class nests
    expect(lapic.acknowledge()).toBe(0x50);
    expect(vectors(APIC_ISR_OFFSET)).toEqual([0x45, 0x50]);
    w(APIC_EOI_OFFSET, 0); // EOI retires the highest in-service vector
    expect(vectors(APIC_ISR_OFFSET)).toEqual([0x45]);
    w(APIC_EOI_OFFSET, 0);
    expect(vectors(APIC_ISR_OFFSET)).toEqual([]);
    expect(lapic.acknowledge()).toBe(0x4f);
    w(APIC_EOI_OFFSET, 0);
    // The TPR holds back classes at or below it; PPR = max(TPR, ISR class).
    w(APIC_TPR_OFFSET, 0x35);
    expect(r(APIC_PPR_OFFSET)).toBe(0x35);
    expect(lapic.hasInterrupt()).toBe(false); // 0x31: class 3 is not above 3
    w(APIC_TPR_OFFSET, 0x2f);
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x31);
    expect(r(APIC_PPR_OFFSET)).toBe(0x30);
    w(APIC_EOI_OFFSET, 0);
    expect(r(APIC_PPR_OFFSET)).toBe(0x2f);
    w(APIC_EOI_OFFSET, 0); // EOI with nothing in service is harmless
    expect(vectors(APIC_ISR_OFFSET)).toEqual([]);
  });

  it('computes the APR from TPR, IRR and ISR', () => {
    const { lapic, r, w } = setup();
    w(APIC_TPR_OFFSET, 0x47);
    expect(r(APIC_APR_OFFSET)).toBe(0x47);
    lapic.deliver(fixed(0x61));
    expect(r(APIC_APR_OFFSET)).toBe(0x60); // IRR class above the TPR
    w(APIC_TPR_OFFSET, 0);
    lapic.acknowledge();
    expect(r(APIC_APR_OFFSET)).toBe(0x60); // ISR class
    w(APIC_TPR_OFFSET, 0x70);
    expect(r(APIC_APR_OFFSET)).toBe(0x70);
  });

  it('returns the spurious vector when nothing is deliverable any more', () => {
    const { lapic, w, vectors } = setup();
    w(APIC_SVR_OFFSET, 0x1ef);
    lapic.deliver(fixed(0x50));
    expect(lapic.hasInterrupt()).toBe(true);
    w(APIC_TPR_OFFSET, 0x60); // raised between INTR and INTA
    expect(lapic.acknowledge()).toBe(0xef);
    expect(vectors(APIC_ISR_OFFSET)).toEqual([]);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x50]);
  });

  it('pokes the CPU whenever an interrupt may have become deliverable', () => {
    const { lapic, log, w } = setup();
    expect(log.pending).toBe(0);
    w(APIC_TPR_OFFSET, 0x80);
    lapic.deliver(fixed(0x41));
    expect(log.pending).toBe(0); // masked by the TPR
    w(APIC_TPR_OFFSET, 0);
    expect(log.pending).toBe(1); // lowering the TPR releases it
    lapic.acknowledge();
    lapic.deliver(fixed(0x42));
    expect(log.pending).toBe(1); // same class as in service
    w(APIC_EOI_OFFSET, 0);
    expect(log.pending).toBe(2); // the EOI lowered the PPR
    lapic.writeCr8(0xf);
    expect(lapic.readCr8()).toBe(0xf);
    expect(lapic.read(APIC_TPR_OFFSET, 4)).toBe(0xf0);
    expect(lapic.hasInterrupt()).toBe(false);
    const before = log.pending;
    lapic.writeCr8(0);
    expect(log.pending).toBe(before + 1);
  });

  it('sets TMR for level-triggered vectors and broadcasts their EOI', () => {
    const { lapic, log, w, vectors } = setup();
    lapic.deliver(fixed(0x60, true));
    lapic.deliver(fixed(0x70, false));
    expect(vectors(APIC_TMR_OFFSET)).toEqual([0x60]);
    expect(lapic.acknowledge()).toBe(0x70);
    w(APIC_EOI_OFFSET, 0);
    expect(log.eois).toEqual([]); // edge: no broadcast
    expect(lapic.acknowledge()).toBe(0x60);
    w(APIC_EOI_OFFSET, 0);
    expect(log.eois).toEqual([0x60]);
  });

  it('holds interrupts while software-disabled and keeps the LVTs masked', () => {
    const { lapic, log, r, w, vectors } = setup();
    w(APIC_LVT_TIMER_OFFSET, 0x30);
    lapic.deliver(fixed(0x40));
    w(APIC_SVR_OFFSET, 0xff); // software disable
    expect(r(APIC_LVT_TIMER_OFFSET)).toBe(MASKED | 0x30);
    w(APIC_LVT_LINT1_OFFSET, 0x400); // try to unmask
    expect(r(APIC_LVT_LINT1_OFFSET)).toBe(MASKED | 0x400);
    expect(lapic.hasInterrupt()).toBe(false);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x40]); // held
    lapic.deliver(fixed(0x50)); // not accepted
    lapic.deliver({ ...fixed(0), deliveryMode: DELIVERY_NMI }); // NMI still is
    expect(log.nmis).toBe(1);
    expect(lapic.acknowledge()).toBe(0xff);
    w(APIC_SVR_OFFSET, 0x1ff);
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x40);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([]);
  });
});

describe('LAPIC IPIs and destinations', () => {
  it('sends a self-IPI through the ICR', () => {
    const { lapic, log, r, w, vectors } = setup();
    w(APIC_ICR_LOW_OFFSET, (1 << 18) | 0x40); // shorthand self, fixed
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x40]);
    expect(r(APIC_ICR_LOW_OFFSET) & (1 << 12)).toBe(0); // delivery status idle
    expect(log.ipis).toEqual([]);
    expect(lapic.acknowledge()).toBe(0x40);
  });

  it('handles shorthands and destinations', () => {
    const { lapic, log, w, vectors, esr } = setup({ apicId: 2 });
    w(APIC_ICR_LOW_OFFSET, (2 << 18) | 0x41); // all including self
    w(APIC_ICR_LOW_OFFSET, (3 << 18) | 0x42); // all excluding self
    w(APIC_ICR_HIGH_OFFSET, 2 << 24);
    w(APIC_ICR_LOW_OFFSET, 0x43); // physical destination 2 = this APIC
    w(APIC_ICR_HIGH_OFFSET, 5 << 24);
    w(APIC_ICR_LOW_OFFSET, 0x44); // another CPU
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x41, 0x43]);
    expect(log.ipis.map((m) => [m.vector, m.destination, m.logical])).toEqual([
      [0x41, 0xff, false], [0x42, 0xff, false], [0x43, 2, false], [0x44, 5, false],
    ]);
    // Logical flat: LDR bit 2 set; destination mask 0x06 includes it.
    w(APIC_LDR_OFFSET, 0x04 << 24);
    w(APIC_ICR_HIGH_OFFSET, 0x06 << 24);
    w(APIC_ICR_LOW_OFFSET, (1 << 11) | 0x45);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x41, 0x43, 0x45]);
    // An illegal vector is not sent.
    w(APIC_ICR_LOW_OFFSET, (1 << 18) | 0x03);
    expect(esr()).toBe(ESR_SEND_ILLEGAL_VECTOR);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x41, 0x43, 0x45]);
    // NMI and SMI to self go to their callbacks.
    w(APIC_ICR_LOW_OFFSET, (1 << 18) | (DELIVERY_NMI << 8));
    w(APIC_ICR_LOW_OFFSET, (1 << 18) | (DELIVERY_SMI << 8));
    expect([log.nmis, log.smis]).toEqual([1, 1]);
    expect(lapic.hasInterrupt()).toBe(true);
  });

  it('treats INIT de-assert and SIPI as no-ops and INIT to self as an INIT reset', () => {
    const { lapic, log, r, w } = setup({ apicId: 1 });
    w(APIC_ID_OFFSET, 0x0700_0000);
    w(APIC_TPR_OFFSET, 0x20);
    w(APIC_ICR_LOW_OFFSET, (2 << 18) | (1 << 15) | (DELIVERY_INIT << 8)); // INIT level de-assert
    w(APIC_ICR_LOW_OFFSET, (2 << 18) | (DELIVERY_STARTUP << 8) | 0x9f); // SIPI
    expect(log.inits).toBe(0);
    expect(r(APIC_TPR_OFFSET)).toBe(0x20);
    expect(log.ipis.length).toBe(1); // the SIPI goes out to the (absent) other CPUs
    lapic.deliver({ ...fixed(0, false, 7), deliveryMode: DELIVERY_INIT });
    expect(log.inits).toBe(1);
    expect(r(APIC_TPR_OFFSET)).toBe(0);
    expect(r(APIC_SVR_OFFSET)).toBe(0xff);
    expect(r(APIC_ID_OFFSET)).toBe(0x0700_0000); // INIT keeps the ID
    expect(lapic.apicBase).toBe(0xfee0_0900);
  });

  it('matches physical, broadcast, flat and cluster destinations', () => {
    const { lapic, w } = setup({ apicId: 3 });
    expect(lapic.matchesDestination(3, false)).toBe(true);
    expect(lapic.matchesDestination(0xff, false)).toBe(true);
    expect(lapic.matchesDestination(4, false)).toBe(false);
    expect(lapic.matchesDestination(0xff, true)).toBe(false); // LDR 0 matches no logical mask
    w(APIC_LDR_OFFSET, 0x10 << 24);
    expect(lapic.matchesDestination(0x30, true)).toBe(true);
    expect(lapic.matchesDestination(0x0f, true)).toBe(false);
    w(APIC_DFR_OFFSET, 0x0fff_ffff); // cluster: cluster 2, member bit 1
    w(APIC_LDR_OFFSET, 0x21 << 24);
    expect(lapic.matchesDestination(0x23, true)).toBe(true);
    expect(lapic.matchesDestination(0x13, true)).toBe(false);
    expect(lapic.matchesDestination(0x22, true)).toBe(false);
    lapic.deliver(fixed(0x80, false, 4)); // not for us
    lapic.deliver({ ...fixed(0x81, false, 0x21), logical: true, deliveryMode: DELIVERY_LOWEST_PRIORITY });
    expect(lapic.acknowledge()).toBe(0x81);
    expect(lapic.hasInterrupt()).toBe(false);
  });

  it('takes ExtINT vectors from the external controller, bypassing IRR and the TPR', () => {
    let inta = 0;
    const { lapic, w, vectors } = setup({ extIntAck: () => 0x20 + inta++ });
    w(APIC_TPR_OFFSET, 0xff);
    lapic.deliver({ ...fixed(0), deliveryMode: DELIVERY_EXTINT });
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x20);
    expect(vectors(APIC_ISR_OFFSET)).toEqual([]);
    expect(lapic.hasInterrupt()).toBe(false);
    // Without an 8259 ExtINT is dropped.
    const bare = setup();
    bare.lapic.deliver({ ...fixed(0), deliveryMode: DELIVERY_EXTINT });
    expect(bare.lapic.hasInterrupt()).toBe(false);
  });
});

describe('LAPIC timer', () => {
  it('counts down in one-shot mode and fires once', () => {
    const { clock, lapic, r, w, vectors } = setup();
    w(APIC_TIMER_DIVIDE_OFFSET, 0xb); // divide by 1
    w(APIC_LVT_TIMER_OFFSET, 0x30);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 1000);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(1000);
    clock.advance(250);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(750);
    clock.advance(749);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([]);
    clock.advance(1);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x30]);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(0);
    expect(r(APIC_TIMER_INITIAL_COUNT_OFFSET)).toBe(1000);
    lapic.acknowledge();
    clock.advance(10_000);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([]);
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it('divides the 1 GHz bus clock by every DCR encoding', () => {
    const divisors: [number, number][] = [[0, 2], [1, 4], [2, 8], [3, 16], [8, 32], [9, 64], [10, 128], [11, 1]];
    for (const [dcr, divisor] of divisors) {
      const { clock, r, w, vectors } = setup();
      w(APIC_TIMER_DIVIDE_OFFSET, dcr);
      w(APIC_LVT_TIMER_OFFSET, 0x31);
      w(APIC_TIMER_INITIAL_COUNT_OFFSET, 10);
      clock.advance(5 * divisor);
      expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET), `dcr ${dcr}`).toBe(5);
      clock.advance(5 * divisor - 1);
      expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET), `dcr ${dcr}`).toBe(1);
      expect(vectors(APIC_IRR_OFFSET)).toEqual([]);
      clock.advance(1);
      expect(vectors(APIC_IRR_OFFSET), `dcr ${dcr}`).toEqual([0x31]);
    }
  });

  it('reloads in periodic mode until the initial count is cleared', () => {
    const { clock, lapic, r, w } = setup();
    w(APIC_TIMER_DIVIDE_OFFSET, 0xb);
    w(APIC_LVT_TIMER_OFFSET, PERIODIC | 0x32);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    const fires: number[] = [];
    for (let t = 0; t < 350; t += 10) {
      clock.advance(10);
      if (lapic.hasInterrupt()) {
        fires.push(clock.now());
        lapic.acknowledge();
        w(APIC_EOI_OFFSET, 0);
      }
    }
    expect(fires).toEqual([100, 200, 300]);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(50); // at 350
    clock.advance(5);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(45);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 0);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(0);
    clock.advance(1000);
    expect(lapic.hasInterrupt()).toBe(false);
  });

  it('counts but does not interrupt while the LVT is masked, and rescales on a DCR write', () => {
    const { clock, lapic, r, w } = setup();
    w(APIC_TIMER_DIVIDE_OFFSET, 0xb);
    w(APIC_LVT_TIMER_OFFSET, MASKED | 0x33);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    clock.advance(200);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(0);
    expect(lapic.hasInterrupt()).toBe(false);
    w(APIC_LVT_TIMER_OFFSET, 0x33);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    clock.advance(40);
    w(APIC_TIMER_DIVIDE_OFFSET, 0x0); // divide by 2 from count 60 on
    clock.advance(100);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(10);
    expect(lapic.hasInterrupt()).toBe(false);
    clock.advance(20);
    expect(lapic.hasInterrupt()).toBe(true);
  });

  it('switches one-shot to periodic without restarting the count', () => {
    const { clock, lapic, r, w } = setup();
    w(APIC_TIMER_DIVIDE_OFFSET, 0xb);
    w(APIC_LVT_TIMER_OFFSET, 0x34);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    clock.advance(30);
    w(APIC_LVT_TIMER_OFFSET, PERIODIC | 0x34);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(70);
    clock.advance(70);
    expect(lapic.acknowledge()).toBe(0x34);
    w(APIC_EOI_OFFSET, 0);
    clock.advance(100);
    expect(lapic.acknowledge()).toBe(0x34);
  });

  it('fires at the TSC deadline and clears the MSR', () => {
    const { clock, lapic, r, w, vectors } = setup({ tsc: () => clock.now() + 1_000_000 });
    lapic.writeTscDeadline(1_005_000); // ignored outside TSC-deadline mode
    expect(lapic.readTscDeadline()).toBe(0);
    w(APIC_LVT_TIMER_OFFSET, TSC_DEADLINE | 0x35);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 50); // ignored in TSC-deadline mode
    expect(r(APIC_TIMER_INITIAL_COUNT_OFFSET)).toBe(0);
    expect(r(APIC_TIMER_CURRENT_COUNT_OFFSET)).toBe(0);
    lapic.writeTscDeadline(1_005_000);
    expect(lapic.readTscDeadline()).toBe(1_005_000);
    clock.advance(4999);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([]);
    clock.advance(1);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x35]);
    expect(lapic.readTscDeadline()).toBe(0);
    lapic.acknowledge();
    w(APIC_EOI_OFFSET, 0);
    // A deadline in the past fires at once.
    lapic.writeTscDeadline(5);
    expect(vectors(APIC_IRR_OFFSET)).toEqual([0x35]);
    lapic.acknowledge();
    w(APIC_EOI_OFFSET, 0);
    // Writing 0 disarms; so does leaving TSC-deadline mode.
    lapic.writeTscDeadline(clock.now() + 2_000_000);
    lapic.writeTscDeadline(0);
    expect(clock.nextDeadline()).toBe(Infinity);
    lapic.writeTscDeadline(clock.now() + 2_000_000);
    w(APIC_LVT_TIMER_OFFSET, 0x35);
    expect(clock.nextDeadline()).toBe(Infinity);
    w(APIC_LVT_TIMER_OFFSET, TSC_DEADLINE | 0x35);
    expect(lapic.readTscDeadline()).toBe(0);
  });

  it('disarms a counting timer when entering TSC-deadline mode', () => {
    const { clock, lapic, r, w } = setup();
    w(APIC_LVT_TIMER_OFFSET, 0x36);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    w(APIC_LVT_TIMER_OFFSET, TSC_DEADLINE | 0x36);
    expect(r(APIC_TIMER_INITIAL_COUNT_OFFSET)).toBe(0);
    clock.advance(10_000);
    expect(lapic.hasInterrupt()).toBe(false);
  });
});

describe('LAPIC APIC_BASE, state and robustness', () => {
  it('global disable resets the APIC and hides it; invalid values are refused', () => {
    const { lapic, log, r, w } = setup();
    w(APIC_TPR_OFFSET, 0x30);
    w(APIC_LVT_TIMER_OFFSET, 0x30);
    w(APIC_TIMER_INITIAL_COUNT_OFFSET, 100);
    lapic.deliver(fixed(0x50));
    expect(lapic.writeApicBase(0xfee0_0000)).toBe(true); // enable bit clear
    expect(lapic.apicBase).toBe(0xfee0_0100); // BSP flag is read-only
    expect(lapic.hasInterrupt()).toBe(false);
    expect(lapic.read(APIC_VERSION_OFFSET, 4)).toBe(0xffff_ffff);
    expect(lapic.read(APIC_VERSION_OFFSET, 1)).toBe(0xff);
    lapic.deliver(fixed(0x60));
    lapic.deliver({ ...fixed(0), deliveryMode: DELIVERY_NMI });
    expect(log.nmis).toBe(0);
    expect(lapic.writeApicBase(0xfee0_0800)).toBe(true);
    expect(r(APIC_TPR_OFFSET)).toBe(0);
    expect(r(APIC_SVR_OFFSET)).toBe(0xff);
    expect(r(APIC_IRR_OFFSET + 0x20)).toBe(0);
    expect(r(APIC_LVT_TIMER_OFFSET)).toBe(MASKED);
    // Relocation is accepted but ignored; EXTD (x2APIC) and reserved bits are refused.
    expect(lapic.writeApicBase(0xfed0_0800)).toBe(true);
    expect(lapic.apicBase).toBe(0xfee0_0900);
    expect(lapic.writeApicBase(0xfee0_0c00)).toBe(false);
    expect(lapic.writeApicBase(0xfee0_0801)).toBe(false);
    expect(lapic.writeApicBase(0xfee0_0a00)).toBe(false);
    expect(lapic.writeApicBase(2 ** 52 + 0xfee0_0800)).toBe(false);
    expect(lapic.writeApicBase(-1)).toBe(false);
    expect(lapic.apicBase).toBe(0xfee0_0900);
  });

  it('round-trips its state, timer and pending interrupt included', () => {
    const a = setup();
    a.w(APIC_TPR_OFFSET, 0x10);
    a.w(APIC_LDR_OFFSET, 0x0100_0000);
    a.w(APIC_TIMER_DIVIDE_OFFSET, 0x1);
    a.w(APIC_LVT_TIMER_OFFSET, PERIODIC | 0x37);
    a.w(APIC_TIMER_INITIAL_COUNT_OFFSET, 1000);
    a.lapic.deliver(fixed(0x60, true));
    a.lapic.acknowledge();
    a.lapic.deliver(fixed(0x70));
    a.r(0x3f0); // a pending error
    a.clock.advance(1234);
    const saved = a.lapic.state();
    const snapshot = JSON.parse(JSON.stringify(saved));

    const clock = new FakeClock();
    clock.set(a.clock.now());
    let pending = 0;
    const eois: number[] = [];
    const b = Lapic.fromState(snapshot, { clock, onPending: () => pending++, onEoi: (v) => eois.push(v) });
    expect(pending).toBe(1); // the pending 0x70 is announced again
    expect(b.state()).toEqual(saved);
    expect(b.read(APIC_TIMER_CURRENT_COUNT_OFFSET, 4)).toBe(a.r(APIC_TIMER_CURRENT_COUNT_OFFSET));
    expect(clock.nextDeadline()).toBe(a.clock.nextDeadline());
    expect(b.acknowledge()).toBe(0x70);
    b.write(APIC_EOI_OFFSET, 4, 0);
    b.write(APIC_EOI_OFFSET, 4, 0);
    expect(eois).toEqual([0x60]); // the TMR survived
    clock.set(4000); // periodic expiry at 4000 (divide by 4)
    expect(b.hasInterrupt()).toBe(true);
    expect(b.acknowledge()).toBe(0x37);
  });

  it('never throws on random register traffic and reads stay in range', () => {
    const next = xorshift32(0x1234_5678);
    const random = (): number => next() / 2 ** 32;
    const { clock, lapic } = setup({ extIntAck: () => 0x30 });
    const sizes: AccessSize[] = [1, 2, 4];
    const modes = [DELIVERY_FIXED, DELIVERY_LOWEST_PRIORITY, DELIVERY_SMI, DELIVERY_NMI, DELIVERY_INIT, DELIVERY_STARTUP, DELIVERY_EXTINT] as const;
    for (let i = 0; i < 20_000; i++) {
      const offset = random() < 0.8 ? Math.floor(random() * 0x40) * 16 : Math.floor(random() * 0x1000);
      const size = sizes[Math.floor(random() * 3)]!;
      const value = Math.floor(random() * 2 ** 32);
      const choice = random();
      if (choice < 0.45) lapic.write(offset, size, value);
      else if (choice < 0.85) {
        const v = lapic.read(offset, size);
        expect(v >= 0 && v < 2 ** (8 * size)).toBe(true);
      } else if (choice < 0.9) clock.advance(Math.floor(random() * 5000));
      else if (choice < 0.93) lapic.writeTscDeadline(clock.now() + Math.floor(random() * 10_000) - 1000);
      else if (choice < 0.97) {
        const deliveryMode = modes[value % modes.length]!;
        const levelTriggered = (value & 0x100) !== 0;
        lapic.deliver({ vector: value & 0xff, deliveryMode, logical: (value & 0x200) !== 0, destination: value >>> 24, levelTriggered });
      }
      else if (choice < 0.98) lapic.writeApicBase(value & 1 ? 0xfee0_0800 : value);
      else if (lapic.hasInterrupt()) {
        const v = lapic.acknowledge();
        expect(v >= 0 && v <= 0xff).toBe(true);
      }
    }
  });
});
