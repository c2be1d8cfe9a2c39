import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR, nativeAvailable } from '../../testing/native.ts';
import { Rng, differential, type DiffCase, describeBytes } from '../testing/differential.ts';

// ALU family against the host CPU: every ALU form with random and edge operands, register and
// memory operands, 8/16/32/64-bit, with and without REX.

const DATA_PTR = NATIVE_DATA_ADDR + 0x100n;
const STACK = NATIVE_DATA_ADDR + 0x8000n;


/** One instruction: [prefixes] opcode ModRM [disp8] [imm], register or [rdi+disp8] operand. */
function makeCase(rng: Rng, opcode: number[], regField: number | undefined, immBytes: number, flagMask: number): DiffCase {
  const prefixes: number[] = [];
  const size = rng.below(3); // 0: default, 1: 66, 2: REX.W
  if (size === 1) prefixes.push(0x66);
  let rex = size === 2 ? 0x48 : 0;
  const memory = rng.below(3) === 0;
  let reg = regField ?? rng.below(8);
  let rm = memory ? 7 : rng.below(8);
  if (regField === undefined && rng.below(2)) rex |= 0x44; // REX.R
  if (!memory && rng.below(2)) rex |= 0x41; // REX.B
  if (rex === 0 && rng.below(4) === 0) rex = 0x40; // plain REX: SPL..DIL instead of AH..BH
  if (rex) prefixes.push(rex);
  const modrm = memory ? 0x40 | (reg << 3) | rm : 0xc0 | (reg << 3) | rm;
  const code = [...prefixes, ...opcode, modrm];
  if (memory) code.push(rng.below(0x80));
  // immBytes -1 means Iz: 2 bytes with a 66 prefix, else 4.
  const imm = immBytes < 0 ? (size === 1 ? 2 : 4) : immBytes;
  for (let i = 0; i < imm; i++) code.push(rng.below(256));
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  if (memory) gpr[7] = DATA_PTR;
  const bytes = Uint8Array.from(code);
  return {
    code: bytes,
    what: describeBytes(bytes),
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 },
    data: rng.bytes(1024),
    flagMask,
  };
}

const ALL = 0xcd5;
const NO_AF = ALL & ~0x10; // AF is undefined after AND/OR/XOR/TEST

describe.runIf(nativeAvailable())('ALU instructions agree with the host CPU', () => {
  it('ADD OR ADC SBB AND SUB XOR CMP in every form', () => {
    const rng = new Rng(1);
    const cases: DiffCase[] = [];
    for (let op = 0; op < 8; op++) {
      const logic = op === 1 || op === 4 || op === 6;
      const mask = logic ? NO_AF : ALL;
      for (let n = 0; n < 150; n++) {
        cases.push(makeCase(rng, [op * 8 + 0], undefined, 0, mask)); // Eb,Gb
        cases.push(makeCase(rng, [op * 8 + 1], undefined, 0, mask)); // Ev,Gv
        cases.push(makeCase(rng, [op * 8 + 2], undefined, 0, mask)); // Gb,Eb
        cases.push(makeCase(rng, [op * 8 + 3], undefined, 0, mask)); // Gv,Ev
        cases.push(makeCase(rng, [0x80], op, 1, mask)); // Eb,Ib
        cases.push(makeCase(rng, [0x81], op, -1, mask)); // Ev,Iz
        cases.push(makeCase(rng, [0x83], op, 1, mask)); // Ev,Ib
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('AL/rAX-immediate forms', () => {
    const rng = new Rng(2);
    const cases: DiffCase[] = [];
    for (let op = 0; op < 8; op++) {
      const mask = op === 1 || op === 4 || op === 6 ? NO_AF : ALL;
      for (let n = 0; n < 100; n++) {
        for (const [prefix, opcode, imm] of [[[], op * 8 + 4, 1], [[], op * 8 + 5, 4], [[0x48], op * 8 + 5, 4], [[0x66], op * 8 + 5, 2]] as const) {
          const code = Uint8Array.from([...prefix, opcode, ...rng.bytes(imm)]);
          const gpr = Array.from({ length: 16 }, () => rng.value());
          gpr[4] = STACK;
          cases.push({ code, what: describeBytes(code), state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data: new Uint8Array(0), flagMask: mask });
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('INC DEC NEG NOT TEST', () => {
    const rng = new Rng(3);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 300; n++) {
      cases.push(makeCase(rng, [0xfe], 0, 0, ALL)); // inc Eb
      cases.push(makeCase(rng, [0xfe], 1, 0, ALL)); // dec Eb
      cases.push(makeCase(rng, [0xff], 0, 0, ALL)); // inc Ev
      cases.push(makeCase(rng, [0xff], 1, 0, ALL)); // dec Ev
      cases.push(makeCase(rng, [0xf6], 3, 0, ALL)); // neg Eb
      cases.push(makeCase(rng, [0xf7], 3, 0, ALL)); // neg Ev
      cases.push(makeCase(rng, [0xf6], 2, 0, ALL)); // not Eb
      cases.push(makeCase(rng, [0xf7], 2, 0, ALL)); // not Ev
      cases.push(makeCase(rng, [0x84], undefined, 0, NO_AF)); // test Eb,Gb
      cases.push(makeCase(rng, [0x85], undefined, 0, NO_AF)); // test Ev,Gv
      cases.push(makeCase(rng, [0xf6], 0, 1, NO_AF)); // test Eb,Ib
    }
    expect(differential(cases)).toEqual([]);
  });
});
