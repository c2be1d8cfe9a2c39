/**
 * One PCI Express function with a type 0 (endpoint) configuration header: identification,
 * command/status, memory BARs, INTx, the capability list (PCI Express, vendor-specific, MSI-X)
 * and the decoding of its BARs. Follows PCI Local Bus Specification 3.0 section 6 (configuration
 * space: 6.2.2 command, 6.2.3 status, 6.2.5 base addresses, 6.7 capabilities list) and PCI
 * Express Base Specification 4.0 section 7.5.1 (type 0 header in PCIe).
 *
 * Devices (virtio-pci, the host bridge) create a `PciFunction`, add BARs and capabilities before
 * the machine attaches it to the ECAM (./ecam.ts), and then use `setIntx()` / `msix.notify()` to
 * interrupt. The guest reaches it through `readConfig`/`writeConfig` (via ECAM) and through
 * `barRead`/`barWrite` (via the MMIO window, ./mmio-window.ts).
 *
 * BAR decoding: a BAR is mapped at its programmed address when Memory Space Enable is set and
 * the address is not zero (QEMU's convention: address 0 means "unassigned"). Every change of a
 * BAR's mapping (guest moved it, sized it, or toggled decoding) is reported to the injected
 * `BarChangeListener`; the sizing protocol is the write masks (writing all ones leaves only the
 * address bits above the size set, so the read back is the size mask plus the type bits).
 *
 * INTx: the device sets its interrupt condition with `setIntx(level)`; Status.INTERRUPT shows it,
 * and the pin is driven while Command.INTX_DISABLE is clear and MSI-X is disabled (PCIe 4.0
 * section 6.1.4.3: a function with MSI-X enabled must not use INTx).
 *
 * Not supported: I/O BARs (the Command.IO bit is writable but decodes nothing), the expansion
 * ROM BAR and CardBus CIS (read as zero), BIST, the power management and MSI capabilities,
 * extended (>= 0x100) capabilities (0x100 reads as zero: an empty extended list), function
 * level reset, parity/SERR reporting (those command bits are read-only zero).
 */
import type { AccessSize, Device, IrqLine } from '../device.ts';
import { NO_IRQ, allOnes } from '../device.ts';
import { ConfigSpace } from './config-space.ts';
import { Msix, checkMsixOptions, msixPbaSize, type MsixOptions, type MsixState } from './msix.ts';
import { initPcieCapability, type PcieDeviceType } from './pcie-capability.ts';
import {
  PCI_BAR_COUNT,
  PCI_BASE_ADDRESS_0_OFFSET,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_CACHE_LINE_SIZE_OFFSET,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_NEXT_OFFSET,
  PCI_CAPABILITY_LIST_OFFSET,
  PCI_CLASS_PROG_OFFSET,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_OFFSET,
  PCI_CONFIG_SPACE_SIZE,
  PCI_DEVICE_ID_OFFSET,
  PCI_EXP_CAP_V2_SIZE,
  PCI_HEADER_END,
  PCI_HEADER_TYPE_MULTI_FUNCTION,
  PCI_HEADER_TYPE_NORMAL,
  PCI_HEADER_TYPE_OFFSET,
  PCI_INTERRUPT_LINE_OFFSET,
  PCI_INTERRUPT_PIN_INTD,
  PCI_INTERRUPT_PIN_OFFSET,
  PCI_LEGACY_CONFIG_SIZE,
  PCI_MSIX_CAP_SIZE,
  PCI_MSIX_FLAGS_OFFSET,
  PCI_REVISION_ID_OFFSET,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_OFFSET,
  PCI_STATUS_W1C_MASK,
  PCI_SUBSYSTEM_ID_OFFSET,
  PCI_SUBSYSTEM_VENDOR_ID_OFFSET,
  PCI_VENDOR_ID_OFFSET,
} from './regs.ts';

export interface PciFunctionOptions {
  /** Diagnostics name ("virtio-blk"). */
  name: string;
  vendorId: number;
  deviceId: number;
  /** 24-bit class code: base class << 16 | sub-class << 8 | programming interface. */
  classCode: number;
  revisionId?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Interrupt Pin register: 0 = no INTx, 1..4 = INTA#..INTD# (default 0). */
  interruptPin?: number;
  /** Add a PCI Express capability of this type (default 'rc-integrated-endpoint'), or 'none'. */
  pcie?: PcieDeviceType | 'none';
}

/** A memory BAR a device declares. */
export interface MemoryBarOptions {
  /** Size in bytes: a power of two, at least 16; at most 2 GiB for a 32-bit BAR. */
  size: number;
  /** A 64-bit BAR uses this slot and the next one (default false). */
  is64Bit?: boolean;
  prefetchable?: boolean;
  /** The registers behind the BAR, addressed by offset from the BAR start. */
  device: Device;
}

/** A BAR's layout, as the BAR allocator and the MMIO window see it. */
export interface BarInfo {
  readonly index: number;
  readonly size: number;
  readonly is64Bit: boolean;
  readonly prefetchable: boolean;
}

/**
 * Told when BAR `bar` starts decoding at `address` (guest physical), stops decoding
 * (`address` undefined), or moves. `size` is the BAR size.
 */
export type BarChangeListener = (bar: number, address: number | undefined, size: number) => void;

/**
 * Hooks on a range of config space, for capabilities with behaviour (virtio's PCI_CFG window).
 * `read` serves accesses that lie entirely inside the range (it may have side effects; `peek`
 * bypasses it). `write` runs after a guest write overlapping the range has been applied to the
 * stored bytes through the masks.
 */
export interface ConfigHook {
  read?(offset: number, size: AccessSize): number;
  write?(offset: number, size: AccessSize, value: number): void;
}

export interface PciFunctionState {
  config: Uint8Array;
  intxAsserted: boolean;
  msix?: MsixState;
}

interface Bar extends BarInfo {
  readonly device: Device;
  /** Address the BAR currently decodes at, or undefined. */
  mapped: number | undefined;
}

interface HookRange {
  readonly start: number;
  readonly end: number;
  readonly hook: ConfigHook;
}

/** Highest BAR address we hand to the machine: numbers are exact below 2^53. */
const MAX_BAR_ADDRESS = Number.MAX_SAFE_INTEGER;

export class PciFunction {
  readonly name: string;
  readonly config = new ConfigSpace();
  /** Offset of the PCI Express capability, if any. */
  readonly pcieCapability: number | undefined;
  /** The MSI-X state machine, once `addMsix` was called. */
  msix: Msix | undefined;
  private readonly bars: (Bar | undefined)[] = new Array<Bar | undefined>(PCI_BAR_COUNT).fill(undefined);
  private readonly hooks: HookRange[] = [];
  /** Offset of the last capability in the list (0 = none yet) and where the next one goes. */
  private lastCapability = 0;
  private nextCapability = PCI_HEADER_END;
  private barListener: BarChangeListener = () => {};
  private intxLine: IrqLine = NO_IRQ;
  /** The device's interrupt condition (setIntx). */
  private intxAsserted = false;
  /** The level last driven on `intxLine`. */
  private intxLevel = false;

  constructor(options: PciFunctionOptions) {
    const c = this.config;
    this.name = options.name;
    c.set16(PCI_VENDOR_ID_OFFSET, options.vendorId & 0xffff);
    c.set16(PCI_DEVICE_ID_OFFSET, options.deviceId & 0xffff);
    c.set8(PCI_REVISION_ID_OFFSET, (options.revisionId ?? 0) & 0xff);
    c.set8(PCI_CLASS_PROG_OFFSET, options.classCode & 0xff);
    c.set16(PCI_CLASS_PROG_OFFSET + 1, (options.classCode >>> 8) & 0xffff);
    c.set8(PCI_HEADER_TYPE_OFFSET, PCI_HEADER_TYPE_NORMAL);
    c.set16(PCI_SUBSYSTEM_VENDOR_ID_OFFSET, (options.subsystemVendorId ?? 0) & 0xffff);
    c.set16(PCI_SUBSYSTEM_ID_OFFSET, (options.subsystemId ?? 0) & 0xffff);
    const pin = options.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > PCI_INTERRUPT_PIN_INTD) throw new RangeError(`${this.name}: interrupt pin ${pin}`);
    c.set8(PCI_INTERRUPT_PIN_OFFSET, pin);

    // Guest-writable header bits (everything else in the header is read-only).
    c.setMasks(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    c.setMasks(PCI_STATUS_OFFSET, 2, 0, PCI_STATUS_W1C_MASK);
    c.setMasks(PCI_CACHE_LINE_SIZE_OFFSET, 1, 0xff); // no effect on PCIe, but read-write
    c.setMasks(PCI_INTERRUPT_LINE_OFFSET, 1, 0xff); // scratch for the OS: the IRQ it routed

    const pcie = options.pcie ?? 'rc-integrated-endpoint';
    if (pcie !== 'none') {
      this.pcieCapability = this.addCapability(PCI_CAP_ID_EXP, PCI_EXP_CAP_V2_SIZE);
      initPcieCapability(c, this.pcieCapability, pcie);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Building the function (device and machine side, before the guest runs)
  // -------------------------------------------------------------------------------------------

  /** Declares memory BAR `index` (a 64-bit BAR also takes `index + 1`). Address starts at 0. */
  addMemoryBar(index: number, options: MemoryBarOptions): void {
    const is64Bit = options.is64Bit ?? false;
    const { size } = options;
    const slots = is64Bit ? 2 : 1;
    if (!Number.isInteger(index) || index < 0 || index + slots > PCI_BAR_COUNT) throw new RangeError(`${this.name}: BAR ${index}`);
    if (this.slotUsed(index) || (is64Bit && this.slotUsed(index + 1))) throw new Error(`${this.name}: BAR ${index} already in use`);
    const maxSize = is64Bit ? 2 ** 52 : 2 ** 31;
    if (!Number.isSafeInteger(size) || size < 16 || size > maxSize || 2 ** Math.round(Math.log2(size)) !== size) {
      throw new RangeError(`${this.name}: BAR size ${size} is not a power of two in [16, ${maxSize}]`);
    }
    const prefetchable = options.prefetchable ?? false;
    const flags = (is64Bit ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
    const reg = PCI_BASE_ADDRESS_0_OFFSET + 4 * index;
    this.config.set32(reg, flags);
    // Writable address bits are those above the size: all-ones reads back as ~(size - 1).
    const lowMask = size >= 2 ** 32 ? 0 : (~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK) >>> 0;
    this.config.setMasks(reg, 4, lowMask);
    if (is64Bit) this.config.setMasks(reg + 4, 4, ~Math.floor((size - 1) / 2 ** 32) >>> 0);
    this.bars[index] = { index, size, is64Bit, prefetchable, device: options.device, mapped: undefined };
  }

  /** The declared BARs, by index. */
  barInfo(): BarInfo[] {
    const declared = this.bars.filter((b): b is Bar => b !== undefined);
    return declared.map(({ index, size, is64Bit, prefetchable }) => ({ index, size, is64Bit, prefetchable }));
  }

  /**
   * Appends a standard capability of `length` bytes (header included) to the list and returns
   * its offset. The id and next pointer are set; the caller fills the body with
   * `config.set8/16/32` and declares writable bits with `config.setMasks`.
   */
  addCapability(id: number, length: number, hook?: ConfigHook): number {
    const offset = this.nextCapability;
    if (!Number.isInteger(length) || length < 2 || offset + length > PCI_LEGACY_CONFIG_SIZE) {
      throw new RangeError(`${this.name}: no room for a ${length}-byte capability at 0x${offset.toString(16)}`);
    }
    this.config.set8(offset, id & 0xff);
    this.config.set8(offset + PCI_CAP_LIST_NEXT_OFFSET, 0);
    if (this.lastCapability === 0) {
      this.config.set8(PCI_CAPABILITY_LIST_OFFSET, offset);
      this.config.set16(PCI_STATUS_OFFSET, this.config.get16(PCI_STATUS_OFFSET) | PCI_STATUS_CAP_LIST);
    } else {
      this.config.set8(this.lastCapability + PCI_CAP_LIST_NEXT_OFFSET, offset);
    }
    this.lastCapability = offset;
    this.nextCapability = (offset + length + 3) & ~3; // capabilities are dword aligned
    if (hook) this.addConfigHook(offset, length, hook);
    return offset;
  }

  /**
   * Appends a vendor-specific capability (id 0x09): byte 2 is its length, and `body` the bytes
   * from offset 3 on (for virtio: cfg_type, bar, id, padding, offset, length, ...). Returns the
   * capability's offset.
   */
  addVendorCapability(body: ArrayLike<number>, hook?: ConfigHook): number {
    const length = 3 + body.length;
    const offset = this.addCapability(PCI_CAP_ID_VNDR, length, hook);
    this.config.set8(offset + 2, length);
    for (let i = 0; i < body.length; i++) this.config.set8(offset + 3 + i, (body[i] ?? 0) & 0xff);
    return offset;
  }

  /** Hooks reads and writes of config bytes [offset, offset + length). */
  addConfigHook(offset: number, length: number, hook: ConfigHook): void {
    this.hooks.push({ start: offset, end: offset + length, hook });
  }

  /**
   * Adds the MSI-X capability, with its table and PBA overlaid on memory BAR `options.bar`
   * (declared before). Returns the MSI-X state machine; the device calls `notify(vector)` on it.
   */
  addMsix(options: MsixOptions): Msix {
    if (this.msix) throw new Error(`${this.name}: MSI-X already added`);
    checkMsixOptions(options);
    const bar = this.bars[options.bar];
    if (!bar) throw new Error(`${this.name}: MSI-X in undeclared BAR ${options.bar}`);
    const tableEnd = options.tableOffset + 16 * options.vectors;
    const pbaEnd = options.pbaOffset + msixPbaSize(options.vectors);
    if (options.tableOffset < 0 || options.pbaOffset < 0 || tableEnd > bar.size || pbaEnd > bar.size) {
      throw new RangeError(`${this.name}: MSI-X table or PBA outside BAR ${options.bar}`);
    }
    if (options.tableOffset < pbaEnd && options.pbaOffset < tableEnd) throw new RangeError(`${this.name}: MSI-X table overlaps the PBA`);
    const cap = this.addCapability(PCI_CAP_ID_MSIX, PCI_MSIX_CAP_SIZE);
    const msix = new Msix(this.config, cap, options, () => this.busMasterEnabled);
    this.addConfigHook(cap + PCI_MSIX_FLAGS_OFFSET, 2, { write: () => msix.controlWritten() });
    this.msix = msix;
    return msix;
  }

  // -------------------------------------------------------------------------------------------
  // Machine wiring
  // -------------------------------------------------------------------------------------------

  /** Installs the listener told about BAR mapping changes, and reports the current mappings. */
  setBarListener(listener: BarChangeListener): void {
    this.barListener = listener;
    for (const bar of this.bars) if (bar?.mapped !== undefined) listener(bar.index, bar.mapped, bar.size);
  }

  /** Connects the INTx pin to its (shared) interrupt line; the ECAM does this on attach. */
  connectIntx(line: IrqLine): void {
    this.intxLine = line;
    this.intxLevel = false;
    this.updateIrq();
  }

  /** Sets or clears the multi-function bit of the header type (the ECAM does this). */
  setMultiFunction(on: boolean): void {
    const type = this.config.get8(PCI_HEADER_TYPE_OFFSET) & ~PCI_HEADER_TYPE_MULTI_FUNCTION;
    this.config.set8(PCI_HEADER_TYPE_OFFSET, on ? type | PCI_HEADER_TYPE_MULTI_FUNCTION : type);
  }

  /** Interrupt Pin register value (0 = none, 1..4 = INTA..INTD). */
  get interruptPin(): number {
    return this.config.get8(PCI_INTERRUPT_PIN_OFFSET);
  }

  // -------------------------------------------------------------------------------------------
  // Device side
  // -------------------------------------------------------------------------------------------

  get command(): number {
    return this.config.get16(PCI_COMMAND_OFFSET);
  }

  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND_MEMORY) !== 0;
  }

  /** Bus Master Enable: the device may do DMA and send MSI-X messages only while set. */
  get busMasterEnabled(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }

  /** The device's INTx condition (e.g. virtio ISR status non-zero). */
  setIntx(level: boolean): void {
    this.intxAsserted = level;
    this.updateIrq();
  }

  /** Sets write-1-to-clear error bits of the status register (e.g. REC_MASTER_ABORT on bad DMA). */
  signalStatus(bits: number): void {
    const status = this.config.get16(PCI_STATUS_OFFSET);
    this.config.set16(PCI_STATUS_OFFSET, status | (bits & PCI_STATUS_W1C_MASK));
  }

  /** The address BAR `index` currently decodes at (undefined if unmapped or undeclared). */
  barAddress(index: number): number | undefined {
    return this.bars[index]?.mapped;
  }

  // -------------------------------------------------------------------------------------------
  // Guest side
  // -------------------------------------------------------------------------------------------

  /** A config read (offset inside the 4 KiB space). Hooks may have side effects. */
  readConfig(offset: number, size: AccessSize): number {
    for (const h of this.hooks) {
      if (h.hook.read && offset >= h.start && offset + size <= h.end) return (h.hook.read(offset, size) & allOnes(size)) >>> 0;
    }
    return this.config.read(offset, size);
  }

  /** A config read without side effects. */
  peekConfig(offset: number, size: AccessSize): number {
    return this.config.read(offset, size);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    if (!this.config.write(offset, size, value)) return;
    for (const h of this.hooks) {
      if (h.hook.write && offset < h.end && h.start < offset + size) h.hook.write(offset, size, value);
    }
    this.updateBars();
    this.updateIrq();
  }

  /** A read at `offset` in BAR `index`: the MSI-X table or PBA if there, else the BAR's device. */
  barRead(index: number, offset: number, size: AccessSize): number {
    const bar = this.bars[index];
    if (!bar || offset < 0 || offset + size > bar.size) return allOnes(size);
    const msix = this.msix;
    if (msix && msix.bar === index) {
      const inTable = offset - msix.tableOffset;
      const inPba = offset - msix.pbaOffset;
      if (inTable >= 0 && inTable < msix.tableSize) return msix.readTable(inTable, size);
      if (inPba >= 0 && inPba < msix.pbaSize) return msix.readPba(inPba, size);
    }
    return bar.device.read(offset, size);
  }

  barWrite(index: number, offset: number, size: AccessSize, value: number): void {
    const bar = this.bars[index];
    if (!bar || offset < 0 || offset + size > bar.size) return;
    const msix = this.msix;
    if (msix && msix.bar === index) {
      const inTable = offset - msix.tableOffset;
      const inPba = offset - msix.pbaOffset;
      if (inTable >= 0 && inTable < msix.tableSize) return msix.writeTable(inTable, size, value);
      if (inPba >= 0 && inPba < msix.pbaSize) return; // the PBA is read-only
    }
    bar.device.write(offset, size, value);
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  state(): PciFunctionState {
    const s: PciFunctionState = { config: this.config.bytes.slice(), intxAsserted: this.intxAsserted };
    if (this.msix) s.msix = this.msix.state();
    return s;
  }

  /**
   * Loads a snapshot into a function built the same way (same BARs and capabilities), reports
   * the BAR mappings, drives INTx again and sends deliverable pending MSI-X messages.
   */
  restore(state: PciFunctionState): void {
    if (state.config.length !== PCI_CONFIG_SPACE_SIZE) throw new RangeError(`${this.name}: bad config snapshot`);
    if ((state.msix === undefined) !== (this.msix === undefined)) throw new Error(`${this.name}: MSI-X mismatch in snapshot`);
    this.config.bytes.set(state.config);
    this.intxAsserted = state.intxAsserted;
    this.updateBars();
    this.updateIrq(true);
    if (this.msix && state.msix) this.msix.restore(state.msix);
  }

  /** A function built from `options` (no BARs or added capabilities) loaded with `state`. */
  static fromState(options: PciFunctionOptions, state: PciFunctionState): PciFunction {
    const fn = new PciFunction(options);
    fn.restore(state);
    return fn;
  }

  // -------------------------------------------------------------------------------------------

  private slotUsed(slot: number): boolean {
    return this.bars[slot] !== undefined || (slot > 0 && this.bars[slot - 1]?.is64Bit === true);
  }

  /** The programmed address of a BAR (undefined if beyond 2^53). */
  private programmedAddress(bar: Bar): number | undefined {
    const reg = PCI_BASE_ADDRESS_0_OFFSET + 4 * bar.index;
    const low = (this.config.get32(reg) & PCI_BASE_ADDRESS_MEM_MASK) >>> 0;
    if (!bar.is64Bit) return low;
    const address = this.config.get32(reg + 4) * 2 ** 32 + low;
    return address + bar.size - 1 <= MAX_BAR_ADDRESS ? address : undefined;
  }

  /** Recomputes every BAR's mapping and reports the ones that changed. */
  private updateBars(): void {
    const decode = this.memoryEnabled;
    for (const bar of this.bars) {
      if (!bar) continue;
      const address = decode ? this.programmedAddress(bar) : undefined;
      const mapped = address === 0 ? undefined : address;
      if (mapped === bar.mapped) continue;
      bar.mapped = mapped;
      this.barListener(bar.index, mapped, bar.size);
    }
  }

  /** Derives Status.INTERRUPT and the INTx pin level from the device condition and Command. */
  private updateIrq(force = false): void {
    const status = this.config.get16(PCI_STATUS_OFFSET) & ~PCI_STATUS_INTERRUPT;
    this.config.set16(PCI_STATUS_OFFSET, this.intxAsserted ? status | PCI_STATUS_INTERRUPT : status);
    const level = this.intxAsserted && (this.command & PCI_COMMAND_INTX_DISABLE) === 0 && !(this.msix?.enabled ?? false);
    if (level === this.intxLevel && !force) return;
    this.intxLevel = level;
    this.intxLine.set(level);
  }
}
