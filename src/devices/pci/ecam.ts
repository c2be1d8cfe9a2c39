/**
 * PCI Express Enhanced Configuration Access Mechanism (ECAM): the memory-mapped configuration
 * space of every function on buses 0-255 (PCI Express Base Specification 4.0 section 7.2.2,
 * "PCI Express Enhanced Configuration Access Mechanism"; PCI Firmware Specification 3.2 section
 * 4.1.2, the MCFG table). The machine maps it at PCIE_ECAM_START (layout.ts), 256 MiB.
 *
 * Offset decoding (table 7-1):
 *   27      20 19     15 14  12 11          0
 *  +----------+---------+------+-------------+
 *  |   bus    | device  | fn   |  register   |
 *  +----------+---------+------+-------------+
 *
 * - Accesses of 1, 2 or 4 bytes must be naturally aligned; a misaligned read returns all ones
 *   and a misaligned write is ignored (the specification leaves the result undefined; this is
 *   the usual "unsupported request" outcome).
 * - An absent function reads as all ones (vendor id 0xFFFF, which is how enumeration finds
 *   empty slots) and ignores writes.
 * - The ECAM also wires INTx: a function attached with an interrupt pin gets the GSI of the
 *   DSDT _PRT swizzle, GSI = PCI_INTX_GSI_BASE + ((device + pin - 1) mod 4), pin 1 = INTA#
 *   (`intxGsi`). Functions sharing a GSI are wired-OR (the line is high while any asserts).
 *   The Interrupt Line register is preset to that GSI, as firmware would.
 * - A device with a function other than 0 gets the multi-function bit in every function's
 *   header type. Linux scans functions 1-7 only if function 0 exists.
 *
 * Not supported: PCI-to-PCI bridges (functions on buses other than 0 can be attached and are
 * decoded, but Linux only finds them behind a bridge), ARI, the 0xCF8/0xCFC port mechanism.
 */
import { PCI_INTX_GSI_BASE } from '../../machine/layout.ts';
import { allOnes, type AccessSize, type Device, type IrqLine } from '../device.ts';
import type { PciFunction } from './function.ts';
import { PCI_INTERRUPT_LINE_OFFSET, PCI_INTERRUPT_PIN_INTA, PCI_INTERRUPT_PIN_INTD } from './regs.ts';

export const PCI_MAX_BUSES = 256;
export const PCI_MAX_DEVICES = 32;
export const PCI_MAX_FUNCTIONS = 8;
const ECAM_BUS_SHIFT = 20;
const ECAM_DEVICE_SHIFT = 15;
const ECAM_FUNCTION_SHIFT = 12;
const ECAM_REGISTER_MASK = 0xfff;

/** The GSI INTx pin `pin` (1 = INTA..4 = INTD) of device `slot` is routed to (DSDT _PRT). */
export function intxGsi(slot: number, pin: number): number {
  return PCI_INTX_GSI_BASE + ((slot + pin - 1) % 4);
}

/** The ECAM offset of register `reg` of bus:device.function. */
export function ecamOffset(bus: number, device: number, fn: number, reg = 0): number {
  return bus * 2 ** ECAM_BUS_SHIFT + (device << ECAM_DEVICE_SHIFT) + (fn << ECAM_FUNCTION_SHIFT) + reg;
}

export interface PciEcamOptions {
  /** The interrupt controller input of a GSI; INTx is not wired without it. */
  gsi?: (gsi: number) => IrqLine;
}

/** A GSI shared by several functions: high while any of them asserts. */
class SharedIntx {
  private readonly asserting = new Set<PciFunction>();
  constructor(private readonly line: IrqLine) {}

  /** The line a single function drives. */
  input(fn: PciFunction): IrqLine {
    return {
      set: (level: boolean) => {
        const before = this.asserting.size > 0;
        if (level) this.asserting.add(fn);
        else this.asserting.delete(fn);
        const after = this.asserting.size > 0;
        if (after !== before) this.line.set(after);
      },
    };
  }
}

export class PciEcam implements Device {
  readonly name = 'pcie-ecam';
  /** Functions by bus << 8 | device << 3 | function. */
  private readonly functions = new Map<number, PciFunction>();
  private readonly intx = new Map<number, SharedIntx>();

  constructor(private readonly options: PciEcamOptions = {}) {}

  /** Plugs `pciFunction` in at bus:device.fn. Throws on a bad or occupied address. */
  attach(bus: number, device: number, fn: number, pciFunction: PciFunction): void {
    const okBus = Number.isInteger(bus) && bus >= 0 && bus < PCI_MAX_BUSES;
    const okDevice = Number.isInteger(device) && device >= 0 && device < PCI_MAX_DEVICES;
    const okFn = Number.isInteger(fn) && fn >= 0 && fn < PCI_MAX_FUNCTIONS;
    if (!okBus || !okDevice || !okFn) throw new RangeError(`PCI address ${bus}:${device}.${fn} out of range`);
    const key = (bus << 8) | (device << 3) | fn;
    if (this.functions.has(key)) throw new Error(`PCI ${bus}:${device}.${fn} is already taken`);
    this.functions.set(key, pciFunction);

    // Multi-function: set the bit in every function of the device once it has more than fn 0.
    const siblings = this.slotFunctions(bus, device);
    const multi = siblings.some(([f]) => f > 0);
    for (const [, sibling] of siblings) sibling.setMultiFunction(multi);

    const pin = pciFunction.interruptPin;
    const gsiLine = this.options.gsi;
    if (gsiLine && pin >= PCI_INTERRUPT_PIN_INTA && pin <= PCI_INTERRUPT_PIN_INTD) {
      const gsi = intxGsi(device, pin);
      let shared = this.intx.get(gsi);
      if (!shared) this.intx.set(gsi, (shared = new SharedIntx(gsiLine(gsi))));
      pciFunction.config.set8(PCI_INTERRUPT_LINE_OFFSET, gsi);
      pciFunction.connectIntx(shared.input(pciFunction));
    }
  }

  /** The function at bus:device.fn, if any. */
  lookup(bus: number, device: number, fn: number): PciFunction | undefined {
    return this.functions.get((bus << 8) | (device << 3) | fn);
  }

  read(offset: number, size: AccessSize): number {
    const target = this.decode(offset, size);
    return target ? target.fn.readConfig(target.reg, size) : allOnes(size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.decode(offset, size)?.fn.writeConfig(offset & ECAM_REGISTER_MASK, size, value);
  }

  peek(offset: number, size: AccessSize): number {
    const target = this.decode(offset, size);
    return target ? target.fn.peekConfig(target.reg, size) : allOnes(size);
  }

  /** The function and register an access goes to; undefined if absent or misaligned. */
  private decode(offset: number, size: AccessSize): { fn: PciFunction; reg: number } | undefined {
    if (!Number.isInteger(offset) || offset < 0 || offset % size !== 0) return undefined;
    const bus = Math.floor(offset / 2 ** ECAM_BUS_SHIFT) & 0xff;
    const rest = offset % 2 ** ECAM_BUS_SHIFT;
    const key = (bus << 8) | (rest >>> ECAM_FUNCTION_SHIFT);
    const fn = this.functions.get(key);
    return fn && { fn, reg: offset & ECAM_REGISTER_MASK };
  }

  private slotFunctions(bus: number, device: number): [number, PciFunction][] {
    const found: [number, PciFunction][] = [];
    for (let f = 0; f < PCI_MAX_FUNCTIONS; f++) {
      const fn = this.lookup(bus, device, f);
      if (fn) found.push([f, fn]);
    }
    return found;
  }
}
