/**
 * virtio-blk, the virtio block device ("Virtual I/O Device (VIRTIO) Version 1.2", section 5.2),
 * as a device model for the PCI transport (./virtio-pci.ts): device type 2, PCI id 0x1042, one
 * request queue of 256 entries, backed by a `BlockBackend` or an `AsyncBlockBackend` (./disk.ts).
 *
 * Features offered (5.2.3): SEG_MAX, BLK_SIZE, FLUSH, and RO for a read-only disk.
 * Configuration (5.2.4, struct virtio_blk_config):
 *   0x00 capacity u64 (512-byte sectors)   0x08 size_max u32   0x0C seg_max u32
 *   0x10 geometry (cylinders u16, heads u8, sectors u8)       0x14 blk_size u32
 *   0x18 topology (physical_block_exp u8, alignment_offset u8, min_io_size u16, opt_io_size u32)
 *   0x20 writeback u8, 0x21 unused, 0x22 num_queues u16 ... (read as zero here)
 *
 * Requests (5.2.6): a device-readable header { type u32, reserved u32, sector u64 }, data
 * buffers (device-readable for OUT, device-writable for IN and GET_ID), and a final
 * device-writable status byte. Types: IN (read), OUT (write), FLUSH, GET_ID (20-byte serial).
 * Outcomes:
 * - a request outside the disk, a data length that is not a multiple of 512, or a write to a
 *   read-only disk completes with VIRTIO_BLK_S_IOERR, and so does a request the backend fails
 *   (a host I/O error); an unknown type completes with VIRTIO_BLK_S_UNSUPP;
 * - a chain too short for the header and the status byte cannot carry a status: it is
 *   returned with length 0 and the device sets DEVICE_NEEDS_RESET (the transport sees the
 *   queue error set here).
 * The used length is the number of bytes written to device-writable buffers, status included.
 *
 * Synchronous backends: a request is done before the guest's notification returns.
 * Asynchronous backends (a Blob, a URL): processQueue takes the chains off the ring into a FIFO
 * and runs them one at a time, in order (so a FLUSH covers every write before it): the header
 * and OUT data are copied from guest memory when the request starts, the backend works, and
 * when its promise settles the IN data and the status byte are written to guest memory, the
 * completion is queued, and `onAsyncComplete` asks the transport to run processQueue again
 * (VirtioPci.notify), which pushes the completions to the used ring and interrupts. The machine
 * keeps running meanwhile. reset() bumps a generation counter: a request that settles after a
 * device reset (or after the machine dropped the device) touches no guest memory.
 *
 * Not supported: DISCARD, WRITE_ZEROES, SECURE_ERASE, multiple queues (MQ), the writeback
 * toggle (CONFIG_WCE: the overlay is always write-back, FLUSH makes the backend durable),
 * zoned devices, lifetime and geometry reporting (geometry and topology read as zero), more
 * than one asynchronous request in flight, snapshots with requests in flight.
 */
import type { AccessSize, GuestMemory } from '../device.ts';
import { isAsyncBackend, type AsyncBlockBackend, type BlockBackend, type DiskBackend } from './disk.ts';
import type { VirtioDeviceModel } from './virtio-pci.ts';
import { chainLength, readChain, writeChain, type DescriptorChain, type Virtqueue } from './virtqueue.ts';

export const VIRTIO_ID_BLOCK = 2;
/** PCI class 0x01 (mass storage), sub-class 0x80 (other), as QEMU's virtio-blk-pci. */
export const PCI_CLASS_STORAGE_OTHER = 0x01_80_00;

/** Feature bits (5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;

/** Request types and status values (5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Configuration offsets. */
export const BLK_CFG_CAPACITY_OFFSET = 0x00;
export const BLK_CFG_SIZE_MAX_OFFSET = 0x08;
export const BLK_CFG_SEG_MAX_OFFSET = 0x0c;
export const BLK_CFG_BLK_SIZE_OFFSET = 0x14;
export const BLK_CFG_NUM_QUEUES_OFFSET = 0x22;
const BLK_CFG_SIZE = 0x24;

export const SECTOR_SIZE = 512;
/** GET_ID answers with a serial of at most this many bytes (NUL-padded, 5.2.6). */
export const VIRTIO_BLK_ID_BYTES = 20;
const REQUEST_HEADER_SIZE = 16;
const QUEUE_SIZE = 256;
/** Data segments per request: the queue size minus header and status (Linux uses seg_max). */
const SEG_MAX = QUEUE_SIZE - 2;

export interface VirtioBlkOptions {
  memory: GuestMemory;
  /** The disk; writes go to it only if the disk is not read-only and it has `write`/`writeAsync`. */
  backend: DiskBackend;
  readOnly?: boolean;
  /**
   * An asynchronous request completed: call the transport's notify(0) so that the completion
   * reaches the used ring and the driver is interrupted (and wake the machine if it sleeps).
   */
  onAsyncComplete?: () => void;
  /** Serial number returned by GET_ID (at most 20 bytes; default "virtlite-disk"). */
  serial?: string;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly name = 'virtio-blk';
  readonly deviceType = VIRTIO_ID_BLOCK;
  readonly classCode = PCI_CLASS_STORAGE_OTHER;
  readonly queueSizes = [QUEUE_SIZE];
  readonly features: readonly number[];
  readonly configSize = BLK_CFG_SIZE;
  readonly readOnly: boolean;
  /** Addressable sectors: a partial last sector is not visible to the guest. */
  readonly capacity: number;
  private readonly memory: GuestMemory;
  private readonly backend: DiskBackend;
  private readonly serial: Uint8Array;
  private readonly config = new DataView(new ArrayBuffer(BLK_CFG_SIZE));
  private readonly onAsyncComplete: (() => void) | undefined;
  // Asynchronous backends: chains taken off the ring, not yet started (FIFO) ...
  private pending: DescriptorChain[] = [];
  // ... whether one is running, and the finished ones not yet pushed: [head, used length].
  private busy = false;
  private completed: [number, number][] = [];
  /** Bumped by reset(): a request that settles in an older generation is dropped. */
  private generation = 0;

  constructor(options: VirtioBlkOptions) {
    this.memory = options.memory;
    this.backend = options.backend;
    this.onAsyncComplete = options.onAsyncComplete;
    const b = options.backend;
    const writable = isAsyncBackend(b) ? b.writeAsync !== undefined : b.write !== undefined;
    this.readOnly = options.readOnly === true || !writable;
    this.capacity = Math.floor(options.backend.size / SECTOR_SIZE);
    this.features = [VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, ...(this.readOnly ? [VIRTIO_BLK_F_RO] : [])];
    this.serial = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    this.serial.set(new TextEncoder().encode(options.serial ?? 'virtlite-disk').subarray(0, VIRTIO_BLK_ID_BYTES));
    const c = this.config;
    c.setUint32(BLK_CFG_CAPACITY_OFFSET, this.capacity % 2 ** 32, true);
    c.setUint32(BLK_CFG_CAPACITY_OFFSET + 4, Math.floor(this.capacity / 2 ** 32), true);
    c.setUint32(BLK_CFG_SEG_MAX_OFFSET, SEG_MAX, true);
    c.setUint32(BLK_CFG_BLK_SIZE_OFFSET, SECTOR_SIZE, true);
  }

  readConfig(offset: number, size: AccessSize): number {
    if (offset < 0 || offset + size > BLK_CFG_SIZE) return 0;
    const c = this.config;
    return size === 1 ? c.getUint8(offset) : size === 2 ? c.getUint16(offset, true) : c.getUint32(offset, true);
  }

  // The configuration is read-only (no CONFIG_WCE): writes are ignored.

  processQueue(_index: number, queue: Virtqueue): void {
    if (isAsyncBackend(this.backend)) return this.processAsync(queue, this.backend);
    // Bounded: at most one pass over the ring per notification.
    for (let n = 0; n < queue.size; n++) {
      const chain = queue.pop();
      if (!chain) return;
      queue.push(chain.head, this.handle(chain, queue));
    }
  }

  /** Drops the requests in flight: their results never reach guest memory. */
  reset(): void {
    this.generation++;
    this.pending = [];
    this.completed = [];
    this.busy = false;
  }

  /** Requests in flight or waiting (asynchronous backends). */
  get inFlight(): number {
    return this.pending.length + (this.busy ? 1 : 0) + this.completed.length;
  }

  // -------------------------------------------------------------------------------------------
  // Asynchronous backends
  // -------------------------------------------------------------------------------------------

  /** Pushes finished requests, takes new chains off the ring and starts the next request. */
  private processAsync(queue: Virtqueue, backend: AsyncBlockBackend): void {
    for (const [head, len] of this.completed) queue.push(head, len);
    this.completed = [];
    // At most one ring's worth of chains can be outstanding (the driver has no more buffers).
    while (this.pending.length < queue.size) {
      const chain = queue.pop();
      if (!chain) break;
      this.pending.push(chain);
    }
    while (!this.busy && this.pending.length > 0) {
      const chain = this.pending.shift()!;
      const started = this.start(chain, queue, backend);
      if (typeof started === 'number') {
        queue.push(chain.head, started); // malformed: no status byte to write
        continue;
      }
      this.busy = true;
      const generation = this.generation;
      started.then(
        (result) => this.finish(generation, chain, result),
        () => this.finish(generation, chain, { status: VIRTIO_BLK_S_IOERR }),
      );
    }
  }

  /**
   * The request header of a chain: type, first sector, and the data sizes (device-writable
   * bytes before the status byte, driver-written bytes after the header). A chain without a
   * header or a status byte is malformed: the queue is marked broken and undefined returned.
   */
  private parse(chain: DescriptorChain, queue: Virtqueue): { type: number; sector: number; dataIn: number; dataOut: number } | undefined {
    const readable = chainLength(chain, false);
    const writable = chainLength(chain, true);
    if (readable < REQUEST_HEADER_SIZE || writable < 1) {
      queue.error = `request without ${readable < REQUEST_HEADER_SIZE ? 'a 16-byte header' : 'a status byte'}`;
      return undefined;
    }
    const header = new Uint8Array(REQUEST_HEADER_SIZE);
    readChain(this.memory, chain, 0, header);
    const h = new DataView(header.buffer);
    return {
      type: h.getUint32(0, true),
      sector: h.getUint32(8, true) + h.getUint32(12, true) * 2 ** 32,
      dataIn: writable - 1,
      dataOut: readable - REQUEST_HEADER_SIZE,
    };
  }

  /**
   * Starts one request: copies what it needs from guest memory now and returns a promise of
   * the status and the data for the device-writable buffers; a malformed chain returns its used
   * length (0) at once.
   */
  private start(chain: DescriptorChain, queue: Virtqueue, backend: AsyncBlockBackend): number | Promise<{ status: number; data?: Uint8Array }> {
    const request = this.parse(chain, queue);
    if (!request) return 0;
    const { type, sector, dataIn, dataOut } = request;
    const ioerr = Promise.resolve({ status: VIRTIO_BLK_S_IOERR });
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        if (!this.inRange(sector, dataIn)) return ioerr;
        const data = new Uint8Array(dataIn);
        return backend.readAsync(sector * SECTOR_SIZE, data).then(() => ({ status: VIRTIO_BLK_S_OK, data }));
      }
      case VIRTIO_BLK_T_OUT: {
        if (this.readOnly || !backend.writeAsync || !this.inRange(sector, dataOut)) return ioerr;
        const data = new Uint8Array(dataOut);
        readChain(this.memory, chain, REQUEST_HEADER_SIZE, data);
        return backend.writeAsync(sector * SECTOR_SIZE, data).then(() => ({ status: VIRTIO_BLK_S_OK }));
      }
      case VIRTIO_BLK_T_FLUSH:
        if (this.readOnly || !backend.flushAsync) return Promise.resolve({ status: VIRTIO_BLK_S_OK });
        return backend.flushAsync().then(() => ({ status: VIRTIO_BLK_S_OK }));
      case VIRTIO_BLK_T_GET_ID:
        return Promise.resolve({ status: VIRTIO_BLK_S_OK, data: this.serial.subarray(0, Math.min(dataIn, VIRTIO_BLK_ID_BYTES)) });
      default:
        return Promise.resolve({ status: VIRTIO_BLK_S_UNSUPP });
    }
  }

  /** A request settled: write its results to guest memory (same generation only) and report. */
  private finish(generation: number, chain: DescriptorChain, result: { status: number; data?: Uint8Array }): void {
    if (generation !== this.generation) return; // reset meanwhile: guest memory is not ours
    const writable = chainLength(chain, true);
    const written = result.data ? writeChain(this.memory, chain, 0, result.data) : 0;
    writeChain(this.memory, chain, writable - 1, Uint8Array.of(result.status));
    this.completed.push([chain.head, written + 1]);
    this.busy = false;
    this.onAsyncComplete?.();
  }

  /** Executes one request; returns the used length. */
  private handle(chain: DescriptorChain, queue: Virtqueue): number {
    const request = this.parse(chain, queue);
    if (!request) return 0;
    const { type, sector, dataIn, dataOut } = request;
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    try {
      [status, written] = this.execute(chain, type, sector, dataIn, dataOut);
    } catch {
      // The backend failed (a host I/O error): the guest sees a failed request, not a crash.
      status = VIRTIO_BLK_S_IOERR;
    }
    // The status byte is the last device-writable byte (after dataIn data bytes).
    writeChain(this.memory, chain, dataIn, Uint8Array.of(status));
    return written + 1;
  }

  /** Runs request `type`; returns the status and the data bytes written to the guest. */
  private execute(chain: DescriptorChain, type: number, sector: number, dataIn: number, dataOut: number): [number, number] {
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        if (!this.inRange(sector, dataIn)) {
          status = VIRTIO_BLK_S_IOERR;
          break;
        }
        const buf = new Uint8Array(dataIn);
        this.syncBackend().read(sector * SECTOR_SIZE, buf);
        written = writeChain(this.memory, chain, 0, buf);
        break;
      }
      case VIRTIO_BLK_T_OUT: {
        if (this.readOnly || !this.inRange(sector, dataOut)) {
          status = VIRTIO_BLK_S_IOERR;
          break;
        }
        const buf = new Uint8Array(dataOut);
        readChain(this.memory, chain, REQUEST_HEADER_SIZE, buf);
        this.syncBackend().write?.(sector * SECTOR_SIZE, buf);
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        if (!this.readOnly) this.syncBackend().flush?.();
        break;
      case VIRTIO_BLK_T_GET_ID:
        written = writeChain(this.memory, chain, 0, this.serial.subarray(0, Math.min(dataIn, VIRTIO_BLK_ID_BYTES)));
        break;
      default:
        status = VIRTIO_BLK_S_UNSUPP;
    }
    return [status, written];
  }

  private syncBackend(): BlockBackend {
    return this.backend as BlockBackend; // processQueue sends asynchronous backends elsewhere
  }

  /** Whether `bytes` from `sector` is whole sectors inside the disk. */
  private inRange(sector: number, bytes: number): boolean {
    return bytes % SECTOR_SIZE === 0 && sector <= this.capacity && bytes / SECTOR_SIZE <= this.capacity - sector;
  }
}
