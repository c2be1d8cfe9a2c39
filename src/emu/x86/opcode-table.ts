/**
 * The declarative x86 instruction table: the single source the decoder, the disassembler, the
 * interpreter's dispatch and (later) the JIT's block analyser all read (STYLE.md point 5).
 *
 * Each instruction is one line in the SDM's own notation (Intel SDM Vol. 2, Appendix A,
 * "Opcode Map"): an encoding string, a mnemonic and operand codes. Example:
 *
 *   def('66 0F 58', 'addpd', 'Vx,Wx')     mandatory prefix 66, map 0F, opcode 58
 *   def('80 /0', 'add', 'Eb,Ib', 'lock')  group: ModRM.reg selects
 *   def('0F 01 /0 mem', 'sgdt', 'Ms')     ModRM.mod selects memory forms
 *   def('0F 01 C1', 'vmcall', '')         an exact ModRM byte (mod = 3)
 *   def('50+r', 'push', 'Zv', 'd64')      eight opcodes, the register in the low 3 bits
 *
 * Registration throws on a duplicate or conflicting encoding, so the table cannot silently
 * disagree with itself. Semantics are attached by name elsewhere (src/emu/x86/ops/*).
 */

/** Opcode maps: one-byte, 0F, 0F 38, 0F 3A. */
export const MAP_1 = 0;
export const MAP_0F = 1;
export const MAP_0F38 = 2;
export const MAP_0F3A = 3;

/** Mandatory-prefix classes of SSE-style encodings; ANY means "prefixes have their usual meaning". */
export const PFX_NP = 0;
export const PFX_66 = 1;
export const PFX_F3 = 2;
export const PFX_F2 = 3;
export const PFX_ANY = 4;

/** Operand kinds (SDM Appendix A.2.1 "Codes for Addressing Method"). */
export const K = {
  E: 1, // ModRM r/m: register or memory
  G: 2, // ModRM reg: general register
  I: 3, // immediate
  J: 4, // relative offset (immediate added to the next RIP)
  M: 5, // ModRM r/m: memory only
  O: 6, // moffs: absolute address as wide as the address size
  Z: 7, // general register from the low 3 bits of the opcode (+ REX.B)
  S: 8, // segment register in ModRM reg
  C: 9, // control register in ModRM reg
  D: 10, // debug register in ModRM reg
  R: 11, // ModRM r/m: general register only (mod ignored for MOV CR/DR)
  X: 12, // string source DS:rSI
  Y: 13, // string destination ES:rDI
  A: 14, // far pointer immediate (seg:offset)
  V: 15, // ModRM reg: XMM register
  W: 16, // ModRM r/m: XMM register or memory
  U: 17, // ModRM r/m: XMM register only
  P: 18, // ModRM reg: MMX register
  Q: 19, // ModRM r/m: MMX register or memory
  N: 20, // ModRM r/m: MMX register only
  FIXED: 21, // a fixed general register (reg field of the descriptor)
  SEG: 22, // a fixed segment register
  ONE: 23, // the constant 1 (shift by one)
  ST: 24, // x87 ST(0)
  STI: 25, // x87 ST(i) from ModRM rm
  XMM0: 26, // implicit XMM0 (BLENDV)
  T: 27, // 386/486 test register in ModRM reg
} as const;
export type OperandKind = (typeof K)[keyof typeof K];

/** Operand sizes (SDM Appendix A.2.2 "Codes for Operand Type"). */
export const SZ = {
  NONE: 0,
  B: 1,
  W: 2,
  D: 3,
  Q: 4,
  V: 5, // word, dword or qword by operand size
  Z: 6, // word or dword (dword for 64-bit operand size)
  Y: 7, // dword or qword
  P: 8, // far pointer: 16-bit selector + operand-size offset
  DQ: 9, // 128 bits
  S: 10, // pseudo-descriptor: 6 bytes (10 in 64-bit mode)
  T: 11, // 80-bit x87 value
  ENV: 12, // x87 environment / state image, FXSAVE area: size not shown
  L: 13, // not a size: the load/store is architecturally sized elsewhere
} as const;
export type OperandSize = (typeof SZ)[keyof typeof SZ];

export interface Operand {
  readonly kind: OperandKind;
  readonly size: OperandSize;
  /** FIXED: register number (0 = rAX ...); SEG: segment number (0 = ES ...); STI: none. */
  readonly reg: number;
}

/** Attribute bits. */
export const A = {
  I64: 1 << 0, // invalid in 64-bit mode (#UD)
  O64: 1 << 1, // valid only in 64-bit mode
  D64: 1 << 2, // default operand size 64 in 64-bit mode (66 makes it 16)
  F64: 1 << 3, // operand size forced to 64 in 64-bit mode (66 ignored; Intel behaviour)
  LOCK: 1 << 4, // LOCK allowed (with a memory destination)
  REP: 1 << 5, // string instruction: REP repeats it
  REPE: 1 << 6, // string compare: REPE/REPNE repeat with a ZF condition
  BLOCK_END: 1 << 7, // changes control flow: ends a basic block
  PRIV: 1 << 8, // CPL 0 only (#GP otherwise)
  NO_IMPL: 1 << 9, // decoded (lengths, disassembly) but not implemented: #UD when executed
  MODRM: 1 << 10, // has a ModRM byte even though no operand says so
  W_IGNORED: 1 << 11, // REX.W does not change the operand size (e.g. MOV Sreg)
  MOD_REG: 1 << 12, // ModRM always names registers: mod is ignored, no SIB or displacement (MOV CR/DR)
} as const;

const ATTR_NAMES: Record<string, number> = {
  i64: A.I64, o64: A.O64, d64: A.D64, f64: A.F64, lock: A.LOCK, rep: A.REP, repe: A.REPE,
  jmp: A.BLOCK_END, priv: A.PRIV, noimpl: A.NO_IMPL, modrm: A.MODRM, wig: A.W_IGNORED, modreg: A.MOD_REG,
};

/** One decoded table entry. */
export interface Opcode {
  readonly encoding: string;
  readonly mnemonic: string;
  readonly operands: readonly Operand[];
  readonly attrs: number;
  readonly map: number;
  readonly opcode: number;
  readonly prefix: number;
  readonly hasModrm: boolean;
  /** The operands encoded after ModRM/SIB/displacement (I, J, O, A), in encoding order. */
  readonly immediates: readonly Operand[];
}

/** ModRM-selected sub-tables: by reg, then by mod (memory / register), then by rm (mod = 3). */
export interface Group {
  readonly byReg: (Node | undefined)[];
}
export interface ModSplit {
  mem: Node | undefined;
  reg: Node | undefined;
}
export interface RmSplit {
  readonly byRm: (Node | undefined)[];
  /** Register form with no exact rm entry. */
  other: Node | undefined;
}
export type Node =
  | { readonly t: 'op'; readonly op: Opcode }
  | { readonly t: 'reg'; readonly g: (Node | undefined)[] }
  | { readonly t: 'mod'; readonly m: ModSplit }
  | { readonly t: 'rm'; readonly r: RmSplit }
  /** The same encoding means different instructions outside and inside 64-bit mode (63: ARPL/MOVSXD). */
  | { readonly t: 'mode'; readonly legacy: Opcode; readonly long: Opcode };

/** A table slot: one map + opcode byte, split by mandatory prefix class. */
export interface Slot {
  readonly byPrefix: (Node | undefined)[];
  hasModrm: boolean | undefined;
  /** Every entry of the slot has A.MOD_REG. */
  modIsReg: boolean | undefined;
}

const REG_NAMES: Record<string, [number, OperandSize]> = {
  AL: [0, SZ.B], CL: [1, SZ.B], DL: [2, SZ.B], BL: [3, SZ.B],
  AH: [4, SZ.B], CH: [5, SZ.B], DH: [6, SZ.B], BH: [7, SZ.B],
  AX: [0, SZ.W], DX: [2, SZ.W],
  eAX: [0, SZ.Z], rAX: [0, SZ.V], EAX: [0, SZ.D], ECX: [1, SZ.D], RAX: [0, SZ.Q],
};
const SEG_NAMES = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];
const SIZE_CODES: Record<string, OperandSize> = {
  '': SZ.NONE, a: SZ.L, b: SZ.B, w: SZ.W, d: SZ.D, q: SZ.Q, v: SZ.V, z: SZ.Z, y: SZ.Y, p: SZ.P,
  dq: SZ.DQ, x: SZ.DQ, ps: SZ.DQ, pd: SZ.DQ, ss: SZ.D, sd: SZ.Q, s: SZ.S, t: SZ.T, e: SZ.ENV, l: SZ.L,
};
const KIND_CODES: Record<string, OperandKind> = {
  E: K.E, G: K.G, I: K.I, J: K.J, M: K.M, O: K.O, Z: K.Z, S: K.S, C: K.C, D: K.D, R: K.R,
  X: K.X, Y: K.Y, A: K.A, V: K.V, W: K.W, U: K.U, P: K.P, Q: K.Q, N: K.N, T: K.T,
};
const MODRM_KINDS = new Set<OperandKind>([K.E, K.G, K.M, K.S, K.C, K.D, K.T, K.R, K.V, K.W, K.U, K.P, K.Q, K.N, K.STI]);

function parseOperand(code: string): Operand {
  const fixed = REG_NAMES[code];
  if (fixed) return { kind: K.FIXED, size: fixed[1], reg: fixed[0] };
  const seg = SEG_NAMES.indexOf(code);
  if (seg >= 0) return { kind: K.SEG, size: SZ.W, reg: seg };
  if (code === '1') return { kind: K.ONE, size: SZ.B, reg: 0 };
  if (code === 'ST') return { kind: K.ST, size: SZ.T, reg: 0 };
  if (code === 'STi') return { kind: K.STI, size: SZ.T, reg: 0 };
  if (code === 'XMM0') return { kind: K.XMM0, size: SZ.DQ, reg: 0 };
  const kind = KIND_CODES[code[0]!];
  const size = SIZE_CODES[code.slice(1)];
  if (kind === undefined || size === undefined) throw new Error(`opcode table: bad operand code "${code}"`);
  return { kind, size, reg: 0 };
}

function makeOpcode(
  encoding: string, mnemonic: string, operands: Operand[], attrs: number,
  map: number, opcode: number, prefix: number, hasModrm: boolean,
): Opcode {
  const immediates = operands.filter((o) => o.kind === K.I || o.kind === K.J || o.kind === K.O || o.kind === K.A);
  return { encoding, mnemonic, operands, immediates, attrs, map, opcode, prefix, hasModrm };
}

/** The table: four maps of 256 slots. */
export class OpcodeTable {
  readonly maps: Slot[][] = [0, 1, 2, 3].map(() => Array.from({ length: 256 }, (): Slot => ({ byPrefix: [], hasModrm: undefined, modIsReg: undefined })));
  readonly all: Opcode[] = [];

  /** Registers one instruction; see the file comment for the encoding syntax. */
  def(encoding: string, mnemonic: string, operandCodes: string, attrNames = ''): void {
    const operands = operandCodes ? operandCodes.split(',').map(parseOperand) : [];
    let attrs = 0;
    for (const a of attrNames.split(' ').filter(Boolean)) {
      const bit = ATTR_NAMES[a];
      if (bit === undefined) throw new Error(`opcode table: unknown attribute "${a}" in ${encoding}`);
      attrs |= bit;
    }
    const tokens = encoding.split(' ');
    let prefix = PFX_ANY;
    const pfx = { NP: PFX_NP, '66': PFX_66, F3: PFX_F3, F2: PFX_F2 } as Record<string, number>;
    if (tokens[0]! in pfx && tokens[1] === '0F') prefix = pfx[tokens.shift()!]!;
    let map = MAP_1;
    if (tokens[0] === '0F') {
      tokens.shift();
      map = MAP_0F;
      const escape: string = tokens[0]!;
      if (escape === '38' && tokens.length > 1) { tokens.shift(); map = MAP_0F38; }
      else if (escape === '3A' && tokens.length > 1) { tokens.shift(); map = MAP_0F3A; }
    }
    const opTok = tokens.shift()!;
    const plusR = opTok.endsWith('+r');
    const base = Number.parseInt(plusR ? opTok.slice(0, -2) : opTok, 16);
    // What follows the opcode: "/n", "mem", "reg", or an exact ModRM byte.
    let reg = -1;
    let mod: 'mem' | 'reg' | undefined;
    let rm = -1;
    for (const t of tokens) {
      if (/^\/[0-7]$/.test(t)) reg = Number(t[1]);
      else if (t === 'mem' || t === 'reg') mod = t;
      else if (/^[0-9A-F]{2}$/.test(t)) {
        const b = Number.parseInt(t, 16);
        if (b < 0xc0) throw new Error(`opcode table: exact ModRM ${t} must have mod = 3 (${encoding})`);
        reg = (b >> 3) & 7;
        rm = b & 7;
        mod = 'reg';
      } else throw new Error(`opcode table: bad token "${t}" in ${encoding}`);
    }
    const hasModrm = reg >= 0 || mod !== undefined || operands.some((o) => MODRM_KINDS.has(o.kind)) || (attrs & A.MODRM) !== 0;
    for (let i = 0; i < (plusR ? 8 : 1); i++) {
      const op = makeOpcode(encoding, mnemonic, operands, attrs, map, base + i, prefix, hasModrm);
      this.insert(op, reg, mod, rm);
      this.all.push(op);
    }
  }

  private insert(op: Opcode, reg: number, mod: 'mem' | 'reg' | undefined, rm: number): void {
    const slot = this.maps[op.map]![op.opcode]!;
    const where = `${op.encoding} (${op.mnemonic})`;
    if (slot.hasModrm !== undefined && slot.hasModrm !== op.hasModrm) {
      throw new Error(`opcode table: ${where} disagrees with its slot about having a ModRM byte`);
    }
    slot.hasModrm = op.hasModrm;
    const modIsReg = (op.attrs & A.MOD_REG) !== 0;
    if (slot.modIsReg !== undefined && slot.modIsReg !== modIsReg) {
      throw new Error(`opcode table: ${where} disagrees with its slot about ignoring ModRM.mod`);
    }
    slot.modIsReg = modIsReg;
    const leaf: Node = { t: 'op', op };
    // Walk/create reg -> mod -> rm levels as the encoding requires.
    const place = (node: Node | undefined, level: 0 | 1 | 2): Node => {
      if (level === 0) {
        if (reg < 0) return place(node, 1);
        const g: Node = node ?? { t: 'reg', g: [] };
        if (g.t !== 'reg') throw new Error(`opcode table: ${where} conflicts with a non-group entry`);
        g.g[reg] = place(g.g[reg], 1);
        return g;
      }
      if (level === 1) {
        if (mod === undefined) return place(node, 2);
        const m: Node = node ?? { t: 'mod', m: { mem: undefined, reg: undefined } };
        if (m.t !== 'mod') throw new Error(`opcode table: ${where} conflicts with an entry for both mods`);
        if (mod === 'mem') m.m.mem = place(m.m.mem, 2);
        else m.m.reg = place(m.m.reg, 2);
        return m;
      }
      if (rm < 0) {
        if (node?.t === 'op') {
          const a = node.op;
          if ((a.attrs & A.I64) !== 0 && (op.attrs & A.O64) !== 0) return { t: 'mode', legacy: a, long: op };
          if ((a.attrs & A.O64) !== 0 && (op.attrs & A.I64) !== 0) return { t: 'mode', legacy: op, long: a };
        }
        if (node !== undefined) {
          if (node.t === 'rm' && node.r.other === undefined) {
            node.r.other = leaf;
            return node;
          }
          throw new Error(`opcode table: duplicate encoding ${where}`);
        }
        return leaf;
      }
      const r: Node = node ?? { t: 'rm', r: { byRm: [], other: undefined } };
      if (r.t === 'op') {
        const split: Node = { t: 'rm', r: { byRm: [], other: r } };
        split.r.byRm[rm] = leaf;
        return split;
      }
      if (r.t !== 'rm') throw new Error(`opcode table: ${where} conflicts with a group`);
      if (r.r.byRm[rm]) throw new Error(`opcode table: duplicate encoding ${where}`);
      r.r.byRm[rm] = leaf;
      return r;
    };
    slot.byPrefix[op.prefix] = place(slot.byPrefix[op.prefix], 0);
  }
}

/** Resolves a ModRM-selected node to its entry, or undefined (an undefined encoding: #UD). */
export function resolveNode(node: Node | undefined, modrm: number, mode64: boolean): Opcode | undefined {
  while (node) {
    switch (node.t) {
      case 'op':
        return node.op;
      case 'mode':
        return mode64 ? node.long : node.legacy;
      case 'reg':
        node = node.g[(modrm >> 3) & 7];
        break;
      case 'mod':
        node = modrm >= 0xc0 ? node.m.reg : node.m.mem;
        break;
      case 'rm':
        node = modrm >= 0xc0 ? (node.r.byRm[modrm & 7] ?? node.r.other) : node.r.other;
        break;
    }
  }
  return undefined;
}
