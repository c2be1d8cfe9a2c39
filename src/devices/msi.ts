/**
 * Interrupt messages between the interrupt sources (IOAPIC, PCI MSI/MSI-X, IPIs) and the local
 * APIC, and the decoding of an MSI write into such a message.
 *
 * Spec: Intel SDM Vol. 3A, 11.11 "Message Signalled Interrupts" (10.11 in editions before 2023),
 * figures "Layout of the MSI Message Address Register" and "... Data Register". An MSI is a
 * 32-bit memory write of `data` to `address`: the address selects the destination, the data
 * the vector and delivery mode.
 *
 *   address  31      20 19        12 11    4  3    2    1  0
 *           +----------+------------+-------+----+----+----+
 *           |  0xFEE   |  dest ID   | rsvd  | RH | DM | xx |
 *           +----------+------------+-------+----+----+----+
 *   data     31    16  15  14  13 11 10    8 7          0
 *           +--------+----+----+-----+-------+-----------+
 *           |  rsvd  | TM | LV | rsvd|  DM   |  vector   |
 *           +--------+----+----+-----+-------+-----------+
 *
 * The same `InterruptMessage` carries IOAPIC redirections (ioapic.ts) and IPIs (lapic.ts), so
 * that the local APIC has a single entry point, `Lapic.deliver(msg)`.
 *
 * Not supported:
 * - The redirection hint (RH, bit 3) is ignored: with one CPU there is nothing to redirect
 *   among (lowest-priority delivery is fixed delivery to the matching APIC).
 * - Extended destination IDs in address bits 11:5 (a hypervisor convention, not advertised).
 * - Level-triggered "deassert" messages (TM = 1, LV = 0): they carry no interrupt and decode to
 *   undefined, as PCI MSI is edge-only in practice.
 * - Reserved delivery modes (011, 110 = start-up in MSI data) decode to undefined.
 */

/** Delivery modes: bits 10:8 of the ICR, the LVT entries, IOAPIC redirection entries and MSI data. */
export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST_PRIORITY = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
/** Start-up (SIPI): ICR only; reserved in IOAPIC entries and MSI data. */
export const DELIVERY_STARTUP = 6;
export const DELIVERY_EXTINT = 7;

export type DeliveryMode =
  | typeof DELIVERY_FIXED
  | typeof DELIVERY_LOWEST_PRIORITY
  | typeof DELIVERY_SMI
  | typeof DELIVERY_NMI
  | typeof DELIVERY_INIT
  | typeof DELIVERY_STARTUP
  | typeof DELIVERY_EXTINT;

/** An interrupt message on the system bus, addressed to one or more local APICs. */
export interface InterruptMessage {
  /** Interrupt vector 0-255 (ignored for NMI, SMI, INIT and ExtINT). */
  readonly vector: number;
  readonly deliveryMode: DeliveryMode;
  /** Destination mode: false = physical (APIC ID), true = logical (matched against LDR/DFR). */
  readonly logical: boolean;
  /** 8-bit destination: an APIC ID (0xFF = broadcast) or a logical mask. */
  readonly destination: number;
  /** Level-triggered: the local APIC sets the TMR bit and broadcasts the EOI of this vector. */
  readonly levelTriggered: boolean;
}

/** MSI address: bits 31:20 are always 0xFEE (the local APIC page). */
export const MSI_ADDRESS_BASE = 0xfee0_0000;
export const MSI_ADDRESS_BASE_MASK = 0xfff0_0000;
export const MSI_ADDRESS_DEST_ID_SHIFT = 12;
export const MSI_ADDRESS_DEST_ID_MASK = 0xff;
/** Redirection hint (lowest-priority redirection among the destinations). */
export const MSI_ADDRESS_RH_BIT = 1 << 3;
/** Destination mode: 1 = logical. */
export const MSI_ADDRESS_DM_LOGICAL_BIT = 1 << 2;

export const MSI_DATA_VECTOR_MASK = 0xff;
export const MSI_DATA_DELIVERY_MODE_SHIFT = 8;
export const MSI_DATA_DELIVERY_MODE_MASK = 0x7;
/** Level for level-triggered messages: 1 = assert, 0 = deassert. */
export const MSI_DATA_LEVEL_ASSERT_BIT = 1 << 14;
/** Trigger mode: 1 = level. */
export const MSI_DATA_TRIGGER_LEVEL_BIT = 1 << 15;

/** Whether `mode` (3 bits) is a delivery mode a message may carry; 011 is reserved everywhere. */
export function isDeliveryMode(mode: number): mode is DeliveryMode {
  return mode >= 0 && mode <= 7 && mode !== 3;
}

/**
 * Decodes an MSI/MSI-X write of `data` (32 bits; MSI uses the low 16) to `address` (a full
 * 64-bit address as a number: callers holding two dwords pass `hi * 2 ** 32 + lo`).
 * Returns undefined when the write is not an interrupt: an address outside 0xFEExxxxx, a
 * reserved delivery mode, or a level "deassert" message.
 */
export function decodeMsi(address: number, data: number): InterruptMessage | undefined {
  if (!Number.isInteger(address) || address < 0 || address >= 2 ** 32) return undefined;
  if ((address & MSI_ADDRESS_BASE_MASK) >>> 0 !== MSI_ADDRESS_BASE) return undefined;
  const mode = (data >>> MSI_DATA_DELIVERY_MODE_SHIFT) & MSI_DATA_DELIVERY_MODE_MASK;
  // Start-up (110) is reserved in MSI data: only the ICR may send a SIPI.
  if (!isDeliveryMode(mode) || mode === DELIVERY_STARTUP) return undefined;
  const levelTriggered = (data & MSI_DATA_TRIGGER_LEVEL_BIT) !== 0;
  if (levelTriggered && (data & MSI_DATA_LEVEL_ASSERT_BIT) === 0) return undefined;
  return {
    vector: data & MSI_DATA_VECTOR_MASK,
    deliveryMode: mode,
    logical: (address & MSI_ADDRESS_DM_LOGICAL_BIT) !== 0,
    destination: (address >>> MSI_ADDRESS_DEST_ID_SHIFT) & MSI_ADDRESS_DEST_ID_MASK,
    levelTriggered,
  };
}

/** Encodes a message as an MSI address/data pair (tests, and devices that build their own). */
export function encodeMsi(msg: InterruptMessage): { address: number; data: number } {
  const address =
    (MSI_ADDRESS_BASE | ((msg.destination & MSI_ADDRESS_DEST_ID_MASK) << MSI_ADDRESS_DEST_ID_SHIFT) |
      (msg.logical ? MSI_ADDRESS_DM_LOGICAL_BIT : 0)) >>> 0;
  const data =
    (msg.vector & MSI_DATA_VECTOR_MASK) | (msg.deliveryMode << MSI_DATA_DELIVERY_MODE_SHIFT) |
    (msg.levelTriggered ? MSI_DATA_TRIGGER_LEVEL_BIT | MSI_DATA_LEVEL_ASSERT_BIT : 0);
  return { address, data };
}
