/**
 * Random instruction generator for differential fuzzing against the host CPU (test-only).
 * It walks the instruction table: every implemented entry that user-mode code can run the same
 * way on the host and in the emulator gets random encodings (operand-size prefixes, REX bits,
 * register or [rdi+disp8] operands, random immediates) and random edge-biased register values.
 *
 * With `bits` = 32 the cases are 32-bit code run in compatibility mode (NativeCase.bits): no REX
 * prefixes, entries valid only in 64-bit mode (o64) left out and the implemented entries that are
 * invalid in 64-bit mode (i64: INC/DEC 40+r, 82 /r, ...) included, operand size 32 or 16 (66),
 * memory operands [edi+disp8], relative branches with rel16 under 66 (which truncates EIP to 16
 * bits), moffs with 32-bit addresses.
 */
import { NATIVE_DATA_ADDR, type X86UserState } from '../../testing/native.ts';
import { unimplemented } from '../exec.ts';
import { A, K, MAP_0F, MAP_0F38, MAP_0F3A, MAP_1, PFX_66, PFX_ANY, PFX_F2, PFX_F3, SZ, type Opcode } from '../opcode-table.ts';
import { OPCODES } from '../opcodes.ts';
import { describeBytes, type DiffCase, type Rng } from './differential.ts';
import { SSE_INT_MNEMONICS, sseIntSetup } from './fuzz-sse-int.ts';
import { SSE_FLOAT_MNEMONICS, sseFloatSetup } from './fuzz-sse-float.ts';
import { X87_MNEMONICS, x87Setup } from './fuzz-x87.ts';

/** Instruction families and the mnemonics in them. */
export const FAMILIES: Record<string, readonly string[]> = {
  alu: ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'inc', 'dec', 'neg', 'not', 'test'],
  shift: ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar', 'shld', 'shrd'],
  muldiv: ['mul', 'imul', 'div', 'idiv'],
  bits: ['bt', 'bts', 'btr', 'btc', 'bsf', 'bsr', 'popcnt', 'cmpxchg', 'xadd', 'cmpxchg8b'],
  // (POPF pops random flags without TF, see popfStack: AC, NT and ID are compared too.)
  move: ['mov', 'movzx', 'movsx', 'movsxd', 'lea', 'xchg', 'cbw', 'cwd', 'bswap', 'push', 'pop', 'pushf', 'popf', 'leave'],
  control: ['jo', 'jno', 'jb', 'jae', 'je', 'jne', 'jbe', 'ja', 'js', 'jns', 'jp', 'jnp', 'jl', 'jge', 'jle', 'jg',
    'seto', 'setno', 'setb', 'setae', 'sete', 'setne', 'setbe', 'seta', 'sets', 'setns', 'setp', 'setnp', 'setl', 'setge',
    'setle', 'setg', 'cmovo', 'cmovno', 'cmovb', 'cmovae', 'cmove', 'cmovne', 'cmovbe', 'cmova', 'cmovs', 'cmovns',
    'cmovp', 'cmovnp', 'cmovl', 'cmovge', 'cmovle', 'cmovg', 'clc', 'stc', 'cmc', 'cld', 'std', 'lahf', 'sahf', 'loop',
    'loope', 'loopne', 'jrcxz', 'jmp', 'call', 'ret', 'nop'],
  string: ['movs', 'cmps', 'stos', 'lods', 'scas'],
  // (most of these exist only outside 64-bit mode: fuzz them with --bits 32)
  legacy: ['daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'salc', 'pusha', 'popa', 'arpl', 'xlat', 'enter', 'bound'],
  'sse-move': ['movups', 'movupd', 'movdqu', 'lddqu', 'movaps', 'movapd', 'movdqa', 'movntps', 'movntpd', 'movntdq',
    'movss', 'movsd', 'movlps', 'movlpd', 'movhps', 'movhpd', 'movhlps', 'movlhps', 'movd', 'movq', 'movntq', 'movq2dq',
    'movdq2q', 'movnti', 'movmskps', 'movmskpd', 'andps', 'andpd', 'andnps', 'andnpd', 'orps', 'orpd', 'xorps', 'xorpd',
    'emms', 'ldmxcsr', 'stmxcsr'],
  'sse-int': SSE_INT_MNEMONICS,
  'sse-float': SSE_FLOAT_MNEMONICS,
  x87: X87_MNEMONICS,
};

/**
 * SIMD families: how to set up the XMM/MMX/x87/MXCSR part of a random case (the default fills
 * XMM0-15 and the eight x87/MMX registers with random and edge bytes, TOP = 0, all tags valid).
 * A family may also adjust the case (e.g. `fswMask`, `stUlps`, `flagMask`).
 */
export const SIMD_SETUP: Record<string, (rng: Rng, op: Opcode, c: { -readonly [K in keyof DiffCase]: DiffCase[K] }) => void> = {
  // Moves and logic: the default random registers are all they need.
  'sse-move': () => {},
  'sse-int': sseIntSetup,
  'sse-float': sseFloatSetup,
  x87: x87Setup,
};

/** Random register contents for SIMD cases (see SIMD_SETUP). */
export function randomSimdState(rng: Rng, state: X86UserState): void {
  const xmm = new Uint8Array(256);
  const dv = new DataView(xmm.buffer);
  for (let i = 0; i < 32; i++) dv.setBigUint64(i * 8, rng.value(), true);
  state.xmm = xmm;
  const st = new Uint8Array(80);
  const sv = new DataView(st.buffer);
  for (let i = 0; i < 8; i++) {
    sv.setBigUint64(i * 10, rng.value(), true);
    sv.setUint16(i * 10 + 8, rng.below(2) ? 0xffff : rng.u32() & 0xffff, true);
  }
  state.x87 = { fcw: 0x37f, fsw: 0, ftw: 0xff, st };
}

/** The family a mnemonic belongs to. */
function familyOf(mnemonic: string): string | undefined {
  for (const [family, names] of Object.entries(FAMILIES)) if (names.includes(mnemonic)) return family;
  return undefined;
}

/** Applies the SIMD setup of the op's family to a fresh case, if it has one. */
function simdSetup(rng: Rng, op: Opcode, c: DiffCase): DiffCase {
  const family = familyOf(op.mnemonic);
  const setup = family === undefined ? undefined : SIMD_SETUP[family];
  if (!setup) return c;
  const m = { ...c, state: { ...c.state } };
  randomSimdState(rng, m.state);
  setup(rng, op, m);
  return m;
}

/** Flags the SDM leaves undefined after each mnemonic (masked in the comparison). */
const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
function undefinedFlags(m: string): number {
  if (['and', 'or', 'xor', 'test'].includes(m)) return AF;
  if (['daa', 'das'].includes(m)) return OF;
  if (['aaa', 'aas'].includes(m)) return OF | SF | ZF | PF;
  if (['aam', 'aad'].includes(m)) return OF | AF | CF;
  if (['mul', 'imul'].includes(m)) return SF | ZF | AF | PF;
  if (['div', 'idiv'].includes(m)) return CF | PF | AF | ZF | SF | OF;
  if (FAMILIES.shift!.includes(m)) return OF | AF;
  if (['bt', 'bts', 'btr', 'btc'].includes(m)) return PF | AF | ZF | SF | OF;
  if (['bsf', 'bsr'].includes(m)) return CF | PF | AF | SF | OF;
  return 0;
}

const STACK = NATIVE_DATA_ADDR + 0x8000n;
/** 'inc eax' instructions after a branch (its targets). */
const FILLER = 6;
const DATA_PTR = NATIVE_DATA_ADDR + 0x400n;

/**
 * Entries of a family that the fuzzer can run (implemented, valid in 64-bit user mode, or with
 * `bits` = 32 valid in 32-bit user mode).
 */
export function fuzzableEntries(family: string, bits: 32 | 64 = 64): Opcode[] {
  const names = FAMILIES[family];
  if (!names) throw new Error(`unknown family ${family}; known: ${Object.keys(FAMILIES).join(', ')}`);
  const missing = new Set(unimplemented());
  const invalid = bits === 64 ? A.I64 : A.O64;
  return OPCODES.all.filter((op) =>
    names.includes(op.mnemonic) && !missing.has(op) && (op.attrs & (invalid | A.NO_IMPL | A.PRIV)) === 0 &&
    (op.map === MAP_1 || op.map === MAP_0F || op.map === MAP_0F38 || op.map === MAP_0F3A) &&
    !op.operands.some((o) => o.kind === K.S || o.kind === K.SEG || (o.kind === K.E && o.size === SZ.NONE)) &&
    !(op.mnemonic === 'jmp' || op.mnemonic === 'call' ? op.operands[0]?.kind !== K.J : false) &&
    !((op.mnemonic === 'shld' || op.mnemonic === 'shrd')));
}

/**
 * A random encoding of `op` with random inputs, as 64-bit code or (`bits` = 32) as 32-bit code
 * for compatibility mode. The 64-bit cases do not depend on the parameter's existence (the same
 * seed gives the same cases as before it was added).
 */
export function randomCase(rng: Rng, op: Opcode, bits: 32 | 64 = 64): DiffCase {
  if (bits === 32) return randomCase32(rng, op);
  const bytes: number[] = [];
  const sse = op.prefix !== PFX_ANY;
  if (op.prefix === PFX_66) bytes.push(0x66);
  else if (op.prefix === PFX_F3) bytes.push(0xf3);
  else if (op.prefix === PFX_F2) bytes.push(0xf2);
  // 66 on near branches is vendor-specific (Intel ignores it, AMD truncates RIP to 16 bits):
  // the host may be either, so those encodings are not compared.
  const sizeChoice = op.attrs & A.F64 ? rng.below(2) * 2 : rng.below(3);
  if (!sse && sizeChoice === 1) bytes.push(0x66);
  if ((op.attrs & (A.REP | A.REPE)) && rng.below(2)) bytes.push(rng.below(2) ? 0xf3 : 0xf2);
  const memory = op.hasModrm && (op.operands.some((o) => o.kind === K.M) || rng.below(3) === 0);
  const regOnly = op.operands.some((o) => o.kind === K.R || o.kind === K.U || o.kind === K.N);
  const mem = memory && !regOnly;
  let rex = sizeChoice === 2 ? 0x48 : 0;
  if (rng.below(3) === 0) rex |= 0x44;
  if (!mem && rng.below(3) === 0) rex |= 0x41;
  if (rex === 0 && rng.below(4) === 0) rex = 0x40;
  if (rex) bytes.push(rex);
  pushEscape(op, bytes);
  // +r opcodes: pick a register in the low bits.
  const plusR = op.operands.some((o) => o.kind === K.Z);
  bytes.push(plusR ? (op.opcode & ~7) | rng.below(8) : op.opcode);
  if (op.hasModrm) {
    const fixedReg = groupReg(op);
    const reg = fixedReg ?? rng.below(8);
    if (mem) {
      bytes.push(0x40 | (reg << 3) | 7, rng.below(0x80)); // [rdi + disp8]
    } else {
      bytes.push(0xc0 | (reg << 3) | rng.below(8));
    }
  }
  // Immediates: random bytes of the right sizes (operand size from the prefixes chosen).
  const opsize = sizeChoice === 2 ? 8 : sizeChoice === 1 && !sse ? 2 : 4;
  pushImmediates(rng, op, bytes, opsize, 8);
  const code = Uint8Array.from(bytes);
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  gpr[7] = DATA_PTR;
  if (FAMILIES.string!.includes(op.mnemonic)) {
    gpr[6] = DATA_PTR + BigInt(rng.below(0x800));
    gpr[1] = BigInt(rng.below(64));
  }
  if (['loop', 'loope', 'loopne'].includes(op.mnemonic)) gpr[1] = BigInt(1 + rng.below(4));
  return simdSetup(rng, op, popfStack(rng, op, {
    code,
    what: `${op.encoding} (${op.mnemonic}): ${describeBytes(code)}`,
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 },
    data: rng.bytes(0x2000),
    flagMask: 0xcd5 & ~undefinedFlags(op.mnemonic),
  }));
}

/** EFLAGS bits POPF may set at CPL 3 that the comparison includes for it: NT, AC (#AC), ID. */
const POPF_FLAGS = 0x4000 | 0x4_0000 | 0x20_0000;

/**
 * POPF cases: random flags on the stack (the data window extended up to them), TF clear (a
 * single-step trap would fire inside the harness's exit path), and NT/AC/ID compared.
 */
function popfStack(rng: Rng, op: Opcode, c: DiffCase): DiffCase {
  if (op.mnemonic !== 'popf') return c;
  const at = Number(STACK - NATIVE_DATA_ADDR);
  const data = new Uint8Array(at + 8);
  data.set(c.data);
  const view = new DataView(data.buffer);
  view.setUint32(at, rng.u32() & ~0x100, true);
  view.setUint32(at + 4, rng.u32(), true);
  return { ...c, data, flagMask: (c.flagMask ?? 0xcd5) | POPF_FLAGS };
}

/** randomCase for 32-bit code (see the top of this file). */
function randomCase32(rng: Rng, op: Opcode): DiffCase {
  const bytes: number[] = [];
  const sse = op.prefix !== PFX_ANY;
  if (op.prefix === PFX_66) bytes.push(0x66);
  else if (op.prefix === PFX_F3) bytes.push(0xf3);
  else if (op.prefix === PFX_F2) bytes.push(0xf2);
  // Operand size 32 or 16. Outside 64-bit mode 66 on a near branch is architectural on every
  // vendor: a 16-bit operand size truncates the new EIP to 16 bits.
  const size16 = !sse && rng.below(3) === 0;
  if (size16) bytes.push(0x66);
  if ((op.attrs & (A.REP | A.REPE)) && rng.below(2)) bytes.push(rng.below(2) ? 0xf3 : 0xf2);
  const memory = op.hasModrm && (op.operands.some((o) => o.kind === K.M) || rng.below(3) === 0);
  const regOnly = op.operands.some((o) => o.kind === K.R || o.kind === K.U || o.kind === K.N);
  const mem = memory && !regOnly;
  pushEscape(op, bytes);
  const plusR = op.operands.some((o) => o.kind === K.Z);
  bytes.push(plusR ? (op.opcode & ~7) | rng.below(8) : op.opcode);
  if (op.hasModrm) {
    const reg = groupReg(op) ?? rng.below(8);
    if (mem) bytes.push(0x40 | (reg << 3) | 7, rng.below(0x80)); // [edi + disp8]
    else bytes.push(0xc0 | (reg << 3) | rng.below(8));
  }
  pushImmediates(rng, op, bytes, size16 ? 2 : 4, 4);
  const code = Uint8Array.from(bytes);
  // All 64 bits random: 32-bit code sees the low halves; the CPU keeps the high halves of what
  // it does not write (R8-R15 too) and zero-extends 32-bit results, as in 64-bit mode.
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  // EDI points into the data window whatever the high half (addresses are 32 bits wide).
  gpr[7] = (gpr[7]! & 0xffff_ffff_0000_0000n) | DATA_PTR;
  if (FAMILIES.string!.includes(op.mnemonic)) {
    gpr[6] = (gpr[6]! & 0xffff_ffff_0000_0000n) | (DATA_PTR + BigInt(rng.below(0x800)));
    gpr[1] = BigInt(rng.below(64));
  }
  if (['loop', 'loope', 'loopne'].includes(op.mnemonic)) gpr[1] = BigInt(1 + rng.below(4));
  return simdSetup(rng, op, popfStack(rng, op, {
    code,
    bits: 32,
    what: `${op.encoding} (${op.mnemonic}, 32-bit): ${describeBytes(code, 32)}`,
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 },
    data: rng.bytes(0x2000),
    flagMask: 0xcd5 & ~undefinedFlags(op.mnemonic),
  }));
}

/**
 * Appends random immediates of the sizes the encoding implies (moffs as wide as the address
 * size). A branch goes forward into a run of 'inc eax' (FF C0) appended after it, so that
 * both paths end at the end of the code and RAX tells which one was taken.
 */
function pushImmediates(rng: Rng, op: Opcode, bytes: number[], opsize: number, adsize: number): void {
  let branch = false;
  for (const o of op.immediates) {
    let n: number;
    if (o.kind === K.O) n = adsize;
    else if (o.kind === K.J) n = o.size === SZ.B ? 1 : adsize === 8 ? 4 : opsize;
    else if (o.size === SZ.B) n = 1;
    else if (o.size === SZ.W) n = 2;
    else if (o.size === SZ.Z) n = opsize === 2 ? 2 : 4;
    else if (o.size === SZ.V) n = opsize;
    else n = 4;
    if (o.kind === K.J) {
      branch = true;
      const disp = 2 * rng.below(FILLER + 1);
      for (let i = 0; i < n; i++) bytes.push(i === 0 ? disp : 0);
    } else {
      for (let i = 0; i < n; i++) bytes.push(rng.below(256));
    }
  }
  if (branch) for (let i = 0; i < FILLER; i++) bytes.push(0xff, 0xc0);
}

/** The opcode-map escape bytes: 0F, 0F 38 or 0F 3A. */
function pushEscape(op: Opcode, bytes: number[]): void {
  if (op.map !== MAP_1) bytes.push(0x0f);
  if (op.map === MAP_0F38) bytes.push(0x38);
  else if (op.map === MAP_0F3A) bytes.push(0x3a);
}

/** The ModRM.reg value an entry's group encoding requires (e.g. "80 /5"), if any. */
function groupReg(op: Opcode): number | undefined {
  const m = /\/([0-7])/.exec(op.encoding);
  return m ? Number(m[1]) : undefined;
}
