/**
 * The device side of a virtio split virtqueue: the descriptor table, the available ring and the
 * used ring in guest memory, with indirect descriptors and event-index notification suppression.
 * Follows "Virtual I/O Device (VIRTIO) Version 1.2", section 2.7 ("Split Virtqueues"): 2.7.5
 * descriptor table, 2.7.5.3 indirect descriptors, 2.7.6 available ring, 2.7.8 used ring,
 * 2.7.7 / 2.7.10 used buffer notification suppression (VIRTIO_F_EVENT_IDX).
 *
 * Memory layout for a queue of size N (all little-endian):
 *   descriptor table  16 * N bytes, 16-aligned: { addr u64, len u32, flags u16, next u16 }
 *   available ring    flags u16, idx u16, ring[N] u16, used_event u16         (2-aligned)
 *   used ring         flags u16, idx u16, ring[N] { id u32, len u32 }, avail_event u16 (4-aligned)
 *
 * Every guest-supplied value is checked before use (STYLE: a device never trusts the guest):
 * - the rings and every buffer lie inside guest RAM (GuestMemory.slice), alignment as above;
 * - the available index may run at most N entries ahead of what the device consumed;
 * - a descriptor index is below N (or below the indirect table's entry count);
 * - a chain has at most N descriptors (at most the table's entries when indirect), which also
 *   catches loops; its total length fits in 32 bits;
 * - INDIRECT only when negotiated, only on the head descriptor, never together with NEXT, never
 *   inside an indirect table; the table length is a non-zero multiple of 16;
 * - device-writable descriptors come after every device-readable one.
 * A violation marks the queue broken (`error` says why) and `pop()` returns nothing from then
 * on; the transport then sets DEVICE_NEEDS_RESET (2.1.1). Nothing here throws to the caller.
 *
 * Not supported: packed virtqueues (VIRTIO_F_RING_PACKED), VIRTIO_F_IN_ORDER,
 * VIRTIO_F_NOTIFICATION_DATA, per-queue reset (VIRTIO_F_RING_RESET), the used ring's
 * VIRTQ_USED_F_NO_NOTIFY flag (the device always wants notifications: requests are handled
 * synchronously, so there is never a moment when a notification would be redundant).
 */
import type { GuestMemory } from '../device.ts';

/** Descriptor flags (2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Available ring flag: the driver does not want used buffer notifications (2.7.7). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Bytes per descriptor and per used element. */
export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_USED_ELEM_SIZE = 8;
/** The largest queue a split ring can have (2.7). */
export const VIRTQ_MAX_SIZE = 32768;

/** One guest buffer of a chain: `len` bytes at guest-physical `addr`, read or written by the device. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
  readonly writable: boolean;
}

/** A descriptor chain taken from the available ring. */
export interface DescriptorChain {
  /** Head descriptor index: what goes back in the used ring. */
  readonly head: number;
  /** Device-readable segments first, then device-writable ones. */
  readonly segments: readonly Segment[];
}

/** The queue registers the driver programs through the transport (common config). */
export interface VirtqueueState {
  size: number;
  ready: boolean;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  msixVector: number;
  lastAvail: number;
  nextUsed: number;
  signalledUsed: number;
  error?: string;
}

/** Thrown inside this file only, caught by pop(). */
class ChainError extends Error {}

export class Virtqueue {
  /** Queue size the driver chose (at most maxSize). */
  size: number;
  ready = false;
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** MSI-X vector for this queue's used buffer notifications (VIRTIO_MSI_NO_VECTOR: none). */
  msixVector = 0xffff;
  /** Negotiated VIRTIO_F_RING_EVENT_IDX and VIRTIO_F_INDIRECT_DESC. */
  eventIdx = false;
  indirect = false;
  /** Why the queue broke (a malformed ring or chain), if it did. */
  error: string | undefined;
  /** Free-running 16-bit counters: next available entry to take, next used entry to fill. */
  private lastAvail = 0;
  private nextUsed = 0;
  /** The used index at the last notification (for event-index suppression). */
  private signalledUsed = 0;

  constructor(
    private readonly memory: GuestMemory,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  /** Back to the reset state (device reset, 2.1.1 / 4.1.4.3). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.msixVector = 0xffff;
    this.eventIdx = this.indirect = false;
    this.error = undefined;
    this.lastAvail = this.nextUsed = this.signalledUsed = 0;
  }

  /**
   * Takes the next available chain, or undefined if there is none, the queue is not ready, or
   * the queue is broken (then `error` is set).
   */
  pop(): DescriptorChain | undefined {
    if (!this.ready || this.error !== undefined) return undefined;
    try {
      const availIdx = this.read16(this.availAddr + 2);
      const pending = (availIdx - this.lastAvail) & 0xffff;
      if (pending > this.size) throw new ChainError(`available index ${availIdx} is ${pending} entries ahead (queue size ${this.size})`);
      if (pending === 0) return undefined;
      const head = this.read16(this.availAddr + 4 + 2 * (this.lastAvail % this.size));
      const chain = this.walk(head);
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      // Event index: ask the driver to notify again once it makes the next entry available.
      if (this.eventIdx) this.write16(this.usedAddr + 4 + VIRTQ_USED_ELEM_SIZE * this.size, this.lastAvail);
      return chain;
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      this.error = e.message;
      return undefined;
    }
  }

  /** Returns chain `head` to the driver with `len` bytes written into its writable buffers. */
  push(head: number, len: number): void {
    if (!this.ready || this.error !== undefined) return;
    try {
      const elem = this.usedAddr + 4 + VIRTQ_USED_ELEM_SIZE * (this.nextUsed % this.size);
      this.write32(elem, head);
      this.write32(elem + 4, len >>> 0);
      this.nextUsed = (this.nextUsed + 1) & 0xffff;
      this.write16(this.usedAddr + 2, this.nextUsed);
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      this.error = e.message;
    }
  }

  /**
   * Whether the driver wants a used buffer notification for what was pushed since the last
   * one (2.7.10: used_event with EVENT_IDX, else the NO_INTERRUPT flag), and records that it
   * was decided. Call after a batch of push().
   */
  takeNotification(): boolean {
    if (!this.ready || this.error !== undefined) return false;
    const now = this.nextUsed;
    const old = this.signalledUsed;
    if (now === old) return false;
    this.signalledUsed = now;
    try {
      if (this.eventIdx) {
        const usedEvent = this.read16(this.availAddr + 4 + 2 * this.size);
        // vring_need_event: did the used index step over used_event + 1 in (old, now]?
        return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
      }
      return (this.read16(this.availAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      this.error = e.message;
      return false;
    }
  }

  /** Checks the ring addresses when the driver enables the queue; false marks the queue broken. */
  checkRings(): boolean {
    const n = this.size;
    const problems: string[] = [];
    if (this.descAddr % 16 !== 0 || !this.memory.slice(this.descAddr, VIRTQ_DESC_SIZE * n)) problems.push('descriptor table');
    if (this.availAddr % 2 !== 0 || !this.memory.slice(this.availAddr, 6 + 2 * n)) problems.push('available ring');
    if (this.usedAddr % 4 !== 0 || !this.memory.slice(this.usedAddr, 6 + VIRTQ_USED_ELEM_SIZE * n)) problems.push('used ring');
    if (problems.length > 0) this.error = `${problems.join(', ')} misaligned or outside guest RAM`;
    return problems.length === 0;
  }

  state(): VirtqueueState {
    const { size, ready, descAddr, availAddr, usedAddr, msixVector, lastAvail, nextUsed, signalledUsed, error } = this;
    const s: VirtqueueState = { size, ready, descAddr, availAddr, usedAddr, msixVector, lastAvail, nextUsed, signalledUsed };
    if (error !== undefined) s.error = error;
    return s;
  }

  restore(s: VirtqueueState): void {
    this.size = s.size >= 1 && s.size <= this.maxSize ? s.size : this.maxSize;
    this.ready = s.ready;
    this.descAddr = s.descAddr;
    this.availAddr = s.availAddr;
    this.usedAddr = s.usedAddr;
    this.msixVector = s.msixVector & 0xffff;
    this.lastAvail = s.lastAvail & 0xffff;
    this.nextUsed = s.nextUsed & 0xffff;
    this.signalledUsed = s.signalledUsed & 0xffff;
    this.error = s.error;
  }

  // -------------------------------------------------------------------------------------------

  /** Follows the chain starting at descriptor `head`, validating every step. */
  private walk(head: number): DescriptorChain {
    if (head >= this.size) throw new ChainError(`head descriptor ${head} >= queue size ${this.size}`);
    let table = this.descAddr;
    let entries = this.size;
    let index = head;
    let desc = this.descriptor(table, index);
    if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
      if (!this.indirect) throw new ChainError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
      if (desc.flags & VIRTQ_DESC_F_NEXT) throw new ChainError('indirect descriptor with NEXT');
      if (desc.len === 0 || desc.len % VIRTQ_DESC_SIZE !== 0) throw new ChainError(`indirect table length ${desc.len}`);
      if (!this.memory.slice(desc.addr, desc.len)) throw new ChainError('indirect table outside guest RAM');
      table = desc.addr;
      entries = desc.len / VIRTQ_DESC_SIZE;
      index = 0;
      desc = this.descriptor(table, 0);
    }
    const segments: Segment[] = [];
    let total = 0;
    let sawWritable = false;
    for (let count = 1; ; count++) {
      if (desc.flags & VIRTQ_DESC_F_INDIRECT) throw new ChainError('INDIRECT inside a chain or an indirect table');
      const writable = (desc.flags & VIRTQ_DESC_F_WRITE) !== 0;
      if (!writable && sawWritable) throw new ChainError('device-readable descriptor after a device-writable one');
      sawWritable ||= writable;
      if (!this.memory.slice(desc.addr, desc.len)) throw new ChainError(`buffer 0x${desc.addr.toString(16)}+${desc.len} outside guest RAM`);
      total += desc.len;
      if (total > 0xffff_ffff) throw new ChainError('chain longer than 4 GiB');
      if (desc.len > 0) segments.push({ addr: desc.addr, len: desc.len, writable });
      if ((desc.flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (count >= entries) throw new ChainError(`chain longer than ${entries} descriptors (a loop?)`);
      index = desc.next;
      if (index >= entries) throw new ChainError(`next descriptor ${index} >= ${entries}`);
      desc = this.descriptor(table, index);
    }
    return { head, segments };
  }

  private descriptor(table: number, index: number): { addr: number; len: number; flags: number; next: number } {
    const at = table + VIRTQ_DESC_SIZE * index;
    const lo = this.read32(at);
    const hi = this.read32(at + 4);
    // Addresses at or above 2^53 cannot be in RAM; keep them out of floating point rounding.
    const addr = hi >= 0x20_0000 ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + lo;
    return { addr, len: this.read32(at + 8), flags: this.read16(at + 12), next: this.read16(at + 14) };
  }

  private bytes(addr: number, length: number): Uint8Array {
    const b = this.memory.slice(addr, length);
    if (!b) throw new ChainError(`ring access 0x${addr.toString(16)}+${length} outside guest RAM`);
    return b;
  }

  private read16(addr: number): number {
    const b = this.bytes(addr, 2);
    return b[0]! | (b[1]! << 8);
  }

  private read32(addr: number): number {
    const b = this.bytes(addr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  private write16(addr: number, value: number): void {
    const b = this.bytes(addr, 2);
    b[0] = value & 0xff;
    b[1] = (value >>> 8) & 0xff;
    this.memory.written(addr, 2);
  }

  private write32(addr: number, value: number): void {
    const b = this.bytes(addr, 4);
    for (let i = 0; i < 4; i++) b[i] = (value >>> (8 * i)) & 0xff;
    this.memory.written(addr, 4);
  }
}

/** Total bytes of a chain's readable or writable segments. */
export function chainLength(chain: DescriptorChain, writable: boolean): number {
  let n = 0;
  for (const s of chain.segments) if (s.writable === writable) n += s.len;
  return n;
}

/**
 * Copies bytes [offset, offset + dest.length) of the chain's readable part into `dest`; returns
 * how many bytes were available.
 */
export function readChain(memory: GuestMemory, chain: DescriptorChain, offset: number, dest: Uint8Array): number {
  return copyChain(memory, chain, false, offset, dest.length, (mem, at, n) => dest.set(mem, at), undefined);
}

/** Copies `src` into the chain's writable part at `offset`; returns how many bytes fitted. */
export function writeChain(memory: GuestMemory, chain: DescriptorChain, offset: number, src: Uint8Array): number {
  return copyChain(memory, chain, true, offset, src.length, (mem, at, n) => mem.set(src.subarray(at, at + n)), memory);
}

function copyChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  writable: boolean,
  offset: number,
  length: number,
  copy: (guest: Uint8Array, at: number, n: number) => void,
  notify: GuestMemory | undefined,
): number {
  let skip = offset;
  let done = 0;
  for (const s of chain.segments) {
    if (s.writable !== writable || done >= length) continue;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, length - done);
    const guest = memory.slice(s.addr + skip, n);
    if (!guest) return done; // validated at pop time; RAM does not shrink
    copy(guest, done, n);
    notify?.written(s.addr + skip, n);
    done += n;
    skip = 0;
  }
  return done;
}
