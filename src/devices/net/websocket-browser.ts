/**
 * Ethernet frames over a WebSocket in the browser (or any runtime with a WHATWG WebSocket):
 * one binary message per frame, both ways, as ./websocket-node.ts does in Node and as the relay
 * (./relay.ts) expects.
 *
 * Not supported: reconnecting (frames sent while the socket is not open are dropped and
 * counted), text messages (ignored).
 */
import { ETH_HEADER_SIZE, ETH_MAX_FRAME, type NetBackend } from './backend.ts';

export class BrowserWebSocketNet implements NetBackend {
  readonly ready: Promise<void>;
  dropped = 0;
  private readonly socket: WebSocket;
  private receiver: ((frame: Uint8Array) => void) | undefined;

  constructor(readonly url: string) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = 'arraybuffer';
    this.ready = new Promise((resolve, reject) => {
      this.socket.addEventListener('open', () => resolve(), { once: true });
      this.socket.addEventListener('error', () => reject(new Error(`${url}: WebSocket error`)), { once: true });
    });
    this.ready.catch(() => {});
    this.socket.addEventListener('message', (e: MessageEvent) => {
      const data: unknown = e.data;
      if (data instanceof ArrayBuffer && data.byteLength >= ETH_HEADER_SIZE && data.byteLength <= ETH_MAX_FRAME) {
        this.receiver?.(new Uint8Array(data));
      }
    });
  }

  send(frame: Uint8Array): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.dropped++;
      return;
    }
    this.socket.send(frame.slice()); // a copy over a plain ArrayBuffer (not shared memory)
  }

  onReceive(cb: (frame: Uint8Array) => void): void {
    this.receiver = cb;
  }

  close(): void {
    this.socket.close(1000);
  }
}
