/**
 * MSI-X for one PCI function: the capability's Message Control register, the vector table and
 * the Pending Bit Array, following PCI Express Base Specification 4.0 section 7.7.2 ("MSI-X
 * Capability and Table Structure") and section 6.1.4 (MSI-X semantics).
 *
 * The function model (./function.ts, `PciFunction.addMsix`) places the capability in config
 * space and overlays the table and the PBA on the BAR the capability names; this class holds
 * their contents and decides when a message goes out:
 * - `notify(vector)`: if MSI-X is enabled and neither the function (MASKALL) nor the vector is
 *   masked, the message (address, data) of the entry is written now through the injected
 *   `msi(address, data)` capability; if masked, the vector's pending bit is set instead and the
 *   message goes out as soon as the mask is lifted (the pending bit is then cleared).
 * - The message uses the entry's address and data at the time it is sent, not at notify time.
 * - A function whose Bus Master Enable is clear may not issue memory writes, so a message due at
 *   that moment is dropped (what QEMU does; the guest enables bus mastering before MSI-X).
 *
 * `msi` receives the 64-bit message address as a number (exact below 2^53) and the 32-bit data;
 * the machine routes it (0xFEEx_xxxx to the LAPIC, anything else as a DMA write or dropped).
 *
 * Table layout (16 bytes per entry):
 *   +0  Message Address (bits 1:0 read as zero)   +4  Message Upper Address
 *   +8  Message Data                              +12 Vector Control (bit 0: Mask Bit)
 * Entries reset to masked with zero address and data. The PBA is read-only (writes ignored).
 *
 * Not supported: Steering Tags in Vector Control, a device clearing a pending bit on its own
 * when the interrupt condition goes away (pending bits clear only when the message is sent),
 * the MSI (non-X) capability. Table and PBA accesses must be naturally aligned 1/2/4-byte
 * accesses (the CPU splits 8-byte accesses); misaligned reads return all ones and misaligned
 * writes are ignored.
 */
import { allOnes } from '../device.ts';
import type { ConfigSpace } from './config-space.ts';
import {
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_LOWER_ADDR_OFFSET,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR_OFFSET,
  PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_FLAGS_OFFSET,
  PCI_MSIX_MAX_VECTORS,
  PCI_MSIX_PBA_OFFSET,
  PCI_MSIX_TABLE_OFFSET,
} from './regs.ts';

/** What a device asks for when it adds MSI-X to its function. */
export interface MsixOptions {
  /** Number of table entries, 1..2048. */
  vectors: number;
  /** BAR index holding both the table and the PBA. */
  bar: number;
  /** Byte offset of the table in the BAR (multiple of 8). */
  tableOffset: number;
  /** Byte offset of the PBA in the BAR (multiple of 8). */
  pbaOffset: number;
  /** Sends one message: a 4-byte memory write of `data` to `address`. */
  msi(address: number, data: number): void;
}

/** Snapshot of the table and the pending bits (Message Control lives in config space). */
export interface MsixState {
  table: Uint8Array;
  pba: Uint8Array;
}

/** Bytes of the PBA for `vectors` entries: one bit each, in whole qwords. */
export function msixPbaSize(vectors: number): number {
  return Math.ceil(vectors / 64) * 8;
}

/** Throws if the vector count or the table/PBA alignment is invalid. */
export function checkMsixOptions(options: MsixOptions): void {
  const { vectors, tableOffset, pbaOffset } = options;
  if (!Number.isInteger(vectors) || vectors < 1 || vectors > PCI_MSIX_MAX_VECTORS) {
    throw new RangeError(`MSI-X: ${vectors} vectors (1..${PCI_MSIX_MAX_VECTORS})`);
  }
  if (!Number.isInteger(tableOffset) || !Number.isInteger(pbaOffset) || tableOffset % 8 !== 0 || pbaOffset % 8 !== 0) {
    throw new RangeError('MSI-X: table and PBA offsets must be qword aligned');
  }
}

export class Msix {
  readonly vectors: number;
  readonly bar: number;
  readonly tableOffset: number;
  readonly tableSize: number;
  readonly pbaOffset: number;
  readonly pbaSize: number;
  private readonly table: Uint8Array;
  private readonly pba: Uint8Array;
  private readonly msi: (address: number, data: number) => void;

  /**
   * Fills the capability at `cap` (id and next pointer already set by the caller) and its masks.
   * `busMaster` tells whether the function's Bus Master Enable is set.
   */
  constructor(
    private readonly config: ConfigSpace,
    readonly cap: number,
    options: MsixOptions,
    private readonly busMaster: () => boolean,
  ) {
    checkMsixOptions(options);
    const { vectors, bar, tableOffset, pbaOffset } = options;
    this.vectors = vectors;
    this.bar = bar;
    this.tableOffset = tableOffset;
    this.tableSize = vectors * PCI_MSIX_ENTRY_SIZE;
    this.pbaOffset = pbaOffset;
    this.pbaSize = msixPbaSize(vectors);
    this.table = new Uint8Array(this.tableSize);
    this.pba = new Uint8Array(this.pbaSize);
    this.msi = options.msi;
    for (let v = 0; v < vectors; v++) {
      this.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    }
    // Message Control: table size - 1 (read-only), MASKALL and ENABLE read-write.
    config.set16(cap + PCI_MSIX_FLAGS_OFFSET, vectors - 1);
    config.setMasks(cap + PCI_MSIX_FLAGS_OFFSET, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    config.set32(cap + PCI_MSIX_TABLE_OFFSET, tableOffset | bar);
    config.set32(cap + PCI_MSIX_PBA_OFFSET, pbaOffset | bar);
  }

  /** MSI-X Enable in Message Control. */
  get enabled(): boolean {
    return (this.config.get16(this.cap + PCI_MSIX_FLAGS_OFFSET) & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  /** Function Mask in Message Control. */
  get functionMasked(): boolean {
    return (this.config.get16(this.cap + PCI_MSIX_FLAGS_OFFSET) & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  /** The Mask Bit of one entry's Vector Control. */
  vectorMasked(vector: number): boolean {
    const ctrl = this.table[vector * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET] ?? 0;
    return (ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  isPending(vector: number): boolean {
    return ((this.pba[vector >>> 3] ?? 0) & (1 << (vector & 7))) !== 0;
  }

  /**
   * The device signals `vector`. Returns true if MSI-X took the event (message sent, dropped for
   * lack of bus mastering, or left pending) and false if MSI-X is disabled, in which case the
   * device uses INTx instead. Vectors outside the table are ignored (true if enabled).
   */
  notify(vector: number): boolean {
    if (!this.enabled) return false;
    if (!Number.isInteger(vector) || vector < 0 || vector >= this.vectors) return true;
    if (this.functionMasked || this.vectorMasked(vector)) {
      this.setPending(vector, true);
    } else {
      this.send(vector);
    }
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Guest accesses, offsets relative to the table or the PBA start
  // -------------------------------------------------------------------------------------------

  readTable(offset: number, size: 1 | 2 | 4): number {
    if (!aligned(offset, size, this.tableSize)) return allOnes(size);
    return readLe(this.table, offset, size);
  }

  writeTable(offset: number, size: 1 | 2 | 4, value: number): void {
    if (!aligned(offset, size, this.tableSize)) return;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      this.table[at] = (value >>> (8 * i)) & tableWriteMask(at % PCI_MSIX_ENTRY_SIZE);
    }
    // A write that may have cleared a Mask Bit: deliver the entry if it is pending.
    const vector = Math.floor(offset / PCI_MSIX_ENTRY_SIZE);
    if (offset % PCI_MSIX_ENTRY_SIZE >= PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET) this.deliverIfReady(vector);
  }

  readPba(offset: number, size: 1 | 2 | 4): number {
    if (!aligned(offset, size, this.pbaSize)) return allOnes(size);
    return readLe(this.pba, offset, size);
  }

  /** Called by the function after a guest write to Message Control (enable or mask changed). */
  controlWritten(): void {
    for (let v = 0; v < this.vectors; v++) this.deliverIfReady(v);
  }

  state(): MsixState {
    return { table: this.table.slice(), pba: this.pba.slice() };
  }

  /** Loads a snapshot (Message Control comes with config space) and sends what is deliverable. */
  restore(state: MsixState): void {
    if (state.table.length !== this.tableSize || state.pba.length !== this.pbaSize) {
      throw new RangeError('MSI-X state does not match the table size');
    }
    this.table.set(state.table);
    this.pba.set(state.pba);
    this.controlWritten();
  }

  private deliverIfReady(vector: number): void {
    if (!this.isPending(vector) || !this.enabled || this.functionMasked || this.vectorMasked(vector)) return;
    this.send(vector);
  }

  private send(vector: number): void {
    this.setPending(vector, false);
    if (!this.busMaster()) return;
    const entry = vector * PCI_MSIX_ENTRY_SIZE;
    const lo = readLe(this.table, entry + PCI_MSIX_ENTRY_LOWER_ADDR_OFFSET, 4);
    const hi = readLe(this.table, entry + PCI_MSIX_ENTRY_UPPER_ADDR_OFFSET, 4);
    const data = readLe(this.table, entry + 8 /* Message Data */, 4);
    this.msi(hi * 0x1_0000_0000 + lo, data);
  }

  private setPending(vector: number, on: boolean): void {
    const byte = vector >>> 3;
    const bit = 1 << (vector & 7);
    const old = this.pba[byte] ?? 0;
    this.pba[byte] = on ? old | bit : old & ~bit;
  }
}

/** Writable bits of byte `i` (0..15) of a table entry. */
function tableWriteMask(i: number): number {
  if (i === PCI_MSIX_ENTRY_LOWER_ADDR_OFFSET) return 0xfc; // address bits 1:0 read as zero
  if (i === PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET) return PCI_MSIX_ENTRY_CTRL_MASKBIT;
  if (i > PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET) return 0; // reserved bits of Vector Control
  return 0xff;
}

/** A naturally aligned access of `size` bytes inside [0, limit). */
function aligned(offset: number, size: number, limit: number): boolean {
  return Number.isInteger(offset) && offset >= 0 && offset % size === 0 && offset + size <= limit;
}

function readLe(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + (bytes[offset + i] ?? 0);
  return value;
}
