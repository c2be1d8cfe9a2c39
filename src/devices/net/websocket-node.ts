/**
 * Ethernet frames over a WebSocket, Node side (Node 20 has no global WebSocket): a minimal
 * RFC 6455 client over node:http's upgrade. The opening handshake (section 4.1): GET with
 * Upgrade: websocket, a random 16-byte Sec-WebSocket-Key, version 13; the answer must be 101
 * with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). Then each binary message is one
 * Ethernet frame, both ways; pings are answered, a close is answered and ends the connection.
 *
 * Node-only (node: imports): the browser uses ./websocket-browser.ts.
 *
 * Not supported: wss:// (TLS), proxies, subprotocols, extensions, reconnecting after the
 * relay goes away (frames sent while not connected are dropped and counted).
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { ETH_HEADER_SIZE, ETH_MAX_FRAME, type NetBackend } from './backend.ts';
import {
  encodeFrame, WS_ACCEPT_GUID, WS_OPCODE_BINARY, WS_OPCODE_CLOSE, WS_OPCODE_PING, WS_OPCODE_PONG, WsDecoder,
} from './websocket-frames.ts';

/** The Sec-WebSocket-Accept value for `key` (RFC 6455 section 4.2.2 item 5.4). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WS_ACCEPT_GUID).digest('base64');
}

export class NodeWebSocketNet implements NetBackend {
  /** Resolves once the handshake is done; rejects if it fails. */
  readonly ready: Promise<void>;
  /** Frames dropped because the socket was not open. */
  dropped = 0;
  private socket: Socket | undefined;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private closed = false;

  constructor(readonly url: string) {
    const u = new URL(url);
    if (u.protocol !== 'ws:') throw new Error(`unsupported WebSocket URL ${url} (only ws://)`);
    const key = randomBytes(16).toString('base64');
    this.ready = new Promise((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: u.port || 80,
        path: `${u.pathname}${u.search}`,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
      });
      req.on('upgrade', (res, socket, head) => {
        if (res.headers['sec-websocket-accept'] !== websocketAccept(key)) {
          socket.destroy();
          reject(new Error(`${url}: bad Sec-WebSocket-Accept`));
          return;
        }
        this.open(socket, head);
        resolve();
      });
      req.on('response', (res) => {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode} instead of 101 Switching Protocols`));
      });
      req.on('error', reject);
      req.end();
    });
    // A failed handshake is reported through `ready`; never as an unhandled rejection.
    this.ready.catch(() => {});
  }

  private open(socket: Socket, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new WsDecoder(false, ETH_MAX_FRAME + 1024);
    const onData = (chunk: Uint8Array) => {
      try {
        for (const m of decoder.push(chunk)) {
          if (m.opcode === WS_OPCODE_BINARY) {
            if (m.payload.length >= ETH_HEADER_SIZE && m.payload.length <= ETH_MAX_FRAME) this.receiver?.(m.payload);
          } else if (m.opcode === WS_OPCODE_PING) socket.write(encodeFrame(WS_OPCODE_PONG, m.payload, true));
          else if (m.opcode === WS_OPCODE_CLOSE) this.close();
        }
      } catch {
        this.close(); // a protocol error: drop the connection
      }
    };
    socket.on('data', onData);
    socket.on('error', () => this.close());
    socket.on('close', () => {
      this.socket = undefined;
    });
    if (head.length > 0) onData(head);
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.closed;
  }

  send(frame: Uint8Array): void {
    const s = this.socket;
    if (!s || this.closed || s.destroyed) {
      this.dropped++;
      return;
    }
    s.write(encodeFrame(WS_OPCODE_BINARY, frame, true));
  }

  onReceive(cb: (frame: Uint8Array) => void): void {
    this.receiver = cb;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) s.end(encodeFrame(WS_OPCODE_CLOSE, Uint8Array.of(0x03, 0xe8), true)); // 1000: normal
  }
}
