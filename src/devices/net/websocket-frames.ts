/**
 * WebSocket framing, RFC 6455 section 5 (base framing protocol), for the Node WebSocket client
 * (./websocket-node.ts) and the test relay (./relay.ts). No `node:` imports: plain bytes.
 *
 *   byte 0: FIN (0x80), RSV1-3 (must be 0 without extensions), opcode (4 bits)
 *   byte 1: MASK (0x80), payload length 0-125, or 126 (16-bit length follows), or 127 (64-bit)
 *   then the 4-byte masking key when MASK is set (client to server frames must be masked, 5.3),
 *   then the payload.
 * Fragmented messages (FIN clear, continuation frames) are reassembled; control frames (close,
 * ping, pong) may come between fragments and are returned on their own (5.4, 5.5).
 *
 * Not supported: extensions (permessage-deflate: RSV bits set are a protocol error), messages
 * larger than `maxMessage` (a protocol error: the peer is closed), UTF-8 validation of text
 * messages (this project only exchanges binary messages).
 */

export const WS_OPCODE_CONTINUATION = 0x0;
export const WS_OPCODE_TEXT = 0x1;
export const WS_OPCODE_BINARY = 0x2;
export const WS_OPCODE_CLOSE = 0x8;
export const WS_OPCODE_PING = 0x9;
export const WS_OPCODE_PONG = 0xa;
const WS_FIN = 0x80;
const WS_RSV_MASK = 0x70;
const WS_MASK = 0x80;
/** The GUID the server appends to Sec-WebSocket-Key before hashing (RFC 6455 section 1.3). */
export const WS_ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsMessage {
  opcode: number;
  payload: Uint8Array;
}

/** One whole frame (FIN set) with `payload`, masked with a random key when `mask` is set. */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: boolean): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const head = 2 + lengthBytes + (mask ? 4 : 0);
  const out = new Uint8Array(head + n);
  out[0] = WS_FIN | (opcode & 0xf);
  out[1] = (mask ? WS_MASK : 0) | (n < 126 ? n : n < 0x10000 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(2, n);
  else if (lengthBytes === 8) {
    view.setUint32(2, Math.floor(n / 2 ** 32));
    view.setUint32(6, n >>> 0);
  }
  if (!mask) {
    out.set(payload, head);
    return out;
  }
  const key = out.subarray(head - 4, head);
  crypto.getRandomValues(key);
  for (let i = 0; i < n; i++) out[head + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/**
 * An incremental frame parser: feed bytes as they arrive, get whole messages back. Throws
 * `WsProtocolError` on a malformed stream (the caller closes the connection).
 */
export class WsDecoder {
  private buffer = new Uint8Array(0);
  private fragments: Uint8Array[] = [];
  private fragmentOpcode = 0;
  private fragmentBytes = 0;

  /** `requireMask`: the server side insists on masked frames (5.1). */
  constructor(
    private readonly requireMask: boolean,
    private readonly maxMessage = 1 << 20,
  ) {}

  push(chunk: Uint8Array): WsMessage[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const out: WsMessage[] = [];
    let at = 0;
    for (;;) {
      const frame = this.parseFrame(joined, at);
      if (!frame) break;
      at = frame.next;
      const message = this.assemble(frame.fin, frame.opcode, frame.payload);
      if (message) out.push(message);
    }
    this.buffer = joined.slice(at);
    return out;
  }

  private parseFrame(b: Uint8Array, at: number): { fin: boolean; opcode: number; payload: Uint8Array; next: number } | undefined {
    if (b.length - at < 2) return undefined;
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    if (b0 & WS_RSV_MASK) throw new WsProtocolError('reserved bits set (no extension was negotiated)');
    const masked = (b1 & WS_MASK) !== 0;
    if (masked !== this.requireMask) throw new WsProtocolError(masked ? 'masked frame from the server' : 'unmasked frame from a client');
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      if (b.length - p < 2) return undefined;
      length = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (length === 127) {
      if (b.length - p < 8) return undefined;
      const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      if (hi !== 0) throw new WsProtocolError('frame larger than 4 GiB');
      length = lo;
      p += 8;
    }
    if (length > this.maxMessage) throw new WsProtocolError(`frame of ${length} bytes exceeds ${this.maxMessage}`);
    const keyAt = p;
    if (masked) p += 4;
    if (b.length - p < length) return undefined;
    const payload = b.slice(p, p + length);
    if (masked) for (let i = 0; i < length; i++) payload[i]! ^= b[keyAt + (i & 3)]!;
    return { fin: (b0 & WS_FIN) !== 0, opcode: b0 & 0xf, payload, next: p + length };
  }

  private assemble(fin: boolean, opcode: number, payload: Uint8Array): WsMessage | undefined {
    if (opcode >= WS_OPCODE_CLOSE) {
      // Control frames: never fragmented, at most 125 bytes (5.5).
      if (!fin || payload.length > 125) throw new WsProtocolError('fragmented or oversized control frame');
      return { opcode, payload };
    }
    if (opcode === WS_OPCODE_CONTINUATION) {
      if (this.fragments.length === 0) throw new WsProtocolError('continuation without a message');
    } else {
      if (opcode !== WS_OPCODE_TEXT && opcode !== WS_OPCODE_BINARY) throw new WsProtocolError(`reserved opcode ${opcode}`);
      if (this.fragments.length > 0) throw new WsProtocolError('new message inside a fragmented one');
      this.fragmentOpcode = opcode;
      this.fragmentBytes = 0;
    }
    this.fragments.push(payload);
    this.fragmentBytes += payload.length;
    if (this.fragmentBytes > this.maxMessage) throw new WsProtocolError('message too large');
    if (!fin) return undefined;
    const whole = new Uint8Array(this.fragmentBytes);
    let at = 0;
    for (const f of this.fragments) {
      whole.set(f, at);
      at += f.length;
    }
    this.fragments = [];
    return { opcode: this.fragmentOpcode, payload: whole };
  }
}

export class WsProtocolError extends Error {
  override name = 'WsProtocolError';
}
