/**
 * virtio-net, the virtio network device ("Virtual I/O Device (VIRTIO) Version 1.2", section
 * 5.1), as a device model for the PCI transport (./virtio-pci.ts): device type 1, PCI id
 * 0x1041, class 0x020000 (Ethernet), one receive queue (0) and one transmit queue (1) of 256
 * entries, frames carried by a `NetBackend` (../net/backend.ts).
 *
 * Features offered (5.1.3): MAC and STATUS (plus VERSION_1, EVENT_IDX and INDIRECT_DESC from the
 * transport). Configuration (5.1.4, struct virtio_net_config):
 *   0x00 mac[6]   0x06 status u16 (VIRTIO_NET_S_LINK_UP)
 *
 * Every frame in either direction is preceded by a struct virtio_net_hdr (5.1.6), 12 bytes with
 * VERSION_1: flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16,
 * num_buffers u16.
 * - Transmit (5.1.6.2): the device gathers the chain's device-readable bytes, drops the header
 *   (no offloads are offered, so its checksum and GSO fields carry nothing to do) and hands the
 *   frame to the backend. A chain too short for the header and an Ethernet header, or longer
 *   than the header and 64 KiB, is dropped (counted in txErrors); the buffer is returned either way.
 * - Receive (5.1.6.3/5.1.6.4): frames from the backend wait in a bounded backlog; whenever the
 *   machine polls (between CPU slices) or the driver posts buffers, each waiting frame goes into
 *   the next posted buffer with a zero header and num_buffers = 1. A full backlog drops the
 *   newest frame (rxDropped); a posted buffer too small for header + frame is returned with
 *   length 0 and the frame dropped (rxErrors), which Linux counts as a length error.
 *   Device-readable parts of a receive chain are ignored.
 * Chains are validated by the virtqueue (./virtqueue.ts); nothing here throws on guest input,
 * and a backend that throws on send only counts a tx error.
 *
 * Not supported: checksum and segmentation offloads (CSUM, GUEST_CSUM, GSO, TSO, UFO, USO),
 * mergeable receive buffers (MRG_RXBUF), the control queue (CTRL_VQ: receive filters, VLAN
 * filters, MAC changes by the driver, announce), multiqueue (MQ, RSS, hash reporting), MTU
 * reporting, speed/duplex, guest-side MAC filtering (every frame of the backend is delivered,
 * as a promiscuous port), notification coalescing, standby/failover.
 */
import type { AccessSize, GuestMemory } from '../device.ts';
import { ETH_ALEN, ETH_HEADER_SIZE, ETH_MAX_FRAME, type NetBackend } from '../net/backend.ts';
import type { VirtioDeviceModel } from './virtio-pci.ts';
import { chainLength, readChain, writeChain, type Virtqueue } from './virtqueue.ts';

export const VIRTIO_ID_NET = 1;
/** PCI class 0x02 (network), sub-class 0x00 (Ethernet). */
export const PCI_CLASS_NETWORK_ETHERNET = 0x02_00_00;

/** Feature bits (5.1.3). */
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_STATUS = 16;

/** Configuration offsets and the status bit (5.1.4). */
export const NET_CFG_MAC_OFFSET = 0x00;
export const NET_CFG_STATUS_OFFSET = 0x06;
export const VIRTIO_NET_S_LINK_UP = 1;
const NET_CFG_SIZE = 0x08;

/** Queue indices (5.1.2). */
export const NET_RX_QUEUE = 0;
export const NET_TX_QUEUE = 1;
/** struct virtio_net_hdr with num_buffers (VERSION_1 without MRG_RXBUF still has it). */
export const VIRTIO_NET_HDR_SIZE = 12;
const HDR_NUM_BUFFERS_OFFSET = 10;
const QUEUE_SIZE = 256;
/** Frames waiting for receive buffers before the newest are dropped. */
export const RX_BACKLOG_FRAMES = 256;

export interface VirtioNetOptions {
  memory: GuestMemory;
  backend: NetBackend;
  /** The card's MAC address (6 bytes). */
  mac: Uint8Array;
  /** A frame arrived from the backend (wake an idle machine so that it polls). */
  onFrameQueued?: () => void;
}

/** Counters, as a NIC's statistics. */
export interface VirtioNetStats {
  txFrames: number;
  txBytes: number;
  txErrors: number;
  rxFrames: number;
  rxBytes: number;
  rxDropped: number;
  rxErrors: number;
}

export interface VirtioNetState {
  linkUp: boolean;
}

export class VirtioNet implements VirtioDeviceModel {
  readonly name = 'virtio-net';
  readonly deviceType = VIRTIO_ID_NET;
  readonly classCode = PCI_CLASS_NETWORK_ETHERNET;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly features = [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS];
  readonly configSize = NET_CFG_SIZE;
  readonly mac: Uint8Array;
  readonly stats: VirtioNetStats = { txFrames: 0, txBytes: 0, txErrors: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0 };
  /** Called when the configuration changes (link status): the transport's configChanged. */
  onConfigChange: (() => void) | undefined;
  private linkUp = true;
  private readonly memory: GuestMemory;
  private readonly backend: NetBackend;
  private readonly onFrameQueued: (() => void) | undefined;
  /** Frames from the backend not yet in a guest buffer. */
  private backlog: Uint8Array[] = [];

  constructor(options: VirtioNetOptions) {
    if (options.mac.length !== ETH_ALEN) throw new RangeError('virtio-net: a MAC address has 6 bytes');
    this.memory = options.memory;
    this.backend = options.backend;
    this.mac = options.mac.slice();
    this.onFrameQueued = options.onFrameQueued;
    this.backend.onReceive((frame) => this.receive(frame));
  }

  /** Whether frames wait for the guest (the machine then polls the receive queue). */
  get hasPendingRx(): boolean {
    return this.backlog.length > 0 && this.linkUp;
  }

  /** Link status as the guest sees it; a change raises a configuration change interrupt. */
  get link(): boolean {
    return this.linkUp;
  }

  set link(up: boolean) {
    if (up === this.linkUp) return;
    this.linkUp = up;
    if (!up) this.backlog = [];
    this.onConfigChange?.();
  }

  readConfig(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.configByte(offset + i);
    return value >>> 0;
  }

  private configByte(at: number): number {
    if (at >= NET_CFG_MAC_OFFSET && at < NET_CFG_MAC_OFFSET + ETH_ALEN) return this.mac[at - NET_CFG_MAC_OFFSET]!;
    if (at === NET_CFG_STATUS_OFFSET) return this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    return 0;
  }

  // The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR (legacy drivers wrote it): writes are
  // ignored.

  /** A frame from the backend: queue it (bounded) and wake the machine. */
  private receive(frame: Uint8Array): void {
    if (!this.linkUp) return;
    if (frame.length < ETH_HEADER_SIZE || frame.length > ETH_MAX_FRAME || this.backlog.length >= RX_BACKLOG_FRAMES) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push(frame);
    this.onFrameQueued?.();
  }

  processQueue(index: number, queue: Virtqueue): void {
    if (index === NET_TX_QUEUE) this.transmit(queue);
    else if (index === NET_RX_QUEUE) this.fillReceive(queue);
  }

  /** Sends every available transmit chain (bounded: one pass over the ring). */
  private transmit(queue: Virtqueue): void {
    for (let n = 0; n < queue.size; n++) {
      const chain = queue.pop();
      if (!chain) return;
      const length = chainLength(chain, false) - VIRTIO_NET_HDR_SIZE;
      if (length < ETH_HEADER_SIZE || length > ETH_MAX_FRAME || !this.linkUp) {
        this.stats.txErrors++;
      } else {
        const frame = new Uint8Array(length);
        readChain(this.memory, chain, VIRTIO_NET_HDR_SIZE, frame);
        try {
          this.backend.send(frame);
          this.stats.txFrames++;
          this.stats.txBytes += length;
        } catch {
          this.stats.txErrors++;
        }
      }
      queue.push(chain.head, 0);
    }
  }

  /** Moves waiting frames into posted receive buffers while both last. */
  private fillReceive(queue: Virtqueue): void {
    const header = new Uint8Array(VIRTIO_NET_HDR_SIZE);
    header[HDR_NUM_BUFFERS_OFFSET] = 1;
    while (this.backlog.length > 0) {
      const chain = queue.pop();
      if (!chain) return;
      const frame = this.backlog.shift()!;
      if (chainLength(chain, true) < VIRTIO_NET_HDR_SIZE + frame.length) {
        this.stats.rxErrors++;
        queue.push(chain.head, 0);
        continue;
      }
      writeChain(this.memory, chain, 0, header);
      writeChain(this.memory, chain, VIRTIO_NET_HDR_SIZE, frame);
      queue.push(chain.head, VIRTIO_NET_HDR_SIZE + frame.length);
      this.stats.rxFrames++;
      this.stats.rxBytes += frame.length;
    }
  }

  reset(): void {
    // The backlog survives a driver reset only until the driver is ready again: drop it, as a
    // NIC's FIFO is cleared by a reset.
    this.backlog = [];
  }

  state(): VirtioNetState {
    return { linkUp: this.linkUp };
  }

  /** Restores the link status (the transport's fromState restores the rings). */
  restore(state: VirtioNetState): void {
    this.linkUp = state.linkUp === true;
  }
}
