/**
 * Random-case setup of the `sse-int` fuzz family (test-only; see SIMD_SETUP in fuzz.ts): MMX,
 * SSE2, SSSE3, SSE4.1 and SSE4.2 integer instructions and the SSE float shuffles.
 *
 * Register and memory contents are drawn per 16-byte block from patterns that reach the edges
 * of these instructions: zero bytes at random places (the PCMPEQB/PMOVMSKB strlen idiom and
 * PCMPISTRx implicit lengths), saturation limits of bytes, words and dwords, shift counts
 * around the element widths (0, width - 1, width, huge), short text and tiny alphabets (so that
 * PCMPxSTRx find matches) and copies of other registers (equal elements). The x87 TOP and tags
 * are random (the MMX transition resets them); now and then an unmasked x87 exception is
 * pending (MMX forms raise #MF). Memory operands are 16-byte aligned half of the time, and
 * PCMPESTRx get small signed lengths in RAX/RDX.
 */
import { Insn, decode } from '../decoder.ts';
import type { Opcode } from '../opcode-table.ts';
import { describeBytes, type DiffCase, type Rng } from './differential.ts';

/** The mnemonics of the family (everything ops/sse-int.ts binds). */
export const SSE_INT_MNEMONICS: readonly string[] = [
  'pand', 'pandn', 'por', 'pxor', 'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq',
  'paddsb', 'paddsw', 'psubsb', 'psubsw', 'paddusb', 'paddusw', 'psubusb', 'psubusw',
  'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'psadbw', 'pavgb', 'pavgw',
  'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'psrlw', 'psraw', 'psllw', 'psrld', 'psrad', 'pslld', 'psrlq', 'psllq', 'psrldq', 'pslldq',
  'packsswb', 'packssdw', 'packuswb', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpcklqdq',
  'punpckhbw', 'punpckhwd', 'punpckhdq', 'punpckhqdq', 'pshufw', 'pshufd', 'pshufhw', 'pshuflw',
  'pmovmskb', 'pextrw', 'pinsrw', 'maskmovq', 'maskmovdqu',
  'shufps', 'shufpd', 'unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd',
  'pshufb', 'palignr', 'phaddw', 'phaddd', 'phaddsw', 'phsubw', 'phsubd', 'phsubsw', 'pmaddubsw', 'pmulhrsw',
  'psignb', 'psignw', 'psignd', 'pabsb', 'pabsw', 'pabsd',
  'pminsb', 'pminsd', 'pminuw', 'pminud', 'pmaxsb', 'pmaxsd', 'pmaxuw', 'pmaxud', 'pmulld', 'pmuldq',
  'pcmpeqq', 'pcmpgtq', 'packusdw', 'phminposuw', 'mpsadbw', 'pblendw', 'pblendvb', 'insertps', 'extractps',
  'movntdqa', 'pmovsxbw', 'pmovsxbd', 'pmovsxbq', 'pmovsxwd', 'pmovsxwq', 'pmovsxdq',
  'pmovzxbw', 'pmovzxbd', 'pmovzxbq', 'pmovzxwd', 'pmovzxwq', 'pmovzxdq',
  'pextrb', 'pextrd', 'pinsrb', 'pinsrd', 'ptest', 'pcmpestri', 'pcmpestrm', 'pcmpistri', 'pcmpistrm', 'crc32',
];

const EDGE_BYTES = [0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const EDGE_WORDS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
const EDGE_DWORDS = [0, 1, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xffff8000, 0xffffffff];
const SHIFT_COUNTS = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 0x10000];
const TEXT = 'abcxyzAZ09 -_az';

type MutableCase = { -readonly [K in keyof DiffCase]: DiffCase[K] };

/** Fills `b` (8 or 16 bytes) with one of the patterns of the file comment (keeps it random for 0). */
function pattern(rng: Rng, b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  switch (rng.below(9)) {
    case 0:
      break;
    case 1: // zero bytes at random places
      for (let i = 0; i < b.length; i++) if (rng.below(4) === 0) b[i] = 0;
      break;
    case 2:
      for (let i = 0; i < b.length; i++) b[i] = EDGE_BYTES[rng.below(EDGE_BYTES.length)]!;
      break;
    case 3:
      for (let i = 0; i < b.length; i += 2) dv.setUint16(i, EDGE_WORDS[rng.below(EDGE_WORDS.length)]!, true);
      break;
    case 4:
      for (let i = 0; i < b.length; i += 4) dv.setUint32(i, EDGE_DWORDS[rng.below(EDGE_DWORDS.length)]!, true);
      break;
    case 5: { // a shift count in the low quadword
      const n = SHIFT_COUNTS[rng.below(SHIFT_COUNTS.length)]!;
      dv.setUint32(0, n, true);
      dv.setUint32(4, rng.below(8) === 0 ? 1 : 0, true);
      break;
    }
    case 6: // text, maybe ended by a zero byte
      for (let i = 0; i < b.length; i++) b[i] = TEXT.charCodeAt(rng.below(TEXT.length));
      if (rng.below(2)) b.fill(0, rng.below(b.length));
      break;
    case 7: // a tiny alphabet: many equal elements
      for (let i = 0; i < b.length; i++) b[i] = rng.below(3);
      break;
    default: // words from a tiny alphabet (PCMPxSTRx word formats)
      for (let i = 0; i < b.length; i += 2) dv.setUint16(i, rng.below(3) === 0 ? 0 : 0x4100 + rng.below(2), true);
  }
}

/** The SIMD_SETUP hook of the family. */
export function sseIntSetup(rng: Rng, op: Opcode, c: MutableCase): void {
  const xmm = c.state.xmm;
  for (let r = 0; r < 16; r++) pattern(rng, xmm.subarray(r * 16, r * 16 + 16));
  // Equal registers now and then (PCMPEQ*, PCMPxSTRx equal each).
  for (let k = rng.below(4); k > 0; k--) {
    const to = rng.below(16) * 16;
    const from = rng.below(16) * 16;
    xmm.set(xmm.slice(from, from + 16), to);
  }
  const x87 = c.state.x87!;
  for (let i = 0; i < 8; i++) pattern(rng, x87.st.subarray(i * 10, i * 10 + 8));
  x87.fsw = rng.below(8) << 11;
  x87.ftw = rng.u32() & 0xff;
  if (rng.below(32) === 0) {
    // An unmasked invalid-operation exception pending (ES and B set, IM clear).
    x87.fcw = 0x37e;
    x87.fsw |= 0x8081;
  }
  const data = new Uint8Array(c.data);
  for (let at = 0x400; at < 0x500; at += 16) pattern(rng, data.subarray(at, at + 16));
  c.data = data;
  const gpr = [...c.state.gpr];
  if (op.mnemonic === 'pcmpestri' || op.mnemonic === 'pcmpestrm') {
    for (const r of [0, 2]) {
      const pick = rng.below(8);
      gpr[r] = pick < 6 ? BigInt.asUintN(64, BigInt(rng.below(41) - 20)) : pick === 6 ? 0x8000_0000n : (1n << 32n) + 3n;
    }
  }
  if (op.mnemonic === 'maskmovq' || op.mnemonic === 'maskmovdqu') gpr[7] = gpr[7]! + BigInt(rng.below(64));
  c.state = { ...c.state, gpr };
  // Align a [rdi + disp8] operand to 16 bytes half of the time.
  const d = new Insn();
  decode(c.code, 0, c.code.length, c.bits === 32 ? 32 : 64, d);
  if (d.isMemory && rng.below(2)) {
    const code = new Uint8Array(c.code);
    const at = code.length - 1 - op.immediates.length;
    code[at] = code[at]! & 0x70;
    c.code = code;
    c.what = `${op.encoding} (${op.mnemonic}${c.bits === 32 ? ', 32-bit' : ''}): ${describeBytes(code, c.bits === 32 ? 32 : 64)}`;
  }
}
