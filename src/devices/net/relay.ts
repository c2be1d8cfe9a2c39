/**
 * A tiny Ethernet relay for tests and local use: a WebSocket server (RFC 6455 section 4.2
 * handshake over node:http's upgrade) on 127.0.0.1 that forwards each binary message (one
 * Ethernet frame) to every other connected client, as a hub. `onFrame` lets a test see the
 * frames, and `inject` sends a frame to every client as if a station behind the relay had.
 *
 * Node-only (node: imports).
 *
 * Not supported: TLS, MAC learning (every frame reaches every other client), authentication,
 * subprotocols, extensions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ETH_MAX_FRAME } from './backend.ts';
import { encodeFrame, WS_OPCODE_BINARY, WS_OPCODE_CLOSE, WS_OPCODE_PING, WS_OPCODE_PONG, WsDecoder } from './websocket-frames.ts';
import { websocketAccept } from './websocket-node.ts';

export interface Relay {
  /** ws://127.0.0.1:PORT/ */
  readonly url: string;
  readonly clients: number;
  /** Called with every frame a client sent. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
  /** Sends `frame` to every client. */
  inject(frame: Uint8Array): void;
  close(): Promise<void>;
}

export function startRelay(options: { port?: number; host?: string } = {}): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' }).end('virtlite relay: connect with a WebSocket\n');
  });
  const broadcast = (from: Socket | undefined, frame: Uint8Array) => {
    const wire = encodeFrame(WS_OPCODE_BINARY, frame, false);
    for (const s of sockets) if (s !== from && !s.destroyed) s.write(wire);
  };
  const relay: Relay = {
    url: '',
    get clients() {
      return sockets.size;
    },
    onFrame: undefined,
    inject: (frame) => broadcast(undefined, frame),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept(key)}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    sockets.add(socket);
    const decoder = new WsDecoder(true, ETH_MAX_FRAME + 1024);
    const onData = (chunk: Uint8Array) => {
      try {
        for (const m of decoder.push(chunk)) {
          if (m.opcode === WS_OPCODE_BINARY) {
            relay.onFrame?.(m.payload);
            broadcast(socket, m.payload);
          } else if (m.opcode === WS_OPCODE_PING) socket.write(encodeFrame(WS_OPCODE_PONG, m.payload, false));
          else if (m.opcode === WS_OPCODE_CLOSE) socket.end(encodeFrame(WS_OPCODE_CLOSE, m.payload.subarray(0, 2), false));
        }
      } catch {
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    if (head.length > 0) onData(head);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const { address, port } = server.address() as AddressInfo;
      Object.assign(relay, { url: `ws://${address}:${port}/` });
      resolve(relay);
    });
  });
}
