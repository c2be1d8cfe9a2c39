/**
 * Differential testing against the host CPU: the same instruction bytes from the same state run
 * natively (src/emu/testing/native.ts) and in the emulator (./user64.ts); registers, the
 * arithmetic flags (minus those the SDM leaves undefined), memory and faults must agree.
 */
import {
  NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, nativeDataWindow, runNative, type NativeCase, type NativeResult,
} from '../../testing/native.ts';
import { readFileSync } from 'node:fs';
import { Insn, decode } from '../decoder.ts';
import { formatInsn } from '../disasm.ts';
import { UserMachine, type EmulatedResult } from './user64.ts';
import type { X86UserState } from '../../testing/native.ts';

export interface DiffCase extends NativeCase {
  /** Human-readable description (disassembly), printed with a mismatch. */
  readonly what: string;
  /** RFLAGS bits to compare (default: CF PF AF ZF SF OF DF). */
  readonly flagMask?: number;
  /** x87 status-word bits to compare (default: all; e.g. mask condition codes the SDM leaves undefined). */
  readonly fswMask?: number;
  /**
   * x87 registers: compare ST(i) values within this many units in the last place of the 64-bit
   * significand (default 0: bit-exact). For results the SDM does not promise to be exact.
   */
  readonly stUlps?: number;
  /**
   * XMM registers: compare each 32-bit lane as a binary32 value within this many units in the
   * last place (default 0: bit-exact). For RCPPS/RSQRTPS, whose precision the SDM bounds only.
   */
  readonly xmmUlps32?: number;
}

const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** Compares one case; returns a description of the differences, or null. */
export function compare(c: DiffCase, native: NativeResult, emu: EmulatedResult): string | null {
  const diffs: string[] = [];
  const nf = native.fault;
  const ef = emu.fault;
  // The host kernel maps its own upper half, so a user access there reports a present page
  // (P = 1); in the emulator's test address space nothing is mapped there (P = 0).
  const pMask = nf && nf.vector === 14 && nf.address >= 0xffff_8000_0000_0000n ? ~1 : ~0;
  if ((nf === null) !== (ef === null) || (nf && ef && (nf.vector !== ef.vector || nf.ripOffset !== ef.ripOffset ||
    (nf.vector === 14 || nf.vector === 13 ? (nf.errorCode & pMask) !== (ef.errorCode & pMask) : false)))) {
    diffs.push(`fault: native ${nf ? `#${nf.vector}(${hex(nf.errorCode)}) at +${nf.ripOffset}` : 'none'}, ` +
      `emulator ${ef ? `#${ef.vector}(${hex(ef.errorCode)}) at +${ef.ripOffset}` : 'none'}`);
  }
  for (let r = 0; r < 16; r++) {
    const a = native.state.gpr[r]!;
    const b = emu.state.gpr[r]!;
    if (a !== b) diffs.push(`${REG_NAMES[r]}: native ${hex(a)}, emulator ${hex(b)}`);
  }
  const mask = BigInt(c.flagMask ?? 0xcd5);
  const fa = native.state.rflags & mask;
  const fb = emu.state.rflags & mask;
  if (fa !== fb) diffs.push(`rflags (mask ${hex(mask)}): native ${hex(fa)}, emulator ${hex(fb)}`);
  compareSimd(c, native.state, emu.state, diffs);
  const nd = nativeDataWindow(native.data);
  for (let i = 0; i < nd.length; i++) {
    if (nd[i] !== emu.data[i]) {
      diffs.push(`memory ${hex(NATIVE_DATA_ADDR + BigInt(i))}: native ${hex(nd[i]!)}, emulator ${hex(emu.data[i]!)}`);
      break;
    }
  }
  if (diffs.length === 0) return null;
  const bytes = Array.from(c.code, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const inputs = c.state.gpr.map((v, r) => `${REG_NAMES[r]}=${hex(v)}`).join(' ');
  return `${c.what} [${bytes}]\n  in: ${inputs} rflags=${hex(c.state.rflags)}\n  ${diffs.join('\n  ')}`;
}

const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).reverse().join('');

/** An 80-bit register image as a readable value: sign, exponent and significand. */
function fmt80(b: Uint8Array): string {
  const dv = new DataView(b.buffer, b.byteOffset, 10);
  return `${hex(dv.getUint16(8, true))}:${dv.getBigUint64(0, true).toString(16).padStart(16, '0')}`;
}

/** Distance in units of the last place between two 80-bit values of the same sign and exponent. */
function ulps80(a: Uint8Array, b: Uint8Array): bigint {
  const da = new DataView(a.buffer, a.byteOffset, 10);
  const db = new DataView(b.buffer, b.byteOffset, 10);
  // Finite values ordered like integers: the exponent above the 63 fraction bits (the explicit
  // integer bit left out, so that 1 - 2^-64 and 1.0 are one unit apart; denormals continue below).
  const key = (d: DataView) => {
    const se = BigInt(d.getUint16(8, true));
    const mag = ((se & 0x7fffn) << 63n) + (d.getBigUint64(0, true) & 0x7fff_ffff_ffff_ffffn);
    return se & 0x8000n ? -mag : mag;
  };
  const diff = key(da) - key(db);
  return diff < 0n ? -diff : diff;
}

/** Whether every binary32 lane of a and b is equal, or both finite of one sign within `ulps`. */
function lanesWithin(a: Uint8Array, b: Uint8Array, ulps: number): boolean {
  const da = new DataView(a.buffer, a.byteOffset, 16);
  const db = new DataView(b.buffer, b.byteOffset, 16);
  for (let i = 0; i < 16; i += 4) {
    const x = da.getUint32(i, true);
    const y = db.getUint32(i, true);
    if (x === y) continue;
    const finite = (v: number) => (v & 0x7f800000) !== 0x7f800000;
    if ((x ^ y) >>> 31 || !finite(x) || !finite(y) || Math.abs((x & 0x7fffffff) - (y & 0x7fffffff)) > ulps) return false;
  }
  return true;
}

/** XMM registers, MXCSR and the x87/MMX state. */
function compareSimd(c: DiffCase, n: X86UserState, e: X86UserState, diffs: string[]): void {
  for (let r = 0; r < 16; r++) {
    const a = n.xmm.subarray(r * 16, r * 16 + 16);
    const b = e.xmm.subarray(r * 16, r * 16 + 16);
    if (a.some((v, i) => v !== b[i]) && !(c.xmmUlps32 && lanesWithin(a, b, c.xmmUlps32))) {
      diffs.push(`xmm${r}: native ${hexBytes(a)}, emulator ${hexBytes(b)}`);
    }
  }
  if (n.mxcsr !== e.mxcsr) diffs.push(`mxcsr: native ${hex(n.mxcsr)}, emulator ${hex(e.mxcsr)}`);
  const nx = n.x87;
  const ex = e.x87;
  if (!nx || !ex) return;
  if (nx.fcw !== ex.fcw) diffs.push(`fcw: native ${hex(nx.fcw)}, emulator ${hex(ex.fcw)}`);
  const fswMask = c.fswMask ?? 0xffff;
  if ((nx.fsw & fswMask) !== (ex.fsw & fswMask)) {
    diffs.push(`fsw (mask ${hex(fswMask)}): native ${hex(nx.fsw & fswMask)}, emulator ${hex(ex.fsw & fswMask)}`);
  }
  if (nx.ftw !== ex.ftw) diffs.push(`ftw: native ${hex(nx.ftw)}, emulator ${hex(ex.ftw)}`);
  const top = (nx.fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    const a = nx.st.subarray(i * 10, i * 10 + 10);
    const b = ex.st.subarray(i * 10, i * 10 + 10);
    if (a.every((v, k) => v === b[k])) continue;
    // Tolerance applies to registers in use only (empty ones must hold the same stale bytes).
    const inUse = (nx.ftw >> ((top + i) & 7)) & 1;
    if (inUse && c.stUlps && ulps80(a, b) <= BigInt(c.stUlps)) continue;
    diffs.push(`st${i}: native ${fmt80(a)}, emulator ${fmt80(b)}`);
  }
}

/** Runs every case both ways; returns the mismatches (at most `limit`). */
export function differential(cases: readonly DiffCase[], limit = 20): string[] {
  const natives = runNative(cases);
  const machine = new UserMachine();
  const out: string[] = [];
  for (let i = 0; i < cases.length && out.length < limit; i++) {
    const m = compare(cases[i]!, natives[i]!, machine.run(cases[i]!));
    if (m) out.push(m);
  }
  return out;
}

/** A seeded generator of test values biased towards edges (0, ±1, sign boundaries, all ones). */
export class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.x = x;
    return x;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  /** A 64-bit value: random, or an edge value of a random width. */
  value(): bigint {
    const pick = this.below(8);
    if (pick < 4) return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
    const width = [8n, 16n, 32n, 64n][this.below(4)]!;
    const edges = [0n, 1n, (1n << width) - 1n, 1n << (width - 1n), (1n << (width - 1n)) - 1n, (1n << width) - 2n];
    const high = this.below(2) ? (BigInt(this.u32()) << 32n) | BigInt(this.u32()) : 0n;
    return ((high >> width) << width | edges[this.below(edges.length)]!) & 0xffff_ffff_ffff_ffffn;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.u32() & 0xff);
  }
}

/**
 * Whether the host is an AMD family 19h (Zen 3/4) CPU: the suites that also compare the flags
 * the SDM leaves undefined were proven on such a host and run only there.
 */
export function hostIsZen(): boolean {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^vendor_id\s*:\s*AuthenticAMD$/m.test(info) && /^cpu family\s*:\s*25$/m.test(info);
  } catch {
    return false;
  }
}

/** Intel-syntax text of the first instruction in `code`, as placed in the native code window. */
export function describeBytes(code: Uint8Array, bits: 16 | 32 | 64 = 64): string {
  const d = new Insn();
  decode(code, 0, code.length, bits, d);
  return formatInsn(d, NATIVE_CODE_ADDR);
}
