/**
 * The Differentiated System Description Table of the virt machine: the AML namespace that
 * describes what the fixed tables cannot.
 *
 *   \_SB.Cnnn   one processor device (ACPI0007) per CPU, _UID = MADT processor UID
 *   \_SB.PCI0   the PCIe host bridge (PNP0A08, compatible PNP0A03): segment, bus range and
 *               MMIO window in _CRS, INTx routing in _PRT, _OSC
 *   \_SB.PCI0.RES0  motherboard resources (PNP0C02) reserving the ECAM window, without which
 *               Linux ignores the MCFG (MACHINE.md, "Facts")
 *   \_SB.COM1   the 16550A UART (PNP0501) with its ports and interrupt: on a HW-reduced
 *               platform this is the only way the OS learns the UART's IRQ
 *   \_S0, \_S5  sleep type values; writing SLP_EN | SLP_TYP(S5) to the FADT sleep control
 *               register powers the machine off
 *
 * Spec: ACPI 6.5 section 5.2.11.1 "Differentiated System Description Table (DSDT)"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#differentiated-system-description-table-dsdt);
 * _PRT 6.2.13, _OSC 6.2.11, _CRS 6.2.2, _Sx 7.4.2, processor devices 8.4; the _OSC PCI host
 * bridge capabilities and the ECAM reservation come from the PCI Firmware Specification 3.2,
 * sections 4.5 and 4.1.2.
 *
 * Not supported: an I/O port window on the host bridge (the machine has no PCI I/O space),
 * a 64-bit MMIO window, PCI hotplug, sleep states other than S0 and S5, processor power states
 * beyond C1, GED/power button events.
 */
import {
  CreateDWordField,
  Device,
  DWordMemory,
  Else,
  EisaId,
  If,
  Interrupt,
  IoPort,
  LEqual,
  LNotEqual,
  Memory32Fixed,
  Method,
  Name,
  Or,
  Package,
  ResourceTemplate,
  Return,
  Scope,
  WordBusNumber,
  ZERO,
  amlBytes,
  arg,
  int,
  intPackage,
  name,
  str,
  toUuid,
  type Aml,
} from './aml.ts';
import { TableWriter, type OemInfo } from './sdt.ts';

/** Revision 2: AML integers are 64 bits wide. */
export const DSDT_REVISION = 2;

/** The PCI Express host bridge _OSC interface (PCI Firmware Specification 3.2, 4.5.1). */
export const PCI_HOST_BRIDGE_OSC_UUID = '33db4d5b-1ff7-401c-9657-7441c03dd766';
/** _OSC status bits in the first capabilities DWORD (ACPI 6.5 Table 6.8). */
export const OSC_UNRECOGNIZED_UUID = 1 << 2;
export const OSC_UNRECOGNIZED_REVISION = 1 << 3;
/** The _OSC revision the PCI host bridge interface defines. */
export const PCI_OSC_REVISION = 1;

/** PCI interrupt pins INTA-INTD, as _PRT numbers them (0-3). */
export const PCI_INTX_PINS = 4;
export const PCI_SLOTS = 32;

export interface PciHostBridgeParams {
  readonly segment: number;
  readonly busStart: number;
  readonly busEnd: number;
  /** The 32-bit MMIO window handed to BARs: [mmioStart, mmioStart + mmioSize). */
  readonly mmioStart: number;
  readonly mmioSize: number;
  /** The ECAM window reserved through RES0 (must be below 4 GiB). */
  readonly ecamStart: number;
  readonly ecamSize: number;
  /** INTA of slot 0 goes to this GSI; the four pins use gsiBase .. gsiBase+3. */
  readonly intxGsiBase: number;
}

export interface SerialPortParams {
  /** Device name under \_SB ("COM1"). */
  readonly name: string;
  readonly uid: number;
  readonly port: number;
  readonly portCount: number;
  /** Edge-triggered, active-high ISA-style interrupt. */
  readonly gsi: number;
}

export interface DsdtParams {
  readonly cpus: number;
  readonly pci: PciHostBridgeParams;
  readonly serial: readonly SerialPortParams[];
  /** SLP_TYP value of \_S5 (what the power device decodes as "off"). */
  readonly s5SleepType: number;
}

/**
 * One processor device per CPU:
 *   Device (C000) { Name (_HID, "ACPI0007")  Name (_UID, Zero) }
 */
export function processorDevices(cpus: number): Aml[] {
  const devices: Aml[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const seg = `C${cpu.toString(16).toUpperCase().padStart(3, '0')}`;
    devices.push(new Device(seg, [new Name('_HID', str('ACPI0007')), new Name('_UID', int(cpu))]));
  }
  return devices;
}

/**
 * Direct GSI routing for every slot, with the usual swizzle so that single-function devices
 * (which all use INTA) spread over the four lines:
 *   Name (_PRT, Package (0x80) {
 *     Package (0x04) { 0xSSSSFFFF, pin, Zero, gsiBase + (slot + pin) % 4 }, ... })
 * A Source of Zero means SourceIndex is a GSI (6.2.13); the lines are level, active low.
 */
export function pciRoutingTable(gsiBase: number): Aml {
  const entries: Aml[] = [];
  for (let slot = 0; slot < PCI_SLOTS; slot++) {
    for (let pin = 0; pin < PCI_INTX_PINS; pin++) {
      const address = slot * 0x1_0000 + 0xffff; // _ADR form: device in the high word, any function
      entries.push(intPackage([address, pin, 0, gsiBase + ((slot + pin) % PCI_INTX_PINS)]));
    }
  }
  return new Name('_PRT', new Package(entries));
}

/**
 * Grants the OS every PCIe feature it asks to control, and flags what it cannot interpret:
 *   Method (_OSC, 4, Serialized) {
 *     CreateDWordField (Arg3, Zero, CDW1)
 *     If (LEqual (Arg0, ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766"))) {
 *       If (LNotEqual (Arg1, One)) { Or (CDW1, 0x08, CDW1) }   // Unrecognized Revision
 *       // the Control field (DWORD 3) comes back unchanged: all control granted
 *     } Else {
 *       Or (CDW1, 0x04, CDW1)                                 // Unrecognized UUID
 *     }
 *     Return (Arg3)
 *   }
 */
export function pciOscMethod(): Aml {
  const cdw1 = name('CDW1');
  return new Method('_OSC', 4, true, [
    CreateDWordField(arg(3), ZERO, 'CDW1'),
    new If(LEqual(arg(0), toUuid(PCI_HOST_BRIDGE_OSC_UUID)), [
      new If(LNotEqual(arg(1), int(PCI_OSC_REVISION)), [Or(cdw1, int(OSC_UNRECOGNIZED_REVISION), cdw1)]),
    ]),
    new Else([Or(cdw1, int(OSC_UNRECOGNIZED_UUID), cdw1)]),
    Return(arg(3)),
  ]);
}

/**
 * Device (PCI0) {
 *   Name (_HID, EisaId ("PNP0A08"))  Name (_CID, EisaId ("PNP0A03"))
 *   Name (_SEG, Zero)  Name (_BBN, Zero)  Name (_UID, Zero)
 *   Name (_CRS, ResourceTemplate () {
 *     WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
 *     DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
 *                  0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000) })
 *   Name (_PRT, ...)  Method (_OSC, 4, Serialized) { ... }
 *   Device (RES0) {
 *     Name (_HID, EisaId ("PNP0C02"))
 *     Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000, 0x10000000) }) }
 * }
 */
export function pciHostBridge(p: PciHostBridgeParams): Aml {
  const crs = new ResourceTemplate([
    new WordBusNumber({ min: p.busStart, max: p.busEnd }),
    new DWordMemory({ min: p.mmioStart, max: p.mmioStart + p.mmioSize - 1 }),
  ]);
  const res0 = new Device('RES0', [
    new Name('_HID', new EisaId('PNP0C02')),
    new Name('_CRS', new ResourceTemplate([new Memory32Fixed({ base: p.ecamStart, length: p.ecamSize })])),
  ]);
  return new Device('PCI0', [
    new Name('_HID', new EisaId('PNP0A08')),
    new Name('_CID', new EisaId('PNP0A03')),
    new Name('_SEG', int(p.segment)),
    new Name('_BBN', int(p.busStart)),
    new Name('_UID', int(p.segment)),
    new Name('_CRS', crs),
    pciRoutingTable(p.intxGsiBase),
    pciOscMethod(),
    res0,
  ]);
}

/**
 * Device (COM1) {
 *   Name (_HID, EisaId ("PNP0501"))  Name (_UID, Zero)
 *   Name (_CRS, ResourceTemplate () {
 *     IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
 *     Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 } })
 * }
 */
export function serialPort(p: SerialPortParams): Aml {
  return new Device(p.name, [
    new Name('_HID', new EisaId('PNP0501')),
    new Name('_UID', int(p.uid)),
    new Name(
      '_CRS',
      new ResourceTemplate([
        new IoPort({ min: p.port, max: p.port, alignment: 1, length: p.portCount }),
        new Interrupt({ gsis: [p.gsi], edge: true, activeLow: false, shared: false }),
      ]),
    ),
  ]);
}

/**
 * Name (_S0, Package (0x04) { Zero, Zero, Zero, Zero })
 * Name (_S5, Package (0x04) { s5, Zero, Zero, Zero })
 * Only SLP_TYPa (the first element) matters on a HW-reduced platform: the OS writes
 * SLP_EN | (SLP_TYPa << 2) to the sleep control register (ACPI 6.5 section 4.8.3.7).
 */
export function sleepStates(s5SleepType: number): Aml[] {
  if (!Number.isInteger(s5SleepType) || s5SleepType < 1 || s5SleepType > 7) throw new RangeError(`bad SLP_TYP ${s5SleepType}`);
  return [new Name('_S0', intPackage([0, 0, 0, 0])), new Name('_S5', intPackage([s5SleepType, 0, 0, 0]))];
}

/** The AML body of the DSDT (everything after the table header). */
export function dsdtBody(p: DsdtParams): Aml[] {
  return [
    new Scope('\\_SB', [...processorDevices(p.cpus), pciHostBridge(p.pci), ...p.serial.map(serialPort)]),
    ...sleepStates(p.s5SleepType),
  ];
}

export function buildDsdt(p: DsdtParams, oem?: OemInfo): Uint8Array {
  return new TableWriter('DSDT', DSDT_REVISION, oem).raw(amlBytes(...dsdtBody(p))).finish();
}
