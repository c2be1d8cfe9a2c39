/**
 * Intel-syntax text for a decoded instruction, for traces, the `disasm` tool and test output.
 * Close to objdump's `-M intel` style, but it is for people: it is not parsed by anything.
 */
import {
  BASE_RIP, DECODE_NEED_MORE, DECODE_TOO_LONG, Insn, PREFIX_LOCK, PREFIX_REP, PREFIX_REPNE, VEX_EVEX, VEX_NONE,
  VEX_VEX, decode,
} from './decoder.ts';
import { A, K, SZ, type Operand } from './opcode-table.ts';

const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const R8_REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const R8_LEGACY = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const PTR: Record<number, string> = { 1: 'byte', 2: 'word', 4: 'dword', 8: 'qword', 10: 'tbyte', 16: 'xmmword' };

function hex(value: bigint | number): string {
  const v = typeof value === 'bigint' ? value : BigInt(value);
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/** Bytes of an operand of size code `size` for this instruction (0 when it has no fixed size). */
function operandBytes(d: Insn, size: number): number {
  switch (size) {
    case SZ.B: return 1;
    case SZ.W: return 2;
    case SZ.D: return 4;
    case SZ.Q: return 8;
    case SZ.V: return d.opsize;
    case SZ.Z: return d.opsize === 2 ? 2 : 4;
    case SZ.Y: return d.opsize === 8 ? 8 : 4;
    case SZ.DQ: return 16;
    case SZ.T: return 10;
    default: return 0;
  }
}

export function gprName(reg: number, bytes: number, hasRex: boolean): string {
  switch (bytes) {
    case 1: return hasRex ? R8_REX[reg]! : R8_LEGACY[reg] ?? R8_REX[reg]!;
    case 2: return R16[reg]!;
    case 4: return R32[reg]!;
    default: return R64[reg]!;
  }
}

function memory(d: Insn, bytes: number, next: bigint): string {
  const parts: string[] = [];
  const abytes = d.adsize;
  if (d.base === BASE_RIP) parts.push(abytes === 4 ? 'eip' : 'rip');
  else if (d.base >= 0) parts.push(gprName(d.base, abytes, true));
  if (d.index >= 0) parts.push(`${gprName(d.index, abytes, true)}*${1 << d.scale}`);
  let text = parts.join('+');
  if (d.disp !== 0 || parts.length === 0) {
    if (parts.length === 0) text = hex(BigInt.asUintN(abytes * 8, BigInt(d.disp)));
    else text += d.disp < 0 ? `-${hex(-d.disp)}` : `+${hex(d.disp)}`;
  }
  const seg = d.seg >= 0 ? `${SEGS[d.seg]}:` : '';
  const ptr = PTR[bytes] ? `${PTR[bytes]} ptr ` : '';
  const target = d.base === BASE_RIP ? `  # ${hex(BigInt.asUintN(64, next + BigInt(d.disp)))}` : '';
  return `${ptr}${seg}[${text}]${target}`;
}

function operandText(d: Insn, o: Operand, next: bigint, immIndex: number): string {
  const hasRex = d.rex !== 0;
  const bytes = operandBytes(d, o.size);
  switch (o.kind) {
    case K.E: case K.M: case K.W: case K.Q:
      if (d.mod === 3) {
        if (o.kind === K.W) return `xmm${d.rm}`;
        if (o.kind === K.Q) return `mm${d.rm & 7}`;
        return gprName(d.rm, bytes || d.opsize, hasRex);
      }
      return memory(d, bytes, next);
    case K.G: return gprName(d.reg, bytes, hasRex);
    case K.R: return gprName(d.rm, bytes, hasRex);
    case K.Z: return gprName((d.opcode & 7) | ((d.rex & 1) << 3), bytes, hasRex);
    case K.V: return `xmm${d.reg}`;
    case K.U: return `xmm${d.rm}`;
    case K.P: return `mm${d.reg & 7}`;
    case K.N: return `mm${d.rm & 7}`;
    case K.S: return SEGS[d.reg & 7] ?? `seg${d.reg & 7}`;
    case K.C: return `cr${d.reg}`;
    case K.D: return `dr${d.reg}`;
    case K.T: return `tr${d.reg & 7}`;
    case K.FIXED: return gprName(o.reg, bytes, false);
    case K.SEG: return SEGS[o.reg]!;
    case K.ONE: return '1';
    case K.ST: return 'st';
    case K.STI: return `st(${d.rm & 7})`;
    case K.XMM0: return 'xmm0';
    case K.X: return `${PTR[bytes] ?? ''} ptr ${d.seg >= 0 ? SEGS[d.seg] : 'ds'}:[${gprName(6, d.adsize, true)}]`;
    case K.Y: return `${PTR[bytes] ?? ''} ptr es:[${gprName(7, d.adsize, true)}]`;
    case K.O: {
      const addr = BigInt.asUintN(d.adsize * 8, (BigInt(d.immHi) << 32n) | BigInt(d.imm >>> 0));
      return `${PTR[bytes] ?? ''} ptr ${d.seg >= 0 ? SEGS[d.seg] : 'ds'}:${hex(addr)}`;
    }
    case K.A: return `${hex(d.imm2)}:${hex(d.imm >>> 0)}`;
    case K.J: return hex(BigInt.asUintN(d.mode === 64 ? 64 : d.opsize * 8, next + BigInt(d.imm)));
    case K.I: {
      const value = immIndex === 0 ? d.imm : d.imm2;
      if (bytes === 8) return hex(BigInt.asUintN(64, (BigInt(d.immHi) << 32n) | BigInt(d.imm >>> 0)));
      // An imm8 used with a wider operand is sign-extended to it (e.g. 83 /0, 6A).
      const width = o.size === SZ.B ? operandBytes(d, SZ.V) : bytes || 1;
      const shown = o.size === SZ.B && d.op && d.op.operands.some((x) => x.size === SZ.B && x !== o) ? 1 : width;
      return hex(BigInt.asUintN(Math.min(shown, 8) * 8, BigInt(value)));
    }
    default: return '?';
  }
}

function mnemonicFor(d: Insn): string {
  const op = d.op!;
  let m = op.mnemonic;
  const sizeSuffix = { 1: 'b', 2: 'w', 4: 'd', 8: 'q' } as Record<number, string>;
  switch (m) {
    case 'cbw': m = { 2: 'cbw', 4: 'cwde', 8: 'cdqe' }[d.opsize]!; break;
    case 'cwd': m = { 2: 'cwd', 4: 'cdq', 8: 'cqo' }[d.opsize]!; break;
    case 'jrcxz': m = { 2: 'jcxz', 4: 'jecxz', 8: 'jrcxz' }[d.adsize]!; break;
    case 'iret': m = { 2: 'iret', 4: 'iretd', 8: 'iretq' }[d.opsize]!; break;
    case 'pusha': case 'popa': case 'pushf': case 'popf':
      m += d.opsize === 2 ? '' : d.opsize === 4 ? 'd' : 'q';
      break;
    case 'movd': if (d.rex & 8) m = 'movq'; break;
    case 'pextrd': case 'pinsrd': if (d.rex & 8) m = m.slice(0, -1) + 'q'; break;
    case 'cmpxchg8b': if (d.rex & 8) m = 'cmpxchg16b'; break;
    case 'nop':
      if (d.opcode === 0x90 && d.map === 0) {
        if (d.prefixes & PREFIX_REP) m = 'pause';
        else if (d.rex & 1) return `xchg ${gprName(8, d.opsize, true)},${gprName(0, d.opsize, true)}`;
      }
      break;
    case 'movs': case 'cmps': case 'stos': case 'lods': case 'scas': case 'ins': case 'outs': {
      const bytes = op.operands.some((o) => o.size === SZ.B) ? 1 : op.operands.some((o) => o.size === SZ.Z) ? Math.min(d.opsize, 4) : d.opsize;
      m += sizeSuffix[bytes];
      break;
    }
  }
  return m;
}

/** Formats a decoded instruction at address `addr` (used for branch targets and RIP-relative). */
export function formatInsn(d: Insn, addr: bigint): string {
  if (d.status === DECODE_NEED_MORE) return '(truncated)';
  if (d.status === DECODE_TOO_LONG) return '(bad: longer than 15 bytes)';
  if (!d.op) {
    if (d.vex !== VEX_NONE) {
      const kind = d.vex === VEX_VEX ? 'vex' : d.vex === VEX_EVEX ? 'evex' : 'xop';
      return `(${kind} opcode ${hex(d.opcode)}: not supported)`;
    }
    return '(bad)';
  }
  const next = addr + BigInt(d.length);
  const prefixes: string[] = [];
  if (d.prefixes & PREFIX_LOCK) prefixes.push('lock');
  if (d.op.attrs & (A.REP | A.REPE)) {
    if (d.prefixes & PREFIX_REP) prefixes.push(d.op.attrs & A.REPE ? 'repe' : 'rep');
    if (d.prefixes & PREFIX_REPNE) prefixes.push('repne');
  }
  let imm = 0;
  const operands = d.op.operands.map((o) => {
    const text = operandText(d, o, next, o.kind === K.I ? imm : 0);
    if (o.kind === K.I) imm++;
    return text;
  });
  if (d.op.mnemonic === 'enter') operands[1] = hex(d.imm2 & 0xff);
  const m = mnemonicFor(d);
  if (m.includes(' ')) return [...prefixes, m].join(' ');
  const text = [...prefixes, m].join(' ');
  return operands.length ? `${text} ${operands.join(',')}` : text;
}

/** Decodes and formats one instruction; returns its length (at least 1) and text. */
export function disassembleOne(
  bytes: Uint8Array, offset: number, mode: 16 | 32 | 64, addr: bigint, d = new Insn(),
): { length: number; text: string } {
  decode(bytes, offset, bytes.length - offset, mode, d);
  if (d.status === DECODE_NEED_MORE) return { length: bytes.length - offset, text: '(truncated)' };
  return { length: Math.max(1, d.length), text: formatInsn(d, addr) };
}
