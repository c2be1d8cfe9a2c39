/**
 * The x86 instruction decoder: prefixes, REX, VEX/EVEX/XOP, opcode maps, ModRM, SIB,
 * displacement and immediates (Intel SDM Vol. 2, chapter 2 "Instruction Format").
 *
 * It decodes into a caller-owned `Insn` (no allocation per instruction) from a byte window.
 * When the window ends before the instruction does, it reports NEED_MORE: the caller fetches
 * the next page (which may fault) and decodes again, so an instruction that ends on its first
 * page never touches the second.
 *
 * VEX/EVEX/XOP encodings are decoded for their length only (AVX is not advertised): the
 * result has no table entry and executes as #UD.
 */
import {
  A, K, MAP_0F, MAP_0F38, MAP_0F3A, MAP_1, PFX_66, PFX_ANY, PFX_F2, PFX_F3, PFX_NP, SZ, resolveNode,
  type Opcode, type Slot,
} from './opcode-table.ts';
import { OPCODES } from './opcodes.ts';

/** Decode results. */
export const DECODE_OK = 0;
/** Invalid opcode, invalid in this mode, or a misused prefix (#UD). `length` is still valid. */
export const DECODE_UD = 1;
/** Longer than 15 bytes (#GP(0)). */
export const DECODE_TOO_LONG = 2;
/** The window ended inside the instruction. */
export const DECODE_NEED_MORE = 3;

export const MAX_INSN_LENGTH = 15;

/** Prefix bits. */
export const PREFIX_LOCK = 1;
export const PREFIX_REP = 2; // F3
export const PREFIX_REPNE = 4; // F2
export const PREFIX_OPSIZE = 8; // 66
export const PREFIX_ADSIZE = 16; // 67

/** `Insn.base` value for RIP-relative addressing. */
export const BASE_RIP = 16;
/** `Insn.vex` kinds. */
export const VEX_NONE = 0;
export const VEX_VEX = 1;
export const VEX_EVEX = 2;
export const VEX_XOP = 3;

/** Segment register numbers (SDM order). */
export const SEG_ES = 0;
export const SEG_CS = 1;
export const SEG_SS = 2;
export const SEG_DS = 3;
export const SEG_FS = 4;
export const SEG_GS = 5;

/** One decoded instruction. Reused: decode() overwrites every field. */
export class Insn {
  status = DECODE_OK;
  length = 0;
  op: Opcode | undefined = undefined;
  mode = 64;
  prefixes = 0;
  /** Segment override, or -1. */
  seg = -1;
  /** The last of F3/F2 (PREFIX_REP or PREFIX_REPNE), or 0: it decides when both are present. */
  lastRep = 0;
  /** The REX byte (0x40-0x4F), or 0. */
  rex = 0;
  /** Operand size in bytes (2, 4 or 8) and address size in bytes. */
  opsize = 4;
  adsize = 8;
  map = MAP_1;
  opcode = 0;
  /** ModRM byte or -1; its fields with REX extensions applied. */
  modrm = -1;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Memory operand: base register (0-15, BASE_RIP, or -1), index (-1 for none), scale shift. */
  base = -1;
  index = -1;
  scale = 0;
  /** Displacement, sign-extended to a JS number (fits in int32). */
  disp = 0;
  /** First immediate: low 32 bits (sign-extended to the operand where the SDM says so) and high 32 bits. */
  imm = 0;
  immHi = 0;
  /** Second immediate (ENTER's level, a far pointer's selector, EXTRQ's index). */
  imm2 = 0;
  vex = VEX_NONE;

  get isMemory(): boolean {
    return this.modrm >= 0 && this.mod !== 3;
  }
}

/** Thrown inside the decoder only; decode() turns them into a status. */
const NEED_MORE = { reason: 'need more bytes' };
const TOO_LONG = { reason: 'longer than 15 bytes' };

/** The byte window being decoded (one reused instance). */
class Reader {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  start = 0;
  limit = 0;

  reset(buf: Uint8Array, start: number, avail: number): void {
    this.buf = buf;
    this.start = start;
    this.pos = start;
    this.limit = start + Math.min(avail, MAX_INSN_LENGTH);
  }

  private end(): never {
    throw this.limit - this.start >= MAX_INSN_LENGTH ? TOO_LONG : NEED_MORE;
  }

  next(): number {
    if (this.pos >= this.limit) this.end();
    return this.buf[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.limit) this.end();
    return this.buf[this.pos]!;
  }

  int8(): number {
    return (this.next() << 24) >> 24;
  }

  int16(): number {
    return ((this.next() | (this.next() << 8)) << 16) >> 16;
  }

  int32(): number {
    return this.next() | (this.next() << 8) | (this.next() << 16) | (this.next() << 24);
  }
}
const reader = new Reader();

/**
 * Which table variant a prefix combination selects (F2/F3 beat 66; the last of F2/F3 wins).
 * With F2/F3 present only their own variant or a prefix-agnostic entry matches: F3 in front of
 * an instruction that has only an NP or 66 form (`f3 0f 74 c1`, `66 f3 0f d7 c1`) is #UD, as on
 * hardware.
 */
function variantOrder(rep: number, opsize: boolean): number[] {
  if (rep === PFX_F3 || rep === PFX_F2) return [rep, PFX_ANY];
  return opsize ? [PFX_66, PFX_ANY] : [PFX_NP, PFX_ANY];
}
const ORDERS = [
  [variantOrder(0, false), variantOrder(0, true)],
  [variantOrder(PFX_F3, false), variantOrder(PFX_F3, true)],
  [variantOrder(PFX_F2, false), variantOrder(PFX_F2, true)],
];

function lookup(slot: Slot, repClass: number, opsize: boolean, modrm: number, mode64: boolean): Opcode | undefined {
  for (const v of ORDERS[repClass]![opsize ? 1 : 0]!) {
    const op = resolveNode(slot.byPrefix[v], modrm, mode64);
    if (op) return op;
  }
  return undefined;
}

/** 0F-map opcodes that take an imm8 in VEX/EVEX form (SDM Table A-3 with "Ib"). */
const VEX_0F_IMM8 = new Set([0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]);

/**
 * Decodes one instruction from `buf[start .. start + avail)` in a 16-, 32- or 64-bit code
 * segment. Never throws; the outcome is in `d.status`.
 */
export function decode(buf: Uint8Array, start: number, avail: number, mode: 16 | 32 | 64, d: Insn): void {
  reader.reset(buf, start, avail);
  try {
    decodeBody(d, mode, reader);
  } catch (e) {
    if (e === NEED_MORE) d.status = DECODE_NEED_MORE;
    else if (e === TOO_LONG) {
      d.status = DECODE_TOO_LONG;
      d.length = MAX_INSN_LENGTH;
    } else throw e;
  }
}

function clear(d: Insn, mode: 16 | 32 | 64): void {
  d.status = DECODE_OK;
  d.op = undefined;
  d.mode = mode;
  d.prefixes = 0;
  d.seg = -1;
  d.lastRep = 0;
  d.rex = 0;
  d.modrm = -1;
  d.mod = 0;
  d.reg = 0;
  d.rm = 0;
  d.base = -1;
  d.index = -1;
  d.scale = 0;
  d.disp = 0;
  d.imm = 0;
  d.immHi = 0;
  d.imm2 = 0;
  d.vex = VEX_NONE;
}

function decodeBody(d: Insn, mode: 16 | 32 | 64, r: Reader): void {
  const mode64 = mode === 64;
  clear(d, mode);
  let ud = false;
  let repClass = 0; // 0 none, 1 F3, 2 F2 (the last one seen)

  // Legacy prefixes and REX (a REX followed by another prefix is ignored).
  let b: number;
  for (;;) {
    b = r.next();
    switch (b) {
      case 0xf0: d.prefixes |= PREFIX_LOCK; d.rex = 0; continue;
      case 0xf3: d.prefixes |= PREFIX_REP; d.lastRep = PREFIX_REP; repClass = 1; d.rex = 0; continue;
      case 0xf2: d.prefixes |= PREFIX_REPNE; d.lastRep = PREFIX_REPNE; repClass = 2; d.rex = 0; continue;
      case 0x66: d.prefixes |= PREFIX_OPSIZE; d.rex = 0; continue;
      case 0x67: d.prefixes |= PREFIX_ADSIZE; d.rex = 0; continue;
      case 0x26: case 0x2e: case 0x36: case 0x3e:
        // In 64-bit mode ES/CS/SS/DS overrides are ignored (the base is 0), but still prefixes.
        if (!mode64) d.seg = (b >> 3) & 3;
        d.rex = 0;
        continue;
      case 0x64: d.seg = SEG_FS; d.rex = 0; continue;
      case 0x65: d.seg = SEG_GS; d.rex = 0; continue;
    }
    if (mode64 && (b & 0xf0) === 0x40) {
      d.rex = b;
      continue;
    }
    break;
  }
  const rexW = (d.rex & 8) !== 0;
  const rexR = (d.rex & 4) << 1; // 8 or 0
  const rexX = (d.rex & 2) << 2;
  const rexB = (d.rex & 1) << 3;
  const opsizePrefix = (d.prefixes & PREFIX_OPSIZE) !== 0;
  const adsizePrefix = (d.prefixes & PREFIX_ADSIZE) !== 0;
  d.adsize = mode64 ? (adsizePrefix ? 4 : 8) : (mode === 32) !== adsizePrefix ? 4 : 2;

  // Opcode, with the VEX/EVEX/XOP escapes.
  let map = MAP_1;
  let op = b;
  let vexImm = 0;
  let vexNoModrm = false;
  if (b === 0x0f) {
    op = r.next();
    map = MAP_0F;
    if (op === 0x38) {
      map = MAP_0F38;
      op = r.next();
    } else if (op === 0x3a) {
      map = MAP_0F3A;
      op = r.next();
    }
  } else if (b === 0xc4 || b === 0xc5 || b === 0x62 || b === 0x8f) {
    // Outside 64-bit mode C4/C5/62 are LES/LDS/BOUND unless the next byte has mod = 3;
    // 8F is XOP only when the map field is 8 or more (otherwise it is POP Ev).
    const p0 = r.peek();
    const isEscape = b === 0x8f ? (p0 & 0x1f) >= 8 : mode64 || p0 >= 0xc0;
    if (isEscape) {
      if (d.rex !== 0 || d.prefixes & (PREFIX_LOCK | PREFIX_REP | PREFIX_REPNE | PREFIX_OPSIZE)) ud = true;
      r.next();
      let mapSel = 1;
      if (b === 0xc5) {
        d.vex = VEX_VEX;
      } else if (b === 0xc4 || b === 0x8f) {
        d.vex = b === 0xc4 ? VEX_VEX : VEX_XOP;
        mapSel = p0 & 0x1f;
        r.next(); // W vvvv L pp
      } else {
        d.vex = VEX_EVEX;
        mapSel = p0 & 0x07;
        r.next(); // W vvvv 1 pp
        r.next(); // z L'L b V' aaa
      }
      op = r.next();
      ud = true; // AVX, AVX-512 and XOP are not advertised
      if (d.vex === VEX_XOP) {
        vexImm = mapSel === 8 ? 1 : mapSel === 0xa ? 4 : 0;
      } else {
        vexImm = mapSel === 3 || (mapSel === 1 && VEX_0F_IMM8.has(op)) ? 1 : 0;
        vexNoModrm = d.vex === VEX_VEX && mapSel === 1 && op === 0x77; // VZEROUPPER / VZEROALL
      }
      map = -1;
    }
  }
  d.map = map;
  d.opcode = op;

  const slot = map >= 0 ? OPCODES.maps[map]![op]! : undefined;
  // Does a ModRM byte follow? From the table; unknown 0F 38 / 0F 3A slots still have one.
  const hasModrm = slot ? (slot.hasModrm ?? (map === MAP_0F38 || map === MAP_0F3A)) : !vexNoModrm;
  if (hasModrm) {
    const modrm = r.next();
    d.modrm = modrm;
    d.mod = modrm >> 6;
    d.reg = ((modrm >> 3) & 7) | rexR;
    const rm = modrm & 7;
    if (slot?.modIsReg) d.mod = 3;
    if (d.mod === 3) d.rm = rm | rexB;
    else if (d.adsize === 2) decodeMem16(d, rm, r);
    else decodeMem32(d, rm, mode64, rexB, rexX, r);
  }

  // Table entry and operand size.
  const entry = slot ? lookup(slot, repClass, opsizePrefix, d.modrm, mode64) : undefined;
  d.op = entry;
  let opsize = (mode === 16) !== opsizePrefix ? 2 : 4;
  if (entry) {
    // A 66 that selected an SSE form is not an operand-size prefix.
    const mandatory66 = entry.prefix === PFX_66;
    if (mandatory66) opsize = mode === 16 ? 2 : 4;
    const attrs = entry.attrs;
    if (mode64) {
      if (rexW && (attrs & A.W_IGNORED) === 0) opsize = 8;
      else if (attrs & A.F64) opsize = 8;
      else if (attrs & A.D64 && !(opsizePrefix && !mandatory66)) opsize = 8;
      if (attrs & A.I64) ud = true;
    } else if (attrs & A.O64) {
      ud = true;
    }
    if (d.prefixes & PREFIX_LOCK && (!(attrs & A.LOCK) || d.modrm < 0 || d.mod === 3)) ud = true;
  } else {
    ud = true;
    if (mode64 && rexW) opsize = 8;
  }
  d.opsize = opsize;

  // Immediates, in encoding order.
  if (entry) {
    let first = true;
    for (const o of entry.immediates) {
      let value: number;
      switch (o.kind) {
        case K.O:
          value = readSized(d, r, d.adsize);
          break;
        case K.A:
          value = readSized(d, r, opsize === 2 ? 2 : 4);
          d.imm2 = r.int16() & 0xffff;
          break;
        case K.J:
          value = readSized(d, r, o.size === SZ.B ? 1 : mode64 || opsize !== 2 ? 4 : 2);
          break;
        default:
          value = readSized(d, r, immediateSize(o.size, opsize));
      }
      if (first) d.imm = value;
      else d.imm2 = value;
      first = false;
    }
  } else {
    for (let k = 0; k < vexImm; k++) r.next();
  }

  d.length = r.pos - r.start;
  d.status = ud ? DECODE_UD : DECODE_OK;
}

function immediateSize(size: number, opsize: number): number {
  switch (size) {
    case SZ.B: return 1;
    case SZ.W: return 2;
    case SZ.D: return 4;
    case SZ.Z: return opsize === 2 ? 2 : 4;
    case SZ.V: return opsize;
    default: throw new Error(`immediate with size code ${size}`);
  }
}

/** Reads a sign-extended immediate of 1, 2, 4 or 8 bytes (the high half of 8 goes to immHi). */
function readSized(d: Insn, r: Reader, n: number): number {
  switch (n) {
    case 1: return r.int8();
    case 2: return r.int16();
    case 4: return r.int32();
    default: {
      const lo = r.int32();
      d.immHi = r.int32();
      return lo;
    }
  }
}

function decodeMem16(d: Insn, rm: number, r: Reader): void {
  // [BX+SI] [BX+DI] [BP+SI] [BP+DI] [SI] [DI] [BP] (disp16 alone when mod = 0) [BX]
  d.base = MEM16_BASE[rm]!;
  d.index = MEM16_INDEX[rm]!;
  if (d.mod === 0 && rm === 6) {
    d.base = -1;
    d.disp = r.int16();
  } else if (d.mod === 1) {
    d.disp = r.int8();
  } else if (d.mod === 2) {
    d.disp = r.int16();
  }
}
const MEM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const MEM16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1];

function decodeMem32(d: Insn, rm: number, mode64: boolean, rexB: number, rexX: number, r: Reader): void {
  if (rm === 4) {
    const sib = r.next();
    d.scale = sib >> 6;
    const index = ((sib >> 3) & 7) | rexX;
    d.index = index === 4 ? -1 : index;
    const base = sib & 7;
    if (base === 5 && d.mod === 0) {
      d.base = -1;
      d.disp = r.int32();
      return;
    }
    d.base = base | rexB;
  } else if (rm === 5 && d.mod === 0) {
    d.base = mode64 ? BASE_RIP : -1;
    d.disp = r.int32();
    return;
  } else {
    d.base = rm | rexB;
  }
  if (d.mod === 1) d.disp = r.int8();
  else if (d.mod === 2) d.disp = r.int32();
}
