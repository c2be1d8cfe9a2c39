/**
 * A learning Ethernet switch inside one process or page (IEEE 802.1D section 7.8, the filtering
 * database, reduced to its core): VMs get ports with `connect()`, other carriers (a
 * BroadcastChannel, a WebSocket) are plugged in as uplinks with `attach()`.
 *
 * Each frame's source MAC is learned on the port it came in; a unicast frame to a learned MAC
 * goes to that port only (and nowhere if that is the port it came from); broadcast, multicast
 * and unknown destinations are flooded to every other port. Delivery is synchronous: the
 * receiving NIC queues the frame and its machine takes it between CPU slices.
 *
 * Not supported: entry ageing (a MAC that moves is re-learned on its next frame), spanning
 * tree (do not build loops of switches), VLANs, port counters.
 */
import { ETH_HEADER_SIZE, isGroupDestination, macKey, type NetBackend } from './backend.ts';

interface Port {
  deliver: ((frame: Uint8Array) => void) | undefined;
  closed: boolean;
}

export class NetSwitch {
  private readonly ports = new Set<Port>();
  /** The filtering database: MAC (48-bit number) to the port it was last seen on. */
  private readonly table = new Map<number, Port>();
  /** Frames forwarded and flooded (tests and the UI read them). */
  forwarded = 0;
  flooded = 0;

  /** A new port for a NIC. */
  connect(): NetBackend {
    const port: Port = { deliver: undefined, closed: false };
    this.ports.add(port);
    return {
      send: (frame) => this.forward(port, frame),
      onReceive: (cb) => {
        port.deliver = cb;
      },
      close: () => this.remove(port),
    };
  }

  /** Plugs `uplink` into a new port: its incoming frames enter the switch, and it gets theirs. */
  attach(uplink: NetBackend): () => void {
    const port = this.connect();
    port.onReceive((frame) => uplink.send(frame));
    uplink.onReceive((frame) => port.send(frame));
    return () => port.close?.();
  }

  get portCount(): number {
    return this.ports.size;
  }

  private remove(port: Port): void {
    port.closed = true;
    this.ports.delete(port);
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
  }

  private forward(from: Port, frame: Uint8Array): void {
    if (from.closed || frame.length < ETH_HEADER_SIZE) return;
    const source = macKey(frame, 6);
    // Learn unicast sources only: a group address as source is invalid.
    if ((frame[6]! & 1) === 0) this.table.set(source, from);
    const to = isGroupDestination(frame) ? undefined : this.table.get(macKey(frame, 0));
    if (to) {
      if (to !== from) {
        this.forwarded++;
        deliver(to, frame);
      }
      return;
    }
    this.flooded++;
    for (const port of this.ports) if (port !== from) deliver(port, frame);
  }
}

/** Hands a frame to a port's receiver; a receiver that throws does not stop the others. */
function deliver(port: Port, frame: Uint8Array): void {
  try {
    port.deliver?.(frame);
  } catch {
    // a broken receiver loses this frame, as a cable unplugged
  }
}
