import { describe, expect, it } from 'vitest';
import { encodeFrame, WS_OPCODE_BINARY, WS_OPCODE_CONTINUATION, WS_OPCODE_PING, WsDecoder, WsProtocolError } from './websocket-frames.ts';

describe('WebSocket framing (RFC 6455 section 5)', () => {
  it('round-trips masked and unmasked frames of the three length forms, split at every byte', () => {
    for (const n of [0, 125, 126, 1514, 65535, 65536]) {
      const payload = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      for (const mask of [false, true]) {
        const wire = encodeFrame(WS_OPCODE_BINARY, payload, mask);
        expect(wire[1]! & 0x7f).toBe(n < 126 ? n : n < 65536 ? 126 : 127);
        const d = new WsDecoder(mask);
        const got = [];
        const step = n > 2000 ? 997 : 1;
        for (let i = 0; i < wire.length; i += step) got.push(...d.push(wire.subarray(i, i + step)));
        expect(got).toEqual([{ opcode: WS_OPCODE_BINARY, payload }]);
      }
    }
  });

  it('matches RFC 6455 section 5.7 examples ("Hello", unmasked and masked with 37 fa 21 3d)', () => {
    const d = new WsDecoder(false);
    expect(d.push(Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f))[0]!.payload).toEqual(new TextEncoder().encode('Hello'));
    const m = new WsDecoder(true);
    const msg = m.push(Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
    expect(new TextDecoder().decode(msg[0]!.payload)).toBe('Hello');
  });

  it('reassembles fragments with a ping between them', () => {
    const d = new WsDecoder(false);
    const first = Uint8Array.of(0x02, 0x02, 1, 2); // binary, FIN clear
    const ping = encodeFrame(WS_OPCODE_PING, Uint8Array.of(9), false);
    const last = Uint8Array.of(0x80 | WS_OPCODE_CONTINUATION, 0x01, 3);
    expect(d.push(first)).toEqual([]);
    const out = d.push(new Uint8Array([...ping, ...last]));
    expect(out).toEqual([{ opcode: WS_OPCODE_PING, payload: Uint8Array.of(9) }, { opcode: WS_OPCODE_BINARY, payload: Uint8Array.of(1, 2, 3) }]);
  });

  it('rejects unmasked client frames, RSV bits, oversized and stray continuation frames', () => {
    expect(() => new WsDecoder(true).push(encodeFrame(WS_OPCODE_BINARY, Uint8Array.of(1), false))).toThrow(WsProtocolError);
    expect(() => new WsDecoder(false).push(Uint8Array.of(0xc2, 0))).toThrow(/reserved bits/);
    expect(() => new WsDecoder(false, 100).push(encodeFrame(WS_OPCODE_BINARY, new Uint8Array(101), false))).toThrow(/exceeds/);
    expect(() => new WsDecoder(false).push(Uint8Array.of(0x80, 0))).toThrow(/continuation/);
    expect(() => new WsDecoder(false).push(Uint8Array.of(0x83, 0))).toThrow(/reserved opcode/);
  });
});
