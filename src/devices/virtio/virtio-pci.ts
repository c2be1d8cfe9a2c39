/**
 * The virtio 1.x PCI transport, modern interface only ("Virtual I/O Device (VIRTIO) Version
 * 1.2", section 4.1 "Virtio Over PCI Bus"), over a PciFunction (../pci/function.ts):
 * - ids (4.1.2): vendor 0x1AF4, device 0x1040 + device type, revision 1, subsystem vendor
 *   0x1AF4 and subsystem id = device type (as QEMU), INTA#;
 * - vendor capabilities (4.1.4): common, notify, ISR, device config, and the PCI config access
 *   window, all in one 16 KiB memory BAR (BAR 0) laid out as below; MSI-X table and PBA in a
 *   4 KiB BAR 1;
 * - feature negotiation (2.2, 3.1.1): VERSION_1, RING_EVENT_IDX and INDIRECT_DESC plus the
 *   device's own; FEATURES_OK sticks only if the driver accepted a subset containing VERSION_1;
 * - device status and reset (2.1, 4.1.4.3.2): writing 0 resets the device and its queues;
 *   a malformed ring sets DEVICE_NEEDS_RESET and raises a configuration change interrupt;
 * - config generation (4.1.4.3): bumped by `configChanged()`;
 * - interrupts (4.1.4.5, 4.1.5.1.2): with MSI-X enabled, queue and config vectors through the
 *   function's MSI-X table (VIRTIO_MSI_NO_VECTOR: none; an out-of-range vector reads back as
 *   NO_VECTOR, which tells Linux the mapping failed); otherwise the ISR bits and INTx, which
 *   reading the ISR clears.
 *
 * BAR 0 layout:
 *   0x0000  common configuration (virtio_pci_common_cfg, 0x38 bytes)
 *   0x1000  ISR status (1 byte, read to clear)
 *   0x2000  device-specific configuration
 *   0x3000  notifications: queue q at 0x3000 + 4 * q (notify_off_multiplier 4)
 *
 * Requests are handled synchronously when the driver notifies (or when DRIVER_OK is set with
 * buffers already available): the device model pops chains, completes them, and the transport
 * sends one used buffer notification per queue and batch if the driver wants it.
 *
 * Not supported: the legacy and transitional interfaces (I/O BAR, device ids 0x1000-0x103F),
 * VIRTIO_F_NOTIFICATION_DATA, VIRTIO_F_RING_RESET (queue_reset), queue_notify_data, shared
 * memory capabilities, VIRTIO_F_ACCESS_PLATFORM (no IOMMU), SR-IOV, the MSI capability.
 */
import type { AccessSize, Device, GuestMemory } from '../device.ts';
import { PciFunction, type PciFunctionState } from '../pci/function.ts';
import { PCI_INTERRUPT_PIN_INTA } from '../pci/regs.ts';
import { Virtqueue, VIRTQ_MAX_SIZE, type VirtqueueState } from './virtqueue.ts';

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
/** Modern devices have revision 1 or more (4.1.2.1). */
export const VIRTIO_PCI_REVISION = 1;

/** virtio_pci_cap.cfg_type (4.1.4). */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;

/** Device status bits (2.1). */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
export const VIRTIO_STATUS_FAILED = 128;

/** Reserved feature bits (6), as bit numbers. */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_RING_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** ISR status bits (4.1.4.5). */
export const VIRTIO_ISR_QUEUE = 1;
export const VIRTIO_ISR_CONFIG = 2;
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** Common configuration register offsets (virtio_pci_common_cfg, 4.1.4.3). */
export const COMMON_DFSELECT_OFFSET = 0x00;
export const COMMON_DF_OFFSET = 0x04;
export const COMMON_GFSELECT_OFFSET = 0x08;
export const COMMON_GF_OFFSET = 0x0c;
export const COMMON_MSIX_OFFSET = 0x10;
export const COMMON_NUMQ_OFFSET = 0x12;
export const COMMON_STATUS_OFFSET = 0x14;
export const COMMON_CFGGENERATION_OFFSET = 0x15;
export const COMMON_Q_SELECT_OFFSET = 0x16;
export const COMMON_Q_SIZE_OFFSET = 0x18;
export const COMMON_Q_MSIX_OFFSET = 0x1a;
export const COMMON_Q_ENABLE_OFFSET = 0x1c;
export const COMMON_Q_NOFF_OFFSET = 0x1e;
export const COMMON_Q_DESCLO_OFFSET = 0x20;
export const COMMON_Q_DESCHI_OFFSET = 0x24;
export const COMMON_Q_AVAILLO_OFFSET = 0x28;
export const COMMON_Q_AVAILHI_OFFSET = 0x2c;
export const COMMON_Q_USEDLO_OFFSET = 0x30;
export const COMMON_Q_USEDHI_OFFSET = 0x34;
export const COMMON_CFG_SIZE = 0x38;

/** BAR 0 regions. */
export const VIRTIO_BAR = 0;
export const VIRTIO_BAR_SIZE = 0x4000;
export const COMMON_CFG_START = 0x0000;
export const ISR_CFG_START = 0x1000;
export const DEVICE_CFG_START = 0x2000;
export const NOTIFY_CFG_START = 0x3000;
const REGION_SIZE = 0x1000;
export const NOTIFY_OFF_MULTIPLIER = 4;
/** BAR 1: the MSI-X table at 0, the PBA at 0x800. */
export const MSIX_BAR = 1;
const MSIX_BAR_SIZE = 0x1000;
const MSIX_TABLE_OFFSET = 0x000;
const MSIX_PBA_OFFSET = 0x800;

/** What a virtio device type (blk, net, ...) gives the transport. */
export interface VirtioDeviceModel {
  readonly name: string;
  /** Virtio device type (5): 1 net, 2 block, ... */
  readonly deviceType: number;
  /** PCI class code for the function (e.g. 0x018000, mass storage "other"). */
  readonly classCode: number;
  /** Maximum size of each queue (powers of two). */
  readonly queueSizes: readonly number[];
  /** Device-specific feature bits (bit numbers below 64). */
  readonly features: readonly number[];
  /** Bytes of device-specific configuration. */
  readonly configSize: number;
  /** A read of the device configuration (offset + size within configSize). */
  readConfig(offset: number, size: AccessSize): number;
  /** A write of the device configuration. */
  writeConfig?(offset: number, size: AccessSize, value: number): void;
  /** Handles every available chain of `queue` (pop, complete, push). */
  processQueue(index: number, queue: Virtqueue): void;
  /** The transport was reset: drop in-flight state. */
  reset?(): void;
}

export interface VirtioPciOptions {
  memory: GuestMemory;
  /** Sends one MSI-X message (the machine decodes it and hands it to the LAPIC). */
  msi(address: number, data: number): void;
}

export interface VirtioPciState {
  function: PciFunctionState;
  status: number;
  isr: number;
  generation: number;
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  driverFeatures: [number, number];
  configVector: number;
  queueSelect: number;
  queues: VirtqueueState[];
}

export class VirtioPci {
  readonly function: PciFunction;
  readonly queues: Virtqueue[];
  /** Offered features as two 32-bit words (bits 0-31, 32-63). */
  readonly deviceFeatures: [number, number] = [0, 0];
  private driverFeatures: [number, number] = [0, 0];
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private status = 0;
  private isr = 0;
  private generation = 0;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private queueSelect = 0;

  constructor(
    readonly model: VirtioDeviceModel,
    private readonly options: VirtioPciOptions,
  ) {
    if (model.configSize > REGION_SIZE) throw new RangeError(`${model.name}: config space too large`);
    for (const f of [VIRTIO_F_VERSION_1, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, ...model.features]) {
      this.deviceFeatures[f >> 5] = (this.deviceFeatures[f >> 5]! | (1 << (f & 31))) >>> 0;
    }
    this.queues = model.queueSizes.map((n) => {
      if (!Number.isInteger(n) || n < 1 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) !== 0) throw new RangeError(`${model.name}: queue size ${n}`);
      return new Virtqueue(options.memory, n);
    });
    const fn = new PciFunction({
      name: model.name,
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_DEVICE_ID_BASE + model.deviceType,
      classCode: model.classCode,
      revisionId: VIRTIO_PCI_REVISION,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: model.deviceType,
      interruptPin: PCI_INTERRUPT_PIN_INTA,
    });
    this.function = fn;
    fn.addMemoryBar(VIRTIO_BAR, { size: VIRTIO_BAR_SIZE, device: this.barDevice() });
    fn.addMemoryBar(MSIX_BAR, { size: MSIX_BAR_SIZE, device: { name: `${model.name}-msix`, read: () => 0, write: () => {} } });
    fn.addMsix({
      vectors: this.queues.length + 1,
      bar: MSIX_BAR,
      tableOffset: MSIX_TABLE_OFFSET,
      pbaOffset: MSIX_PBA_OFFSET,
      msi: (address, data) => options.msi(address, data),
    });
    // virtio_pci_cap: cfg_type, bar, id, padding[2], offset (le32), length (le32).
    const cap = (type: number, offset: number, length: number, extra: number[] = []) => [
      type, VIRTIO_BAR, 0, 0, 0, ...le32(offset), ...le32(length), ...extra,
    ];
    fn.addVendorCapability(cap(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_CFG_START, COMMON_CFG_SIZE));
    fn.addVendorCapability(cap(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_CFG_START, NOTIFY_OFF_MULTIPLIER * this.queues.length, le32(NOTIFY_OFF_MULTIPLIER)));
    fn.addVendorCapability(cap(VIRTIO_PCI_CAP_ISR_CFG, ISR_CFG_START, 1));
    if (model.configSize > 0) fn.addVendorCapability(cap(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_CFG_START, model.configSize));
    this.addPciCfgCapability();
  }

  /** The device configuration changed: bump the generation and tell the driver (4.1.4.3). */
  configChanged(): void {
    this.generation = (this.generation + 1) & 0xff;
    this.signal(this.configVector, VIRTIO_ISR_CONFIG);
  }

  /** Whether feature `bit` was negotiated (the driver accepted it). */
  hasFeature(bit: number): boolean {
    return ((this.driverFeatures[bit >> 5]! >>> (bit & 31)) & 1) === 1;
  }

  get deviceStatus(): number {
    return this.status;
  }

  // -------------------------------------------------------------------------------------------
  // BAR 0
  // -------------------------------------------------------------------------------------------

  private barDevice(): Device {
    return {
      name: this.model.name,
      read: (offset, size) => this.barRead(offset, size),
      write: (offset, size, value) => this.barWrite(offset, size, value),
    };
  }

  private barRead(offset: number, size: AccessSize): number {
    if (offset < COMMON_CFG_START + COMMON_CFG_SIZE) return this.readCommon(offset, size);
    if (offset === ISR_CFG_START) {
      // Reading the ISR clears it and deasserts INTx (4.1.4.5).
      const value = this.isr;
      this.isr = 0;
      this.updateIrq();
      return value;
    }
    const inConfig = offset - DEVICE_CFG_START;
    if (inConfig >= 0 && inConfig + size <= this.model.configSize) return this.model.readConfig(inConfig, size);
    return 0;
  }

  private barWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < COMMON_CFG_START + COMMON_CFG_SIZE) return this.writeCommon(offset, size, value);
    const inConfig = offset - DEVICE_CFG_START;
    if (inConfig >= 0 && inConfig + size <= this.model.configSize) return this.model.writeConfig?.(inConfig, size, value);
    const inNotify = offset - NOTIFY_CFG_START;
    if (inNotify >= 0 && inNotify % NOTIFY_OFF_MULTIPLIER === 0 && inNotify / NOTIFY_OFF_MULTIPLIER < this.queues.length) {
      this.notify(inNotify / NOTIFY_OFF_MULTIPLIER);
    }
  }

  /** The common configuration as bytes, then the accessed bytes of it. */
  private readCommon(offset: number, size: AccessSize): number {
    const b = new DataView(new ArrayBuffer(COMMON_CFG_SIZE));
    const q = this.queues[this.queueSelect];
    const sel = this.deviceFeatureSelect;
    b.setUint32(COMMON_DFSELECT_OFFSET, sel, true);
    b.setUint32(COMMON_DF_OFFSET, sel < 2 ? this.deviceFeatures[sel]! : 0, true);
    b.setUint32(COMMON_GFSELECT_OFFSET, this.driverFeatureSelect, true);
    b.setUint32(COMMON_GF_OFFSET, this.driverFeatureSelect < 2 ? this.driverFeatures[this.driverFeatureSelect]! : 0, true);
    b.setUint16(COMMON_MSIX_OFFSET, this.configVector, true);
    b.setUint16(COMMON_NUMQ_OFFSET, this.queues.length, true);
    b.setUint8(COMMON_STATUS_OFFSET, this.status);
    b.setUint8(COMMON_CFGGENERATION_OFFSET, this.generation);
    b.setUint16(COMMON_Q_SELECT_OFFSET, this.queueSelect, true);
    if (q) {
      b.setUint16(COMMON_Q_SIZE_OFFSET, q.size, true);
      b.setUint16(COMMON_Q_MSIX_OFFSET, q.msixVector, true);
      b.setUint16(COMMON_Q_ENABLE_OFFSET, q.ready ? 1 : 0, true);
      b.setUint16(COMMON_Q_NOFF_OFFSET, this.queueSelect, true);
      for (const [lo, addr] of [[COMMON_Q_DESCLO_OFFSET, q.descAddr], [COMMON_Q_AVAILLO_OFFSET, q.availAddr], [COMMON_Q_USEDLO_OFFSET, q.usedAddr]] as const) {
        b.setUint32(lo, addr % 2 ** 32, true);
        b.setUint32(lo + 4, Math.floor(addr / 2 ** 32), true);
      }
    }
    if (offset + size > COMMON_CFG_SIZE) return 0;
    return size === 1 ? b.getUint8(offset) : size === 2 ? b.getUint16(offset, true) : b.getUint32(offset, true);
  }

  /** Writes of whole fields (4.1.3.1: the driver accesses each field with its own width). */
  private writeCommon(offset: number, size: AccessSize, value: number): void {
    const q = this.queues[this.queueSelect];
    // Queue registers may change only while the queue is disabled (4.1.4.3.2).
    const qWritable = q !== undefined && !q.ready;
    const setHalf = (old: number, high: boolean) =>
      high ? (value >>> 0) * 2 ** 32 + (old % 2 ** 32) : Math.floor(old / 2 ** 32) * 2 ** 32 + (value >>> 0);
    switch (size === 4 ? offset : size === 2 ? offset | 0x1000 : offset | 0x2000) {
      case COMMON_DFSELECT_OFFSET:
        this.deviceFeatureSelect = value >>> 0;
        break;
      case COMMON_GFSELECT_OFFSET:
        this.driverFeatureSelect = value >>> 0;
        break;
      case COMMON_GF_OFFSET:
        // Features are fixed once FEATURES_OK is set (3.1.1).
        if (this.driverFeatureSelect < 2 && (this.status & VIRTIO_STATUS_FEATURES_OK) === 0) {
          this.driverFeatures[this.driverFeatureSelect] = value >>> 0;
        }
        break;
      case COMMON_MSIX_OFFSET | 0x1000:
        this.configVector = this.validVector(value);
        break;
      case COMMON_STATUS_OFFSET | 0x2000:
        this.writeStatus(value & 0xff);
        break;
      case COMMON_Q_SELECT_OFFSET | 0x1000:
        this.queueSelect = value;
        break;
      case COMMON_Q_SIZE_OFFSET | 0x1000:
        // A power of two up to the maximum; anything else is ignored.
        if (qWritable && value >= 1 && value <= q.maxSize && (value & (value - 1)) === 0) q.size = value;
        break;
      case COMMON_Q_MSIX_OFFSET | 0x1000:
        if (q) q.msixVector = this.validVector(value);
        break;
      case COMMON_Q_ENABLE_OFFSET | 0x1000:
        if (qWritable && value === 1) this.enableQueue(q);
        break;
      case COMMON_Q_DESCLO_OFFSET:
      case COMMON_Q_DESCHI_OFFSET:
        if (qWritable) q.descAddr = setHalf(q.descAddr, offset === COMMON_Q_DESCHI_OFFSET);
        break;
      case COMMON_Q_AVAILLO_OFFSET:
      case COMMON_Q_AVAILHI_OFFSET:
        if (qWritable) q.availAddr = setHalf(q.availAddr, offset === COMMON_Q_AVAILHI_OFFSET);
        break;
      case COMMON_Q_USEDLO_OFFSET:
      case COMMON_Q_USEDHI_OFFSET:
        if (qWritable) q.usedAddr = setHalf(q.usedAddr, offset === COMMON_Q_USEDHI_OFFSET);
        break;
      default:
        break; // read-only fields and odd widths: ignored
    }
  }

  /** An MSI-X vector the table has, else NO_VECTOR (which the driver reads back as failure). */
  private validVector(value: number): number {
    return value < (this.function.msix?.vectors ?? 0) ? value : VIRTIO_MSI_NO_VECTOR;
  }

  private writeStatus(value: number): void {
    if (value === 0) return this.reset();
    let status = value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    status |= this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    // FEATURES_OK sticks only for an acceptable subset with VERSION_1 (2.2.1, 6.1).
    if (status & VIRTIO_STATUS_FEATURES_OK && !(this.status & VIRTIO_STATUS_FEATURES_OK)) {
      const subset = this.driverFeatures.every((w, i) => (w & ~this.deviceFeatures[i]!) === 0);
      if (!subset || !this.hasFeature(VIRTIO_F_VERSION_1)) status &= ~VIRTIO_STATUS_FEATURES_OK;
      else {
        for (const q of this.queues) {
          q.eventIdx = this.hasFeature(VIRTIO_F_RING_EVENT_IDX);
          q.indirect = this.hasFeature(VIRTIO_F_INDIRECT_DESC);
        }
      }
    }
    const becameOk = (status & VIRTIO_STATUS_DRIVER_OK) !== 0 && (this.status & VIRTIO_STATUS_DRIVER_OK) === 0;
    this.status = status;
    // Buffers made available before DRIVER_OK are handled now (3.1.1 step 8).
    if (becameOk) this.queues.forEach((_, i) => this.notify(i));
  }

  private enableQueue(q: Virtqueue): void {
    q.ready = true;
    if (!q.checkRings()) this.needsReset();
  }

  /** Resets the device: status, features, queues, vectors, ISR (4.1.4.3.2). */
  reset(): void {
    this.status = 0;
    this.isr = 0;
    this.driverFeatures = [0, 0];
    this.deviceFeatureSelect = this.driverFeatureSelect = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queueSelect = 0;
    for (const q of this.queues) q.reset();
    this.model.reset?.();
    this.updateIrq();
  }

  // -------------------------------------------------------------------------------------------
  // Queues and interrupts
  // -------------------------------------------------------------------------------------------

  /** The driver notified queue `index`: handle its buffers and send a notification if due. */
  notify(index: number): void {
    const q = this.queues[index];
    const live = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
    if (!q || !q.ready || (this.status & live) !== live) return;
    if (this.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)) return;
    // A device-side copy only needs guest RAM; bus mastering gates DMA as on hardware.
    if (!this.function.busMasterEnabled) return;
    this.model.processQueue(index, q);
    if (q.takeNotification()) this.signal(q.msixVector, VIRTIO_ISR_QUEUE);
    if (q.error !== undefined) this.needsReset();
  }

  /** A malformed ring or chain: DEVICE_NEEDS_RESET and a configuration change interrupt (2.1.2). */
  private needsReset(): void {
    if (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.configChanged();
  }

  /** Interrupts through MSI-X `vector` when MSI-X is on, else through the ISR and INTx. */
  private signal(vector: number, isrBit: number): void {
    const msix = this.function.msix;
    if (msix?.enabled) {
      if (vector !== VIRTIO_MSI_NO_VECTOR) msix.notify(vector);
      return;
    }
    this.isr |= isrBit;
    this.updateIrq();
  }

  /** INTx follows the ISR (the function masks it while MSI-X is enabled or INTx is disabled). */
  private updateIrq(): void {
    this.function.setIntx(this.isr !== 0);
  }

  // -------------------------------------------------------------------------------------------
  // VIRTIO_PCI_CAP_PCI_CFG: BAR access through config space (4.1.4.9)
  // -------------------------------------------------------------------------------------------

  private addPciCfgCapability(): void {
    const fn = this.function;
    let cap = 0;
    const hook = {
      read: (offset: number, size: AccessSize) => {
        if (offset < cap + 16) return fn.config.read(offset, size);
        const access = this.pciCfgAccess(cap);
        return access ? fn.barRead(access.bar, access.offset, access.size) : 0;
      },
      write: (offset: number, size: AccessSize, value: number) => {
        if (offset < cap + 16) return;
        const access = this.pciCfgAccess(cap);
        if (access) fn.barWrite(access.bar, access.offset, access.size, value >>> (8 * (offset - cap - 16)));
      },
    };
    cap = fn.addVendorCapability([VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 0, ...le32(0), ...le32(0), ...le32(0)], hook);
    fn.config.setMasks(cap + 4, 1, 0xff); // bar
    fn.config.setMasks(cap + 8, 4, 0xffff_ffff); // offset
    fn.config.setMasks(cap + 12, 4, 0xffff_ffff); // length
  }

  /** The BAR access the PCI_CFG window describes, if valid (length 1, 2 or 4, aligned). */
  private pciCfgAccess(cap: number): { bar: number; offset: number; size: AccessSize } | undefined {
    const c = this.function.config;
    const bar = c.get8(cap + 4);
    const offset = c.get32(cap + 8);
    const length = c.get32(cap + 12);
    if ((length !== 1 && length !== 2 && length !== 4) || offset % length !== 0 || bar > 5) return undefined;
    return { bar, offset, size: length };
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  state(): VirtioPciState {
    return {
      function: this.function.state(),
      status: this.status,
      isr: this.isr,
      generation: this.generation,
      deviceFeatureSelect: this.deviceFeatureSelect,
      driverFeatureSelect: this.driverFeatureSelect,
      driverFeatures: [...this.driverFeatures],
      configVector: this.configVector,
      queueSelect: this.queueSelect,
      queues: this.queues.map((q) => q.state()),
    };
  }

  /** A transport for `model` loaded with `state`; re-raises INTx and pending MSI-X messages. */
  static fromState(model: VirtioDeviceModel, options: VirtioPciOptions, state: VirtioPciState): VirtioPci {
    const t = new VirtioPci(model, options);
    t.status = state.status & 0xff;
    t.isr = state.isr & 3;
    t.generation = state.generation & 0xff;
    t.deviceFeatureSelect = state.deviceFeatureSelect;
    t.driverFeatureSelect = state.driverFeatureSelect;
    t.driverFeatures = [state.driverFeatures[0] >>> 0, state.driverFeatures[1] >>> 0];
    t.configVector = state.configVector & 0xffff;
    t.queueSelect = state.queueSelect & 0xffff;
    t.queues.forEach((q, i) => {
      const s = state.queues[i];
      if (s) q.restore(s);
      q.eventIdx = t.hasFeature(VIRTIO_F_RING_EVENT_IDX);
      q.indirect = t.hasFeature(VIRTIO_F_INDIRECT_DESC);
    });
    t.function.restore(state.function);
    t.updateIrq();
    return t;
  }
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}
