/**
 * The host side of a virtual network card: a `NetBackend` carries whole Ethernet frames
 * (destination MAC, source MAC, EtherType, payload; no preamble, no FCS) between a NIC and
 * whatever it is plugged into (a switch port, a BroadcastChannel, a WebSocket relay).
 *
 * Frames are delivered asynchronously or synchronously, in order; a backend may drop frames
 * (Ethernet is lossy) but never throws into the device that sends.
 *
 * Not supported: flow control (back-pressure), link status reporting from the backend.
 */

/** Ethernet II header: destination (6), source (6), EtherType (2). */
export const ETH_HEADER_SIZE = 14;
export const ETH_ALEN = 6;
/** The largest frame any backend carries: 64 KiB (GSO is not offered, so 1518 in practice). */
export const ETH_MAX_FRAME = 65535;

export interface NetBackend {
  /** Sends one frame. The backend may keep `frame`; the caller must not change it afterwards. */
  send(frame: Uint8Array): void;
  /** Sets the one receiver of incoming frames (a later call replaces it: a NIC after a reset). */
  onReceive(cb: (frame: Uint8Array) => void): void;
  /** Releases the backend (sockets, channels). */
  close?(): void;
}

/** A MAC address as "52:54:00:12:34:56". */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, ETH_ALEN), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parses "52:54:00:12:34:56" (or with dashes); undefined when malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== ETH_ALEN || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/**
 * A random locally administered unicast MAC with QEMU's 52:54:00 prefix (bit 1 of the first
 * byte set: locally administered; bit 0 clear: unicast).
 */
export function randomMac(): Uint8Array {
  const mac = Uint8Array.of(0x52, 0x54, 0x00, 0, 0, 0);
  crypto.getRandomValues(mac.subarray(3));
  return mac;
}

/** Whether the frame's destination is a group address (broadcast or multicast: I/G bit). */
export function isGroupDestination(frame: Uint8Array): boolean {
  return ((frame[0] ?? 0) & 1) === 1;
}

/** The 48-bit MAC at `offset` as a number (a map key). */
export function macKey(frame: Uint8Array, offset: number): number {
  let v = 0;
  for (let i = 0; i < ETH_ALEN; i++) v = v * 256 + (frame[offset + i] ?? 0);
  return v;
}

/** The "none" backend: a NIC with its link up and nothing on the other end (frames are dropped). */
export class NullNet implements NetBackend {
  dropped = 0;
  send(): void {
    this.dropped++;
  }
  onReceive(): void {}
}
