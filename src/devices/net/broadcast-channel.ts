/**
 * Ethernet over a BroadcastChannel (HTML Living Standard, "Broadcasting to other browsing
 * contexts"): every frame sent goes to every other BroadcastChannel object of the same name in
 * this origin (other tabs, workers, and in Node >= 18 other objects in the process). It acts as
 * a hub: plug it into a NetSwitch (`switch.attach(new BroadcastChannelNet('lan'))`) to join a
 * page's VMs to the VMs of other tabs.
 *
 * Frames travel as ArrayBuffers (one per message). BroadcastChannel.postMessage has no transfer
 * list, so each frame is structured-cloned (copied once per receiving context).
 *
 * Not supported: cross-origin delivery, ordering between different senders, flow control.
 */
import { ETH_HEADER_SIZE, ETH_MAX_FRAME, type NetBackend } from './backend.ts';

export class BroadcastChannelNet implements NetBackend {
  private readonly channel: BroadcastChannel;
  private receiver: ((frame: Uint8Array) => void) | undefined;

  constructor(readonly name: string) {
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (e: MessageEvent) => {
      const data: unknown = e.data;
      if (!(data instanceof ArrayBuffer) || data.byteLength < ETH_HEADER_SIZE || data.byteLength > ETH_MAX_FRAME) return;
      this.receiver?.(new Uint8Array(data));
    };
  }

  send(frame: Uint8Array): void {
    // A copy of exactly the frame's bytes (the frame may be a view into a larger buffer).
    this.channel.postMessage(frame.slice().buffer);
  }

  onReceive(cb: (frame: Uint8Array) => void): void {
    this.receiver = cb;
  }

  close(): void {
    this.channel.close();
  }
}
