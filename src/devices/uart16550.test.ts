import { describe, expect, it } from 'vitest';
import { FakeClock } from '../machine/clock.ts';
import type { IrqLine } from './device.ts';
import { describeDeviceContract, xorshift32 } from './testing/contract.ts';
import {
  DLL_OFFSET, DLM_OFFSET, FCR_OFFSET, IER_OFFSET, IIR_OFFSET, LCR_OFFSET, LSR_OFFSET, MCR_OFFSET,
  MSR_OFFSET, RBR_OFFSET, SCR_OFFSET, THR_OFFSET, Uart16550, type Uart16550State,
} from './uart16550.ts';

/** An interrupt line that records every level change. */
class FakeIrq implements IrqLine {
  levels: boolean[] = [];
  level = false;
  set(level: boolean): void {
    this.levels.push(level);
    this.level = level;
  }
}

function setup(clock = new FakeClock()) {
  const irq = new FakeIrq();
  const chunks: Uint8Array[] = [];
  const uart = new Uart16550({ irq, clock, output: (c) => chunks.push(c) });
  return harness(uart, irq, clock, chunks);
}

function harness(uart: Uart16550, irq: FakeIrq, clock: FakeClock, chunks: Uint8Array[]) {
  const r = (offset: number): number => uart.read(offset, 1);
  const w = (offset: number, value: number): void => uart.write(offset, 1, value);
  /** Everything transmitted so far, as a string. */
  const output = (): string => {
    uart.flushOutput();
    return chunks.map((c) => String.fromCharCode(...c)).join('');
  };
  const input = (s: string): void => uart.enqueueInput(Uint8Array.from(s, (ch) => ch.charCodeAt(0)));
  /** Programs the divisor through the DLAB window, leaving LCR = `lcr`. */
  const setDivisor = (divisor: number, lcr = 0x03): void => {
    w(LCR_OFFSET, 0x80 | lcr);
    w(DLL_OFFSET, divisor & 0xff);
    w(DLM_OFFSET, divisor >> 8);
    w(LCR_OFFSET, lcr);
  };
  return { uart, irq, clock, chunks, r, w, output, input, setDivisor };
}

/** 8N1 at 115200 baud: 10 bits of 1/115200 s. */
const CHAR_8N1_115200 = (10 * 1e9) / 115200;

describe('Uart16550', () => {
  it('passes the Linux 8250 probe and startup, and keeps input queued before the port opens', () => {
    const { irq, r, w, input } = setup();
    // Input piped in before boot: held back until the driver raises RTS.
    input('echo hi\n');

    // autoconfig(): IER read/write test.
    const savedIer = r(IER_OFFSET);
    w(IER_OFFSET, 0);
    expect(r(IER_OFFSET) & 0x0f).toBe(0);
    w(IER_OFFSET, 0x0f);
    expect(r(IER_OFFSET) & 0x0f).toBe(0x0f);
    w(IER_OFFSET, savedIer);
    // Loopback test: RTS and OUT2 come back as CTS and DCD.
    const savedMcr = r(MCR_OFFSET);
    const savedLcr = r(LCR_OFFSET);
    w(MCR_OFFSET, 0x10 | 0x0a);
    expect(r(MSR_OFFSET) & 0xf0).toBe(0x90);
    w(MCR_OFFSET, savedMcr);
    // EFR probe (offset 2 is FCR on a 16550A), then FIFO detection through IIR bits 7..6.
    w(LCR_OFFSET, 0xbf);
    w(2, 0);
    w(LCR_OFFSET, 0);
    w(FCR_OFFSET, 0x01);
    expect(r(IIR_OFFSET) >> 6).toBe(3); // 16550A
    // autoconfig_16550a(): not an ST16C650 (EFR reads 0), not a 16750 (IIR bit 5), not XScale (IER bit 6).
    w(LCR_OFFSET, 0x80);
    expect(r(2)).not.toBe(0);
    w(LCR_OFFSET, 0xbf);
    expect(r(2)).not.toBe(0);
    w(LCR_OFFSET, 0);
    w(FCR_OFFSET, 0x21);
    const s1 = r(IIR_OFFSET) >> 5;
    w(FCR_OFFSET, 0x01);
    w(LCR_OFFSET, 0x80);
    w(FCR_OFFSET, 0x21);
    const s2 = r(IIR_OFFSET) >> 5;
    w(FCR_OFFSET, 0x01);
    w(LCR_OFFSET, 0);
    expect(s1 === 6 && s2 === 7).toBe(false);
    w(IER_OFFSET, 0x40);
    expect(r(IER_OFFSET) & 0x40).toBe(0);
    w(IER_OFFSET, 0);
    // Scratch register test (autoconfig_8250).
    w(SCR_OFFSET, 0xa5);
    expect(r(SCR_OFFSET)).toBe(0xa5);
    w(SCR_OFFSET, 0x5a);
    expect(r(SCR_OFFSET)).toBe(0x5a);
    w(LCR_OFFSET, savedLcr);
    // Reset the UART: clear FIFOs, drain RX.
    w(FCR_OFFSET, 0x01);
    w(FCR_OFFSET, 0x07);
    w(FCR_OFFSET, 0);
    r(RBR_OFFSET);

    // serial8250_do_startup(): clear FIFOs and interrupt registers; LSR must not read 0xFF.
    w(FCR_OFFSET, 0x01);
    w(FCR_OFFSET, 0x07);
    w(FCR_OFFSET, 0);
    r(LSR_OFFSET), r(RBR_OFFSET), r(IIR_OFFSET), r(MSR_OFFSET);
    expect(r(LSR_OFFSET)).toBe(0x60);
    // THRE re-assertion test (UART_BUG_THRE).
    w(IER_OFFSET, 0x02);
    const iir1 = r(IIR_OFFSET);
    w(IER_OFFSET, 0);
    w(IER_OFFSET, 0x02);
    const iir2 = r(IIR_OFFSET);
    w(IER_OFFSET, 0);
    expect(iir1 & 0x0f).toBe(0x02);
    expect(iir2 & 0x0f).toBe(0x02);
    w(LCR_OFFSET, 0x03);
    w(MCR_OFFSET, 0x08 | 0x01); // OUT2 | DTR
    // TX enable test (UART_BUG_TXEN): THRE must be reported with TEMT.
    w(IER_OFFSET, 0x02);
    const lsr = r(LSR_OFFSET);
    const iir = r(IIR_OFFSET);
    w(IER_OFFSET, 0);
    expect(lsr & 0x40 && iir & 0x01).toBeFalsy();
    r(LSR_OFFSET), r(RBR_OFFSET), r(IIR_OFFSET), r(MSR_OFFSET); // "again for luck"
    w(IER_OFFSET, 0x05); // RLSI | RDI
    // set_termios(): 115200 8N1, FIFO with trigger 8.
    w(LCR_OFFSET, 0x83);
    w(DLL_OFFSET, 1);
    w(DLM_OFFSET, 0);
    w(LCR_OFFSET, 0x03);
    w(FCR_OFFSET, 0x81);
    expect(irq.level).toBe(false);

    // The port is open: DTR and RTS go up, the 8 queued bytes arrive and reach the trigger.
    w(MCR_OFFSET, 0x0b);
    expect(irq.level).toBe(true);
    expect(r(IIR_OFFSET)).toBe(0xc4);
    let text = '';
    while (r(LSR_OFFSET) & 0x01) text += String.fromCharCode(r(RBR_OFFSET));
    expect(text).toBe('echo hi\n');
    expect(r(IIR_OFFSET)).toBe(0xc1);
    expect(irq.level).toBe(false);
  });

  it('maps the divisor latch over RBR/THR and IER while DLAB is set', () => {
    const { uart, r, w, output } = setup();
    w(IER_OFFSET, 0x05);
    w(LCR_OFFSET, 0x80);
    expect(uart.isDlabSet()).toBe(true);
    expect(r(DLL_OFFSET)).toBe(12); // power-on: 9600 baud
    expect(r(DLM_OFFSET)).toBe(0);
    w(DLL_OFFSET, 0x34);
    w(DLM_OFFSET, 0x12);
    expect(r(DLL_OFFSET)).toBe(0x34);
    expect(r(DLM_OFFSET)).toBe(0x12);
    expect(r(IIR_OFFSET) & 0x01).toBe(1); // offset 2 is not banked
    w(LCR_OFFSET, 0x03);
    expect(r(IER_OFFSET)).toBe(0x05); // IER untouched by DLM writes
    expect(output()).toBe(''); // DLL writes did not transmit
    // 8N1 at divisor 0x1234: 10 bits of 16 * 0x1234 / 1.8432 MHz.
    expect(uart.characterTimeNs()).toBeCloseTo((10 * 16 * 0x1234 * 1e9) / 1_843_200, 3);
    w(THR_OFFSET, 0x41);
    expect(output()).toBe('A');
  });

  it('raises THRE when ETBEI is enabled, acknowledges it by reading IIR, and re-raises it after a THR write', () => {
    const { irq, r, w, output } = setup();
    w(MCR_OFFSET, 0x08); // OUT2
    expect(r(IIR_OFFSET)).toBe(0x01);
    expect(r(LSR_OFFSET)).toBe(0x60); // THRE | TEMT
    w(IER_OFFSET, 0x02); // edge: enabled while THR empty
    expect(irq.levels).toEqual([true]);
    expect(r(IIR_OFFSET)).toBe(0x02); // 16450 mode: no FIFO bits; this read acknowledges
    expect(irq.levels).toEqual([true, false]);
    expect(r(IIR_OFFSET)).toBe(0x01);
    w(IER_OFFSET, 0x02); // already enabled: no new edge
    expect(irq.level).toBe(false);
    w(THR_OFFSET, 0x68);
    expect(irq.levels).toEqual([true, false, true]); // THR emptied again at once
    expect(r(LSR_OFFSET)).toBe(0x60);
    w(THR_OFFSET, 0x69); // the write acknowledges, the transmission re-raises: stays high
    expect(irq.levels).toEqual([true, false, true]);
    expect(output()).toBe('hi');
    w(IER_OFFSET, 0);
    expect(irq.level).toBe(false);
    w(IER_OFFSET, 0x02);
    expect(irq.level).toBe(true);
    expect(irq.levels).toEqual([true, false, true, false, true]);
  });

  it.each([
    [0x01, 1],
    [0x41, 4],
    [0x81, 8],
    [0xc1, 14],
  ])('raises the received-data interrupt at the trigger level (FCR 0x%s: %i bytes)', (fcr, level) => {
    const { uart, irq, r, w, input } = setup();
    w(MCR_OFFSET, 0x0b); // DTR | RTS | OUT2
    w(FCR_OFFSET, fcr);
    expect(uart.rxTriggerLevel()).toBe(level);
    w(IER_OFFSET, 0x01);
    input('x'.repeat(level - 1));
    expect(r(IIR_OFFSET)).toBe(0xc1);
    expect(irq.level).toBe(false);
    input('y');
    expect(r(IIR_OFFSET)).toBe(0xc4);
    expect(irq.level).toBe(true);
    r(RBR_OFFSET); // one below the trigger again
    expect(r(IIR_OFFSET)).toBe(0xc1);
    expect(irq.level).toBe(false);
  });

  it('reports overrun when the FIFO is full, drops the new byte, and clears OE on an LSR read', () => {
    const { irq, r, w, output } = setup();
    w(MCR_OFFSET, 0x10); // loopback
    w(FCR_OFFSET, 0xc1);
    w(IER_OFFSET, 0x05); // RLSI | RDI
    for (let i = 0; i < 17; i++) w(THR_OFFSET, i);
    expect(r(IIR_OFFSET)).toBe(0xc6); // line status first
    expect(r(LSR_OFFSET)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(r(LSR_OFFSET)).toBe(0x61);
    expect(r(IIR_OFFSET)).toBe(0xc4);
    const got: number[] = [];
    while (r(LSR_OFFSET) & 0x01) got.push(r(RBR_OFFSET));
    expect(got).toEqual([...Array(16).keys()]);
    expect(output()).toBe(''); // loopback: nothing left the chip
    expect(irq.levels).toEqual([]); // loopback gates the PC interrupt line
  });

  it('works as a 16450 when FCR bit 0 is clear: one-byte RBR, overwrite on overrun, no FIFO bits, no timeout', () => {
    const { clock, irq, r, w, input } = setup();
    w(FCR_OFFSET, 0xc0); // bits other than 0 are not programmed while it is clear
    w(MCR_OFFSET, 0x10);
    w(IER_OFFSET, 0x01);
    w(THR_OFFSET, 0x41);
    w(THR_OFFSET, 0x42);
    expect(r(IIR_OFFSET)).toBe(0x04); // received data at one byte, no 0xC0
    expect(r(LSR_OFFSET)).toBe(0x63);
    expect(r(RBR_OFFSET)).toBe(0x42); // overwritten
    expect(r(LSR_OFFSET)).toBe(0x60);
    // Host input: one byte at a time, the next after each read.
    w(MCR_OFFSET, 0x0b);
    input('abc');
    expect(irq.level).toBe(true);
    clock.advance(1e9);
    expect(r(IIR_OFFSET)).toBe(0x04);
    expect(clock.nextDeadline()).toBe(Infinity);
    expect(String.fromCharCode(r(RBR_OFFSET), r(RBR_OFFSET), r(RBR_OFFSET))).toBe('abc');
    expect(r(LSR_OFFSET)).toBe(0x60);
    expect(r(IIR_OFFSET)).toBe(0x01);
    // Switching modes empties the receiver.
    input('d');
    w(FCR_OFFSET, 0x07);
    w(MCR_OFFSET, 0x10);
    w(THR_OFFSET, 0x45);
    w(FCR_OFFSET, 0x00);
    expect(r(LSR_OFFSET) & 0x01).toBe(0);
  });

  it('raises the character timeout after 4 idle character times below the trigger level', () => {
    const { uart, clock, irq, r, w, input, setDivisor } = setup();
    w(MCR_OFFSET, 0x0b);
    setDivisor(1); // 115200 8N1
    w(FCR_OFFSET, 0x81); // trigger 8
    w(IER_OFFSET, 0x01);
    expect(uart.characterTimeNs()).toBeCloseTo(CHAR_8N1_115200, 6);
    clock.set(1000);
    input('abc');
    clock.set(1000 + 4 * CHAR_8N1_115200 - 1);
    expect(r(IIR_OFFSET)).toBe(0xc1);
    clock.set(1000 + 4 * CHAR_8N1_115200);
    expect(r(IIR_OFFSET)).toBe(0xcc);
    expect(irq.level).toBe(true);
    // Reading RBR clears the indication and restarts the wait.
    const t = clock.now();
    expect(r(RBR_OFFSET)).toBe(0x61);
    expect(r(IIR_OFFSET)).toBe(0xc1);
    expect(irq.level).toBe(false);
    // A byte arriving restarts it too.
    clock.set(t + 3 * CHAR_8N1_115200);
    input('d');
    clock.set(t + 5 * CHAR_8N1_115200);
    expect(r(IIR_OFFSET)).toBe(0xc1);
    clock.set(t + 7 * CHAR_8N1_115200);
    expect(r(IIR_OFFSET)).toBe(0xcc);
    // Clearing the FIFO removes it.
    w(FCR_OFFSET, 0x83);
    expect(r(IIR_OFFSET)).toBe(0xc1);
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it('scales the timeout with the divisor and the word format', () => {
    const { uart, clock, r, w, input, setDivisor } = setup();
    w(MCR_OFFSET, 0x0b);
    setDivisor(12, 0x0e); // 9600 baud, 7 data bits, parity, 2 stop bits: 11 bits
    const char = (11 * 12 * 1e9) / 115200;
    expect(uart.characterTimeNs()).toBeCloseTo(char, 3);
    w(FCR_OFFSET, 0x01);
    w(IER_OFFSET, 0x01);
    w(FCR_OFFSET, 0xc1); // trigger 14
    input('z');
    clock.advance(4 * char - 10);
    expect(r(IIR_OFFSET)).toBe(0xc1);
    clock.advance(10);
    expect(r(IIR_OFFSET)).toBe(0xcc);
  });

  it('orders interrupts: line status > received data > THRE > modem status', () => {
    const { r, w } = setup();
    w(FCR_OFFSET, 0x01); // trigger 1
    w(MCR_OFFSET, 0x10); // loopback: CTS, DSR, DCD drop, setting their delta bits
    w(IER_OFFSET, 0x0f);
    for (let i = 0; i < 17; i++) w(THR_OFFSET, 0x30 + i);
    expect(r(IIR_OFFSET)).toBe(0xc6);
    r(LSR_OFFSET);
    expect(r(IIR_OFFSET)).toBe(0xc4);
    while (r(LSR_OFFSET) & 0x01) r(RBR_OFFSET);
    expect(r(IIR_OFFSET)).toBe(0xc2); // this read acknowledges THRE
    expect(r(IIR_OFFSET)).toBe(0xc0);
    expect(r(MSR_OFFSET)).toBe(0x0b); // DDCD | DDSR | DCTS, inputs all low
    expect(r(IIR_OFFSET)).toBe(0xc1);
  });

  it('ranks the character timeout above THRE', () => {
    const { clock, r, w, input, setDivisor } = setup();
    w(MCR_OFFSET, 0x0b);
    setDivisor(1);
    w(FCR_OFFSET, 0x81);
    w(IER_OFFSET, 0x03);
    input('q');
    expect(r(IIR_OFFSET)).toBe(0xc2);
    w(IER_OFFSET, 0);
    w(IER_OFFSET, 0x03); // THRE pending again
    clock.advance(4 * CHAR_8N1_115200);
    expect(r(IIR_OFFSET)).toBe(0xcc);
    r(RBR_OFFSET);
    expect(r(IIR_OFFSET)).toBe(0xc2);
  });

  it('loops TX to RX and the MCR outputs to the MSR inputs in loopback', () => {
    const { r, w, input, output } = setup();
    expect(r(MSR_OFFSET)).toBe(0xb0); // host terminal: DCD, DSR, CTS; no deltas at power-on
    w(MCR_OFFSET, 0x10 | 0x04); // OUT1 -> RI
    expect(r(MSR_OFFSET)).toBe(0x40 | 0x0b); // CTS, DSR, DCD dropped; RI rose (no TERI)
    expect(r(MSR_OFFSET)).toBe(0x40);
    w(MCR_OFFSET, 0x10); // RI falls: trailing edge
    expect(r(MSR_OFFSET)).toBe(0x04);
    for (const [mcr, msr] of [[0x01, 0x20], [0x02, 0x10], [0x04, 0x40], [0x08, 0x80]] as const) {
      w(MCR_OFFSET, 0x10 | mcr);
      expect(r(MSR_OFFSET) & 0xf0).toBe(msr);
      w(MCR_OFFSET, 0x10);
      r(MSR_OFFSET);
    }
    w(MCR_OFFSET, 0x10 | 0x02); // RTS set, but SIN is disconnected
    input('h');
    w(THR_OFFSET, 0x4c);
    expect(r(RBR_OFFSET)).toBe(0x4c);
    expect(r(LSR_OFFSET) & 0x01).toBe(0);
    expect(output()).toBe('');
    r(MSR_OFFSET);
    w(MCR_OFFSET, 0x02); // leave loopback: host lines come back, the held byte arrives
    expect(r(MSR_OFFSET)).toBe(0xb0 | 0x0a); // DSR and DCD return; CTS followed RTS all along
    expect(r(RBR_OFFSET)).toBe(0x68);
    w(THR_OFFSET, 0x4f);
    expect(output()).toBe('O');
  });

  it('gates the interrupt line with OUT2 and drops it in loopback, as on a PC', () => {
    const { irq, r, w } = setup();
    w(IER_OFFSET, 0x02);
    expect(r(IIR_OFFSET) & 0x0f).toBe(0x02); // pending (and now acknowledged) but not signalled
    w(IER_OFFSET, 0);
    w(IER_OFFSET, 0x02);
    expect(irq.levels).toEqual([]);
    w(MCR_OFFSET, 0x08);
    expect(irq.levels).toEqual([true]);
    w(MCR_OFFSET, 0x18);
    expect(irq.levels).toEqual([true, false]);
    w(MCR_OFFSET, 0x08);
    expect(irq.levels).toEqual([true, false, true]);
    w(MCR_OFFSET, 0x00);
    expect(irq.levels).toEqual([true, false, true, false]);
  });

  it('delivers 1000 piped bytes through the interrupt-driven FIFO without losing one', () => {
    const { clock, irq, r, w, uart, setDivisor } = setup();
    const next = xorshift32(42);
    const data = Uint8Array.from({ length: 1000 }, () => next() & 0xff);
    uart.enqueueInput(data.subarray(0, 300)); // before the driver is ready
    setDivisor(1); // Linux's order: line settings and FIFO, interrupts, then RTS
    w(FCR_OFFSET, 0x81);
    w(IER_OFFSET, 0x05);
    w(MCR_OFFSET, 0x0b);
    const got: number[] = [];
    let fed = 300;
    for (let round = 0; round < 10_000 && got.length < data.length; round++) {
      if (fed < data.length && round % 3 === 0) {
        const n = 1 + (next() % 37);
        uart.enqueueInput(data.subarray(fed, fed + n));
        fed = Math.min(data.length, fed + n);
      }
      if (!irq.level) {
        clock.advance(CHAR_8N1_115200); // idle: let time pass (the timeout delivers the tail)
        continue;
      }
      // The Linux ISR shape: IIR, then up to 256 characters while LSR.DR.
      const iir = r(IIR_OFFSET);
      expect([0xc4, 0xcc]).toContain(iir);
      for (let n = 0; n < 256; n++) {
        const lsr = r(LSR_OFFSET);
        expect(lsr & 0x02).toBe(0); // never an overrun
        if (!(lsr & 0x01)) break;
        got.push(r(RBR_OFFSET));
        if (n % 5 === 4) break; // a slow reader: leave some in the FIFO
      }
    }
    expect(Uint8Array.from(got)).toEqual(data);
    expect(uart.hasPendingInput()).toBe(false);
    expect(uart.inputBacklog()).toBe(0);
  });

  it('holds host input while RTS is low and reports it as pending', () => {
    const { uart, r, w, input } = setup();
    input('ab');
    expect(uart.hasPendingInput()).toBe(true);
    expect(uart.inputBacklog()).toBe(2);
    expect(r(LSR_OFFSET) & 0x01).toBe(0);
    w(MCR_OFFSET, 0x02);
    expect(uart.inputBacklog()).toBe(1); // 16450 mode: one byte in RBR
    expect(r(RBR_OFFSET)).toBe(0x61);
    expect(r(RBR_OFFSET)).toBe(0x62);
    expect(r(RBR_OFFSET)).toBe(0x62); // empty: RBR keeps the last byte
    expect(uart.hasPendingInput()).toBe(false);
  });

  it('batches output until flushOutput, and flushes a full buffer by itself', () => {
    const { uart, chunks, w } = setup();
    w(THR_OFFSET, 0x68);
    w(THR_OFFSET, 0x69);
    expect(chunks).toEqual([]);
    uart.flushOutput();
    uart.flushOutput();
    expect(chunks).toEqual([Uint8Array.of(0x68, 0x69)]);
    for (let i = 0; i < 5000; i++) w(THR_OFFSET, i & 0xff);
    expect(chunks.length).toBe(2);
    expect(chunks[1]!.length).toBe(4096);
    uart.flushOutput();
    expect(chunks[2]!.length).toBe(904);
    expect(chunks[2]![0]).toBe(4096 & 0xff);
  });

  it('treats wide accesses as byte accesses and reads 0xFF beyond offset 7', () => {
    const { uart, r } = setup();
    uart.write(SCR_OFFSET, 4, 0x12345678);
    expect(r(SCR_OFFSET)).toBe(0x78);
    expect(uart.read(SCR_OFFSET, 4)).toBe(0x78);
    expect(uart.read(LSR_OFFSET, 2)).toBe(0x60);
    expect(uart.read(8, 1)).toBe(0xff);
    uart.write(9, 1, 0);
  });

  it('restores from a snapshot: re-raises the line and re-arms the timeout', () => {
    const a = setup();
    a.w(MCR_OFFSET, 0x0b);
    a.setDivisor(1);
    a.w(FCR_OFFSET, 0x81);
    a.w(IER_OFFSET, 0x03);
    a.clock.set(5000);
    a.input('xy');
    const snapshot: Uart16550State = JSON.parse(JSON.stringify(a.uart.state()));
    const clock = new FakeClock();
    clock.set(5000);
    const irq = new FakeIrq();
    const b = harness(Uart16550.fromState(snapshot, { irq, clock, output: () => {} }), irq, clock, []);
    expect(irq.levels).toEqual([true]); // THRE pending
    expect(b.r(IIR_OFFSET)).toBe(0xc2);
    expect(irq.level).toBe(false);
    clock.set(5000 + 4 * CHAR_8N1_115200);
    expect(b.r(IIR_OFFSET)).toBe(0xcc);
    expect(String.fromCharCode(b.r(RBR_OFFSET), b.r(RBR_OFFSET))).toBe('xy');
  });

  it('resets to the power-on state but keeps the host backlog', () => {
    const { uart, irq, r, w, input } = setup();
    w(MCR_OFFSET, 0x08);
    w(IER_OFFSET, 0x02);
    w(SCR_OFFSET, 0x77);
    input('k');
    expect(irq.level).toBe(true);
    uart.reset();
    expect(irq.level).toBe(false);
    expect([r(IER_OFFSET), r(IIR_OFFSET), r(LCR_OFFSET), r(MCR_OFFSET), r(LSR_OFFSET), r(MSR_OFFSET), r(SCR_OFFSET)])
      .toEqual([0, 0x01, 0, 0, 0x60, 0xb0, 0]);
    w(MCR_OFFSET, 0x02);
    expect(r(RBR_OFFSET)).toBe(0x6b);
  });
});

// The shared device contract, on a fresh UART and in states with data in the FIFO and backlog,
// each interrupt source on top, unflushed output and an armed or expired timeout timer.
const clocks = new WeakMap<Uart16550, FakeClock>();
const create = (): Uart16550 => {
  const clock = new FakeClock();
  const uart = new Uart16550({ irq: new FakeIrq(), clock, output: () => {} });
  clocks.set(uart, clock);
  return uart;
};
const bytes = (uart: Uart16550, ...pairs: number[]): void => {
  for (let i = 0; i < pairs.length; i += 2) uart.write(pairs[i]!, 1, pairs[i + 1]!);
};
describeDeviceContract<Uart16550, Uart16550State>({
  name: 'Uart16550',
  create,
  scenarios: {
    'receiving with a backlog, modem deltas and unflushed output': (uart) => {
      clocks.get(uart)!.set(12_345);
      bytes(uart, LCR_OFFSET, 0x83, DLL_OFFSET, 3, LCR_OFFSET, 0x1b, FCR_OFFSET, 0x41, MCR_OFFSET, 0x1b);
      bytes(uart, THR_OFFSET, 0x21, MCR_OFFSET, 0x0b, IER_OFFSET, 0x0f, SCR_OFFSET, 0x99);
      uart.enqueueInput(Uint8Array.from({ length: 20 }, (_, i) => 0x40 + i));
      uart.read(RBR_OFFSET, 1);
      bytes(uart, THR_OFFSET, 0x2a);
    },
    'THRE pending': (uart) => bytes(uart, MCR_OFFSET, 0x08, IER_OFFSET, 0x02),
    'modem status pending': (uart) => bytes(uart, MCR_OFFSET, 0x08, IER_OFFSET, 0x08, MCR_OFFSET, 0x18, MCR_OFFSET, 0x08),
    'overrun and timeout in loopback': (uart) => {
      bytes(uart, FCR_OFFSET, 0xc1, MCR_OFFSET, 0x1f, IER_OFFSET, 0x07);
      for (let i = 0; i < 18; i++) bytes(uart, THR_OFFSET, i);
      uart.read(RBR_OFFSET, 1);
      clocks.get(uart)!.advance(1e9);
    },
    '16450 mode with DLAB set': (uart) => {
      bytes(uart, MCR_OFFSET, 0x0b, IER_OFFSET, 0x01, LCR_OFFSET, 0x80);
      uart.enqueueInput(Uint8Array.of(1, 2, 3));
    },
  },
  state: (uart) => uart.state(),
  fromState: (state) => Uart16550.fromState(state, { irq: new FakeIrq(), clock: new FakeClock(), output: () => {} }),
  reset: (uart) => uart.reset(),
  registers: [0, 1, 2, 3, 4, 5, 6, 7].map((offset) => ({ offset, sizes: [1, 2, 4] as const })),
  unmapped: [8, 9, 0x10, 0xff, 0x1000],
});
