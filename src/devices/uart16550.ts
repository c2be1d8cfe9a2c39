/**
 * A 16550A UART (COM1 at 0x3F8, IRQ 4): the machine's console.
 *
 * Spec: National Semiconductor / TI "PC16550D Universal Asynchronous Receiver/Transmitter with
 * FIFOs" datasheet (SNLS378), section 8 "Registers": the register descriptions (LCR, LSR, FCR,
 * IIR with the "Interrupt Control Functions" priority table, IER, MCR with loopback, MSR, SCR),
 * "FIFO Interrupt Mode Operation" (character timeout) and the "UART Reset Configuration" table.
 * Linux's drivers/tty/serial/8250 is the client this model is checked against (autoconfig
 * probe, startup THRE tests, interrupt loop).
 *
 *   offset  DLAB=0 read   DLAB=0 write   DLAB=1
 *     0     RBR           THR            DLL (divisor latch, low byte)
 *     1     IER           IER            DLM (divisor latch, high byte)
 *     2     IIR           FCR            (IIR / FCR, DLAB does not apply)
 *     3     LCR    4 MCR    5 LSR (read only)    6 MSR (read only)    7 SCR
 *
 * Design decisions:
 * - The transmitter is infinitely fast: a byte written to THR leaves at once, so THR, the
 *   transmit FIFO and the shift register are always empty (LSR.THRE = LSR.TEMT = 1) and the
 *   THRE interrupt condition comes back immediately after a THR write. Transmitted bytes are
 *   collected in a buffer and handed to the `output` sink in one chunk by `flushOutput()`,
 *   which the machine calls once per CPU slice (and the buffer flushes itself when full).
 * - Host input (`enqueueInput`) goes to an unbounded backlog that is never dropped. Bytes move
 *   from the backlog into the receiver whenever it has room, SIN is connected (not loopback)
 *   and the guest asserts RTS (MCR bit 1): the host side honours RTS flow control. Linux raises
 *   RTS only when a process has opened the port and the driver is ready to receive ("once the
 *   port is open and ready to respond", serial_core uart_port_startup); before that its probe
 *   and startup clear the FIFO and discard RBR, which would eat piped-in input. A guest that
 *   never sets RTS receives nothing. Bytes already in the receiver belong to the guest: a FIFO
 *   clear or a 16450/FIFO mode switch discards them, as on the chip. Host input arrives
 *   instantly (no baud-rate pacing), so it can never overrun the FIFO; only loopback can.
 * - Character timeout ("FIFO Interrupt Mode Operation"): raised when the receive FIFO holds
 *   data and nothing entered or left it for 4 character times, the character time following
 *   the programmed divisor and LCR word format, measured on the injected Clock with a one-shot
 *   Timer. Cleared by reading RBR (which also restarts the 4-character wait) or by clearing the
 *   FIFO. As on the chip the FIFO level does not matter; at or above the trigger level it only
 *   changes the IIR code from 0x04 to 0x0C, which Linux treats alike.
 * - IRQ line: on a PC the chip's INTR output reaches the interrupt controller only through a
 *   buffer enabled by the OUT2 pin, and loopback mode forces that pin inactive. So the line is
 *   `interrupt pending && MCR.OUT2 && !MCR.LOOP`. Linux sets OUT2 whenever the port has an IRQ
 *   (8250_port.c serial8250_do_startup: "Most PC uarts need OUT2 raised to enable interrupts")
 *   and never needs interrupts in loopback (its loopback test polls MSR).
 * - Modem inputs outside loopback come from an always-present host terminal: DCD, DSR and CTS
 *   asserted, RI off (MSR = 0xB0). Entering or leaving loopback changes them and sets the delta
 *   bits as the pins would.
 * - An access wider than a byte acts on the single register at its offset: a read returns
 *   that register zero-extended, a write uses the low byte. (An ISA bus would split it into
 *   byte cycles to the following registers too; no driver does wide accesses to a UART, and
 *   this keeps `peek` exact.) Offsets beyond 7 read 0xFF and ignore writes.
 * - `reset()` restores the power-on state (the machine's reset is a power cycle): unlike the
 *   chip's master reset it also resets the divisor (to 12, 9600 baud) and SCR. The host
 *   backlog survives it; data already in the receive FIFO does not.
 *
 * Not supported:
 * - Line errors: parity, framing and break are never produced (the host link is a byte
 *   stream), so LSR bits 2-4 and 7 read 0; LCR parity/stop settings only affect the character
 *   time; LCR.BREAK (bit 6) has no effect.
 * - Real transmit timing: no baud-rate delay, the transmit FIFO never holds data (FCR bit 2
 *   has nothing to clear).
 * - DMA mode (FCR bit 3, TXRDY/RXRDY pins): stored, no effect.
 * - Host control of the modem inputs (DCD/DSR/CTS/RI are fixed outside loopback).
 * - 16650/16750/XScale extensions: EFR, 64-byte FIFOs, IER bits 4-7 (read 0), IIR bits 4-5.
 */
import type { Clock, Timer } from '../machine/clock.ts';
import type { AccessSize, Device, IrqLine } from './device.ts';

// Register offsets from the base port.
export const RBR_OFFSET = 0; // receiver buffer (read, DLAB=0)
export const THR_OFFSET = 0; // transmitter holding (write, DLAB=0)
export const DLL_OFFSET = 0; // divisor latch low (DLAB=1)
export const IER_OFFSET = 1; // interrupt enable (DLAB=0)
export const DLM_OFFSET = 1; // divisor latch high (DLAB=1)
export const IIR_OFFSET = 2; // interrupt identification (read)
export const FCR_OFFSET = 2; // FIFO control (write)
export const LCR_OFFSET = 3; // line control
export const MCR_OFFSET = 4; // modem control
export const LSR_OFFSET = 5; // line status
export const MSR_OFFSET = 6; // modem status
export const SCR_OFFSET = 7; // scratch
/** Number of ports the UART decodes. */
export const UART_REGISTER_COUNT = 8;

// IER: 7..4 reserved (0) | 3 EDSSI | 2 ELSI | 1 ETBEI | 0 ERBFI
export const IER_RDI = 0x01; // received data available (and character timeout)
export const IER_THRI = 0x02; // THR empty
export const IER_RLSI = 0x04; // receiver line status
export const IER_MSI = 0x08; // modem status
export const IER_MASK = 0x0f;

// IIR: 7..6 FIFOs enabled (11) | 5..4 0 | 3..1 interrupt ID | 0 no interrupt pending
export const IIR_NO_INT = 0x01;
export const IIR_MSI_ID = 0x00; // modem status (lowest priority)
export const IIR_THRI_ID = 0x02; // THR empty
export const IIR_RDI_ID = 0x04; // received data available
export const IIR_RLSI_ID = 0x06; // receiver line status (highest priority)
export const IIR_TIMEOUT_ID = 0x0c; // character timeout (same priority as RDI)
export const IIR_FIFO_ENABLED_MASK = 0xc0;

// FCR: 7..6 receive trigger | 5..4 reserved | 3 DMA mode | 2 clear TX | 1 clear RX | 0 enable
export const FCR_ENABLE_FIFO = 0x01;
export const FCR_CLEAR_RCVR = 0x02;
export const FCR_CLEAR_XMIT = 0x04;
export const FCR_DMA_SELECT = 0x08;
export const FCR_TRIGGER_MASK = 0xc0;
export const FCR_TRIGGER_SHIFT = 6;
/** Receive FIFO trigger levels for FCR bits 7..6 = 00, 01, 10, 11. */
export const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Depth of each FIFO. */
export const FIFO_SIZE = 16;

// LCR: 7 DLAB | 6 break | 5 stick parity | 4 even parity | 3 parity enable | 2 stop bits | 1..0 word length
export const LCR_WORD_LENGTH_MASK = 0x03; // 5 + value data bits
export const LCR_STOP_BITS = 0x04; // 2 stop bits (1.5 with 5-bit words)
export const LCR_PARITY_ENABLE = 0x08;
export const LCR_DLAB = 0x80;

// MCR: 7..5 reserved (0) | 4 LOOP | 3 OUT2 | 2 OUT1 | 1 RTS | 0 DTR
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

// LSR: 7 error in RX FIFO | 6 TEMT | 5 THRE | 4 BI | 3 FE | 2 PE | 1 OE | 0 DR
export const LSR_DATA_READY = 0x01;
export const LSR_OVERRUN = 0x02;
export const LSR_THR_EMPTY = 0x20;
export const LSR_TRANSMITTER_EMPTY = 0x40;
/** The bits that raise a receiver line status interrupt (OE, PE, FE, BI). */
export const LSR_ERROR_MASK = 0x1e;

// MSR: 7 DCD | 6 RI | 5 DSR | 4 CTS | 3 DDCD | 2 TERI | 1 DDSR | 0 DCTS
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04; // trailing edge of RI (RI went from on to off)
export const MSR_DDCD = 0x08;
export const MSR_DELTA_MASK = 0x0f;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
/** Modem inputs from the host terminal outside loopback: carrier, data set ready, clear to send. */
export const HOST_MODEM_LINES = MSR_DCD | MSR_DSR | MSR_CTS;

/** The 1.8432 MHz crystal of PC serial ports; baud = clock / (16 * divisor). */
export const UART_INPUT_CLOCK_HZ = 1_843_200;
/** Divisor after power-on: 9600 baud. */
export const RESET_DIVISOR = 12;
/** Transmitted bytes are buffered up to this many before the buffer flushes itself. */
export const OUTPUT_BUFFER_SIZE = 4096;

export interface Uart16550Options {
  /** The interrupt line (COM1: ISA IRQ 4 = GSI 4, edge-triggered). */
  irq: IrqLine;
  /** Guest time, for the receive character timeout. */
  clock: Clock;
  /**
   * Receives transmitted bytes in chunks, from `flushOutput()` or when the buffer is full.
   * The chunk is a fresh copy owned by the callee (it may keep or transfer it).
   */
  output: (chunk: Uint8Array) => void;
}

/** A plain snapshot of the UART (numbers and arrays only: JSON- and structuredClone-safe). */
export interface Uart16550State {
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  /** Divisor latch, DLM << 8 | DLL. */
  divisor: number;
  /** FCR bits as last programmed: 0 enable, 3 DMA mode, 7..6 trigger. */
  fcr: number;
  /** Sticky LSR error bits (OE), cleared by reading LSR. */
  lsrErrors: number;
  /** MSR delta bits 3..0, cleared by reading MSR. */
  msrDeltas: number;
  /** THR-empty interrupt pending (set when THR empties or ETBEI is enabled, cleared by an IIR read). */
  thrEmptyPending: boolean;
  /** Character timeout indication pending. */
  timeoutPending: boolean;
  /** Guest time (ns) of the last byte into or out of the receive FIFO. */
  rxLastActivity: number;
  /** Receive FIFO (or RBR in 16450 mode), oldest byte first. */
  rx: number[];
  /** Value RBR reads when the receiver is empty (the last byte read). */
  lastRx: number;
  /** Host input not yet moved into the receiver. */
  backlog: number[];
  /** Transmitted bytes not yet given to the output sink. */
  output: number[];
}

export class Uart16550 implements Device {
  readonly name = 'uart16550';

  private readonly irq: IrqLine;
  private readonly clock: Clock;
  private readonly output: (chunk: Uint8Array) => void;
  private readonly timeoutTimer: Timer;
  /** The level last given to `irq`, so that only changes are signalled. */
  private irqLevel = false;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private divisor = RESET_DIVISOR;
  private fcr = 0;
  private lsrErrors = 0;
  private msrDeltas = 0;
  private thrEmptyPending = false;
  private timeoutPending = false;
  private rxLastActivity = 0;
  private lastRx = 0;

  /** Receive FIFO as a ring: `rxCount` bytes starting at `rxHead`. */
  private readonly rxFifo = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;

  /** Host input: chunks, the first consumed from `backlogOffset`; `backlogLength` bytes in all. */
  private backlog: Uint8Array[] = [];
  private backlogOffset = 0;
  private backlogLength = 0;

  private readonly outBuffer = new Uint8Array(OUTPUT_BUFFER_SIZE);
  private outLength = 0;

  constructor(options: Uart16550Options) {
    this.irq = options.irq;
    this.clock = options.clock;
    this.output = options.output;
    this.timeoutTimer = this.clock.timer((now) => this.onTimeoutTimer(now));
    this.rxLastActivity = this.clock.now();
  }

  // ---------------------------------------------------------------------------------------------
  // Guest access
  // ---------------------------------------------------------------------------------------------

  // A 2- or 4-byte access acts on the one register at `offset` (see the header).
  read(offset: number, _size: AccessSize): number {
    return this.readByte(offset, false);
  }

  peek(offset: number, _size: AccessSize): number {
    return this.readByte(offset, true);
  }

  write(offset: number, _size: AccessSize, value: number): void {
    this.writeByte(offset, value & 0xff);
  }

  /** One byte register read; `peek` skips every side effect. */
  private readByte(offset: number, peek: boolean): number {
    switch (offset) {
      case RBR_OFFSET:
        if (this.isDlabSet()) return this.divisor & 0xff;
        return peek ? this.peekRbr() : this.readRbr();
      case IER_OFFSET:
        return this.isDlabSet() ? this.divisor >>> 8 : this.ier;
      case IIR_OFFSET: {
        const iir = this.iir();
        // Reading IIR while it reports THRE acknowledges that interrupt (Interrupt Control Functions table).
        if (!peek && (iir & 0x0f) === IIR_THRI_ID) {
          this.thrEmptyPending = false;
          this.updateIrq();
        }
        return iir;
      }
      case LCR_OFFSET:
        return this.lcr;
      case MCR_OFFSET:
        return this.mcr;
      case LSR_OFFSET: {
        const lsr = this.lsr();
        if (!peek && this.lsrErrors !== 0) {
          this.lsrErrors = 0; // error bits clear on read
          this.updateIrq();
        }
        return lsr;
      }
      case MSR_OFFSET: {
        const msr = this.modemInputs() | this.msrDeltas;
        if (!peek && this.msrDeltas !== 0) {
          this.msrDeltas = 0; // delta bits clear on read
          this.updateIrq();
        }
        return msr;
      }
      case SCR_OFFSET:
        return this.scr;
      default:
        return 0xff; // beyond the 8 decoded ports
    }
  }

  private writeByte(offset: number, value: number): void {
    switch (offset) {
      case THR_OFFSET:
        if (this.isDlabSet()) this.setDivisor((this.divisor & 0xff00) | value);
        else this.transmit(value);
        break;
      case IER_OFFSET:
        if (this.isDlabSet()) this.setDivisor((this.divisor & 0x00ff) | (value << 8));
        else this.writeIer(value);
        break;
      case FCR_OFFSET:
        this.writeFcr(value);
        break;
      case LCR_OFFSET:
        this.lcr = value;
        this.scheduleTimeout(); // the word format changes the character time
        break;
      case MCR_OFFSET:
        this.writeMcr(value);
        break;
      case SCR_OFFSET:
        this.scr = value;
        break;
      default:
        break; // LSR and MSR are read-only (writes are factory test modes); beyond 7: nothing
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Registers
  // ---------------------------------------------------------------------------------------------

  isDlabSet(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  isFifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE_FIFO) !== 0;
  }

  isLoopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  /** Receive FIFO trigger level (1, 4, 8 or 14 bytes). */
  rxTriggerLevel(): number {
    return RX_TRIGGER_LEVELS[(this.fcr & FCR_TRIGGER_MASK) >>> FCR_TRIGGER_SHIFT] ?? 1;
  }

  /** Receiver capacity: the 16-byte FIFO, or the single RBR in 16450 mode. */
  private rxCapacity(): number {
    return this.isFifoEnabled() ? FIFO_SIZE : 1;
  }

  private lsr(): number {
    // The transmitter is always empty (infinitely fast); no line errors besides overrun occur.
    return LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY | this.lsrErrors | (this.rxCount > 0 ? LSR_DATA_READY : 0);
  }

  /** MSR bits 7..4: the modem input pins, or in loopback the MCR outputs wired back. */
  private modemInputs(): number {
    if (!this.isLoopback()) return HOST_MODEM_LINES;
    const mcr = this.mcr;
    return (
      (mcr & MCR_RTS ? MSR_CTS : 0) |
      (mcr & MCR_DTR ? MSR_DSR : 0) |
      (mcr & MCR_OUT1 ? MSR_RI : 0) |
      (mcr & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  /** Interrupt identification, highest priority source first (Interrupt Control Functions table). */
  private iir(): number {
    const fifoBits = this.isFifoEnabled() ? IIR_FIFO_ENABLED_MASK : 0;
    const ier = this.ier;
    if (ier & IER_RLSI && this.lsrErrors & LSR_ERROR_MASK) return fifoBits | IIR_RLSI_ID;
    if (ier & IER_RDI) {
      if (this.timeoutPending) return fifoBits | IIR_TIMEOUT_ID;
      if (this.rxCount >= (this.isFifoEnabled() ? this.rxTriggerLevel() : 1)) return fifoBits | IIR_RDI_ID;
    }
    if (ier & IER_THRI && this.thrEmptyPending) return fifoBits | IIR_THRI_ID;
    if (ier & IER_MSI && this.msrDeltas !== 0) return fifoBits | IIR_MSI_ID;
    return fifoBits | IIR_NO_INT;
  }

  private writeIer(value: number): void {
    const old = this.ier;
    this.ier = value & IER_MASK;
    if (this.ier & IER_THRI && !(old & IER_THRI)) {
      // Enabling ETBEI while THR is empty (always, here) raises THRE at once: Linux's startup
      // test counts on it ("Real 16550s should always reassert this interrupt").
      this.thrEmptyPending = true;
    } else if (!(this.ier & IER_THRI)) {
      this.thrEmptyPending = false;
    }
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_ENABLE_FIFO) !== 0;
    if (enable !== this.isFifoEnabled()) {
      // Switching between 16450 and FIFO mode empties both FIFOs (FCR bit 0).
      this.clearRx();
    }
    if (!enable) {
      // With FCR bit 0 clear the other bits are not programmed: the trigger level is kept.
      this.fcr &= ~FCR_ENABLE_FIFO;
    } else {
      this.fcr = value & (FCR_ENABLE_FIFO | FCR_DMA_SELECT | FCR_TRIGGER_MASK);
      if (value & FCR_CLEAR_RCVR) this.clearRx();
      // FCR_CLEAR_XMIT: the transmit FIFO is always empty.
    }
    this.fillFromBacklog();
    this.scheduleTimeout();
    this.updateIrq();
  }

  private writeMcr(value: number): void {
    const before = this.modemInputs();
    this.mcr = value & MCR_MASK;
    const after = this.modemInputs();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    if (before & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TERI;
    this.fillFromBacklog(); // RTS raised or loopback left: host input may flow
    this.updateIrq();
  }

  private setDivisor(divisor: number): void {
    this.divisor = divisor;
    this.scheduleTimeout();
  }

  // ---------------------------------------------------------------------------------------------
  // Transmitter and receiver
  // ---------------------------------------------------------------------------------------------

  private transmit(byte: number): void {
    // Writing THR acknowledges a THRE interrupt; the byte leaves at once, THR is empty again and
    // the THRE condition is back (what a real chip does one character time later).
    // (The flag is only kept while ETBEI is set; enabling ETBEI sets it anyway.)
    this.thrEmptyPending = false;
    if (this.isLoopback()) {
      this.receive(byte);
    } else {
      if (this.outLength === OUTPUT_BUFFER_SIZE) this.flushOutput();
      this.outBuffer[this.outLength++] = byte;
    }
    this.thrEmptyPending = (this.ier & IER_THRI) !== 0;
    this.updateIrq();
  }

  /** A byte arrives at the receiver (from loopback; host bytes come through fillFromBacklog). */
  private receive(byte: number): void {
    if (this.rxCount < this.rxCapacity()) {
      this.pushRx(byte);
    } else {
      this.lsrErrors |= LSR_OVERRUN;
      this.rxLastActivity = this.clock.now(); // a character did arrive
      // In FIFO mode the new byte is lost (LSR bit 1); in 16450 mode it overwrites RBR.
      if (!this.isFifoEnabled()) this.rxFifo[this.rxHead] = byte;
    }
    this.scheduleTimeout();
  }

  private pushRx(byte: number): void {
    this.rxFifo[(this.rxHead + this.rxCount) % FIFO_SIZE] = byte;
    this.rxCount++;
    this.rxLastActivity = this.clock.now();
  }

  private peekRbr(): number {
    return this.rxCount > 0 ? this.rxFifo[this.rxHead]! : this.lastRx;
  }

  private readRbr(): number {
    if (this.rxCount === 0) return this.lastRx;
    const byte = this.rxFifo[this.rxHead]!;
    this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
    this.rxCount--;
    this.lastRx = byte;
    // A CPU read clears the timeout indication and restarts its 4-character wait.
    this.timeoutPending = false;
    this.rxLastActivity = this.clock.now();
    this.fillFromBacklog();
    this.scheduleTimeout();
    this.updateIrq();
    return byte;
  }

  private clearRx(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.timeoutPending = false;
  }

  /** Moves host input into the receiver while it has room and the guest is ready (RTS, not loopback). */
  private fillFromBacklog(): void {
    if (this.backlogLength === 0 || this.isLoopback() || !(this.mcr & MCR_RTS)) return;
    const capacity = this.rxCapacity();
    while (this.rxCount < capacity && this.backlogLength > 0) {
      const chunk = this.backlog[0]!;
      this.pushRx(chunk[this.backlogOffset++]!);
      this.backlogLength--;
      if (this.backlogOffset === chunk.length) {
        this.backlog.shift();
        this.backlogOffset = 0;
      }
    }
    this.scheduleTimeout();
  }

  // ---------------------------------------------------------------------------------------------
  // Character timeout
  // ---------------------------------------------------------------------------------------------

  /**
   * One character time in ns: start bit + 5..8 data bits + parity + 1, 1.5 or 2 stop bits, at
   * 1.8432 MHz / (16 * divisor). A divisor of 0 is undefined in the datasheet; the 16-bit
   * baud counter then counts 65536.
   */
  characterTimeNs(): number {
    const lcr = this.lcr;
    const dataBits = 5 + (lcr & LCR_WORD_LENGTH_MASK);
    const stopBits = lcr & LCR_STOP_BITS ? (dataBits === 5 ? 1.5 : 2) : 1;
    const bits = 1 + dataBits + (lcr & LCR_PARITY_ENABLE ? 1 : 0) + stopBits;
    const divisor = this.divisor === 0 ? 0x10000 : this.divisor;
    return (bits * 16 * divisor * 1e9) / UART_INPUT_CLOCK_HZ;
  }

  private timeoutDeadline(): number {
    return this.rxLastActivity + 4 * this.characterTimeNs();
  }

  /** Arms the timer when a timeout can occur (FIFO mode, data waiting, none pending), else cancels it. */
  private scheduleTimeout(): void {
    if (this.isFifoEnabled() && this.rxCount > 0 && !this.timeoutPending) {
      const deadline = this.timeoutDeadline();
      if (this.timeoutTimer.deadline !== deadline) this.timeoutTimer.arm(deadline);
    } else if (this.timeoutTimer.deadline !== undefined) {
      this.timeoutTimer.cancel();
    }
  }

  private onTimeoutTimer(now: number): void {
    if (this.isFifoEnabled() && this.rxCount > 0 && !this.timeoutPending && now >= this.timeoutDeadline()) {
      this.timeoutPending = true;
      this.updateIrq();
    }
    this.scheduleTimeout();
  }

  // ---------------------------------------------------------------------------------------------
  // Interrupt line
  // ---------------------------------------------------------------------------------------------

  /** The line to the interrupt controller: pending interrupt, gated by OUT2 as on a PC. */
  private updateIrq(): void {
    const level = (this.iir() & IIR_NO_INT) === 0 && (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Host side
  // ---------------------------------------------------------------------------------------------

  /** Queues host input (keystrokes, piped stdin). Bytes are copied and never dropped. */
  enqueueInput(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.backlog.push(bytes.slice());
    this.backlogLength += bytes.length;
    this.fillFromBacklog();
    this.updateIrq();
  }

  /** Host bytes the guest has not read yet: still in the backlog or in the receiver. */
  hasPendingInput(): boolean {
    return this.backlogLength > 0 || this.rxCount > 0;
  }

  /** Number of host bytes waiting in the backlog (not yet in the receive FIFO). */
  inputBacklog(): number {
    return this.backlogLength;
  }

  /** Hands the bytes transmitted since the last flush to the output sink (no call if none). */
  flushOutput(): void {
    if (this.outLength === 0) return;
    const chunk = this.outBuffer.slice(0, this.outLength);
    this.outLength = 0;
    this.output(chunk);
  }

  /** Power-on state (see the header); keeps the host backlog and unflushed output. */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.divisor = RESET_DIVISOR;
    this.fcr = 0;
    this.lsrErrors = 0;
    this.msrDeltas = 0;
    this.thrEmptyPending = false;
    this.lastRx = 0;
    this.clearRx();
    this.rxLastActivity = this.clock.now();
    this.scheduleTimeout();
    this.updateIrq();
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots
  // ---------------------------------------------------------------------------------------------

  state(): Uart16550State {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rxFifo[(this.rxHead + i) % FIFO_SIZE]!);
    const backlog: number[] = [];
    let offset = this.backlogOffset;
    for (const chunk of this.backlog) {
      for (let i = offset; i < chunk.length; i++) backlog.push(chunk[i]!);
      offset = 0;
    }
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      divisor: this.divisor,
      fcr: this.fcr,
      lsrErrors: this.lsrErrors,
      msrDeltas: this.msrDeltas,
      thrEmptyPending: this.thrEmptyPending,
      timeoutPending: this.timeoutPending,
      rxLastActivity: this.rxLastActivity,
      rx,
      lastRx: this.lastRx,
      backlog,
      output: Array.from(this.outBuffer.subarray(0, this.outLength)),
    };
  }

  /**
   * A UART in the snapshot's state, wired to new capabilities. Out-of-range fields are masked
   * or clamped as the registers would hold them; the interrupt line is raised if one is pending
   * and the timeout timer re-armed.
   */
  static fromState(state: Uart16550State, options: Uart16550Options): Uart16550 {
    const uart = new Uart16550(options);
    const byte = (v: number): number => (Number(v) & 0xff) >>> 0;
    uart.ier = byte(state.ier) & IER_MASK;
    uart.lcr = byte(state.lcr);
    uart.mcr = byte(state.mcr) & MCR_MASK;
    uart.scr = byte(state.scr);
    uart.divisor = (Number(state.divisor) & 0xffff) >>> 0;
    uart.fcr = byte(state.fcr) & (FCR_ENABLE_FIFO | FCR_DMA_SELECT | FCR_TRIGGER_MASK);
    uart.lsrErrors = byte(state.lsrErrors) & LSR_OVERRUN;
    uart.msrDeltas = byte(state.msrDeltas) & MSR_DELTA_MASK;
    uart.thrEmptyPending = state.thrEmptyPending === true && (uart.ier & IER_THRI) !== 0;
    uart.lastRx = byte(state.lastRx);
    uart.rxLastActivity = Number.isFinite(state.rxLastActivity) ? state.rxLastActivity : options.clock.now();
    const rx = state.rx.slice(0, uart.rxCapacity());
    rx.forEach((v, i) => (uart.rxFifo[i] = byte(v)));
    uart.rxCount = rx.length;
    uart.timeoutPending = state.timeoutPending === true && uart.isFifoEnabled() && uart.rxCount > 0;
    if (state.backlog.length > 0) {
      uart.backlog = [Uint8Array.from(state.backlog, byte)];
      uart.backlogLength = state.backlog.length;
    }
    const out = state.output.slice(0, OUTPUT_BUFFER_SIZE);
    out.forEach((v, i) => (uart.outBuffer[i] = byte(v)));
    uart.outLength = out.length;
    uart.scheduleTimeout();
    uart.updateIrq();
    return uart;
  }
}
