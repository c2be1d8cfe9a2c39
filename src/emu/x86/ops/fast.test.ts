/**
 * The fast forms of ./fast.ts against the generic handlers they stand in for: the same random
 * instruction runs from the same random state through both, and registers, flags, memory
 * and faults must agree. (The differential suite also runs the fast forms against the host.)
 */
import { describe, expect, it } from 'vitest';
import { CachedInsn, Cpu } from '../cpu.ts';
import { decode, DECODE_OK } from '../decoder.ts';
import { bindGeneric, bindHandler } from '../exec.ts';
import { CPU_FAULT } from '../mmu.ts';
import { startLongMode, startProtectedMode } from '../start-state.ts';
import { Rng } from '../testing/differential.ts';
import { RAM_OFFSET, SEGS, SEG_BASE, SEG_STRIDE } from '../../state-layout.ts';

const RAM = 4 << 20;
/** Memory operands point into this window (identity-mapped; the last page is not mapped). */
const DATA = 0x200000;

function machine(bits: 32 | 64): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const q = (at: number, lo: number, hi = 0) => {
    cpu.dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    cpu.dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  q(0x1000 + 0x10, 0x0000ffff, bits === 64 ? 0x00af9b00 : 0x00cf9b00);
  q(0x1000 + 0x18, 0x0000ffff, 0x00cf9300);
  // 4-level tables: 0-2 MiB and 2-4 MiB as 4 KiB pages, the page at 2 MiB + 60 KiB missing.
  q(0x2000, 0x3000 | 7);
  q(0x3000, 0x4000 | 7);
  q(0x4000, 0x5000 | 7);
  q(0x4008, 0x6000 | 7);
  for (let i = 0; i < 512; i++) q(0x5000 + i * 8, (i << 12) | 7);
  for (let i = 0; i < 512; i++) if (i !== 15) q(0x6000 + i * 8, (DATA + (i << 12)) | 7);
  if (bits === 64) startLongMode(cpu, 0x100000n, 0x2000, 0x1000, 0x1f, { rsp: BigInt(DATA + 0x8000) });
  else startProtectedMode(cpu, 0x100000, 0x1000, 0x1f, { rsp: BigInt(DATA + 0x8000) });
  cpu.stopOnFault = true;
  return cpu;
}

/** Encodings with fast forms: [bytes before ModRM/register, has ModRM, immediate bytes]. */
const ALU_OPS = [0x01, 0x03, 0x09, 0x0b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x85];
const ALU_IMM = [0, 1, 4, 5, 6, 7];

function randomInsn(rng: Rng, bits: 32 | 64): number[] {
  // REX (64-bit code), after an FS/GS override now and then.
  const rex = [...[[], [], [], [0x64], [0x65]][rng.below(5)]!,
    ...(bits === 64 ? [[], [0x48], [0x4c], [0x49], [0x4d], [0x41], [0x44]][rng.below(7)]! : [])];
  const reg = rng.below(8);
  const rm = rng.below(8);
  const imm32 = () => [rng.u32() & 0xff, rng.u32() & 0xff, rng.u32() & 0xff, rng.below(2) ? 0xff : rng.u32() & 0x7f];
  const mem = (r = reg) => {
    // [base + disp8], [base + disp32] (base registers point at DATA, see runWith), [rsp + disp8],
    // [rip + disp32] into DATA, [base + index * scale + disp8].
    const base = [0, 1, 2, 3, 5, 6, 7][rng.below(7)]!;
    switch (rng.below(5)) {
      case 0: return [0x40 | (r << 3) | base, rng.u32() & 0xff];
      case 1: return [0x80 | (r << 3) | base, ...imm32()];
      case 2: return [0x44 | (r << 3), 0x24, rng.u32() & 0xff];
      case 3: {
        const disp = DATA - 0x100000 - 16 + rng.below(0x10000);
        return [(r << 3) | 5, disp & 0xff, (disp >> 8) & 0xff, (disp >> 16) & 0xff, (disp >>> 24) & 0xff];
      }
      default: return [0x44 | (r << 3), (rng.below(4) << 6) | (rng.below(4) << 3) | base, rng.u32() & 0xff];
    }
  };
  switch (rng.below(15)) {
    case 14: return bits === 32 && rng.below(2) ? [0x40 + rng.below(16)] : [...rex, 0xff, 0xc0 | (rng.below(2) << 3) | rm];
    case 12: return [...rex, [0x8d, 0x63][rng.below(2)]!, ...mem()]; // LEA, MOVSXD
    case 13: return [...rex, 0x0f, [0xb6, 0xb7, 0xbe, 0xbf][rng.below(4)]!, ...(rng.below(3) ? mem() : [0xc0 | (reg << 3) | rm])];
    case 11: return [
      [0x70 + rng.below(16), rng.u32() & 0xff], [0x0f, 0x80 + rng.below(16), ...imm32()], [0xeb, rng.u32() & 0xff],
      [0xe9, ...imm32()], [0xe8, ...imm32()], [0xc3],
    ][rng.below(6)]!;
    case 8: return [...rex, [0x03, 0x0b, 0x23, 0x2b, 0x33, 0x3b][rng.below(6)]!, ...mem()];
    case 9: return [...rex, 0x81, ...mem(7), ...imm32()];
    case 10: return rng.below(2) ? [...rex, 0x83, ...mem(7), rng.u32() & 0xff] : [...rex, 0xf7, ...mem(0), ...imm32()];
    case 0: return [...rex, ALU_OPS[rng.below(ALU_OPS.length)]!, 0xc0 | (reg << 3) | rm];
    case 1: return [...rex, 0x81, 0xc0 | (ALU_IMM[rng.below(6)]! << 3) | rm, ...imm32()];
    case 2: return [...rex, 0x83, 0xc0 | (ALU_IMM[rng.below(6)]! << 3) | rm, rng.u32() & 0xff];
    case 3: return [...rex, [0x05, 0x0d, 0x25, 0x2d, 0x35, 0x3d, 0xa9][rng.below(7)]!, ...imm32()];
    case 4: return [...rex, [0x89, 0x8b][rng.below(2)]!, 0xc0 | (reg << 3) | rm];
    case 5: return [...rex, [0x89, 0x8b][rng.below(2)]!, ...mem()];
    case 6: return rng.below(2)
      ? [...rex, 0xb8 + reg, ...imm32(), ...(rex[rex.length - 1]! & 8 ? imm32() : [])]
      : [...rex, 0xc7, ...(rng.below(2) ? [0xc0 | rm] : mem(0)), ...imm32()];
    default: return bits === 64 ? [...(rex[rex.length - 1]! & 1 ? [0x41] : []), rng.below(2) ? 0x50 + reg : 0x58 + reg] : [0x90];
  }
}

const machines = new Map<string, Cpu>();

/** Runs one instruction through `handler` from the state `seed` describes; returns the outcome. */
function runWith(bits: 32 | 64, bytes: number[], seed: number, fast: boolean): { state: Int32Array; ram: Uint8Array; fault: number; bound: boolean } {
  const key = `${bits}${fast}`;
  const cpu = machines.get(key) ?? machines.set(key, machine(bits)).get(key)!;
  const rng = new Rng(seed);
  for (let r = 0; r < (bits === 64 ? 16 : 8); r++) {
    const v = rng.value();
    cpu.set64(r, Number(v & 0xffffffffn) | 0, bits === 64 ? Number(v >> 32n) | 0 : 0);
  }
  // Memory bases and the stack point into the data window (the stack sometimes at its unmapped page).
  for (const r of [0, 1, 2, 3, 5, 6, 7]) cpu.set64(r, DATA + 0x100 + rng.below(0x10000), 0);
  cpu.set64(4, DATA + 8 * (1 + rng.below(0x2000)), 0);
  // Now and then an index whose scaling carries into the high half (64-bit code: #PF above 4 GiB).
  if (rng.below(4) === 0) cpu.set64(1, 0x4000_0000 << rng.below(2), 0);
  // Now and then a non-canonical base (64-bit code): #SS for RSP/RBP-relative operands, else #GP.
  if (bits === 64) for (const r of [0, 4, 5, 6]) if (rng.below(12) === 0) cpu.set64(r, DATA, 0x1234_0000);
  cpu.setFlags(rng.u32() & 0x8d5);
  // FS base +0x100; GS base -0x100 (64-bit: the addition carries into the high half).
  cpu.i32[(SEGS + 4 * SEG_STRIDE + SEG_BASE) >> 2] = 0x100;
  cpu.i32[(SEGS + 5 * SEG_STRIDE + SEG_BASE) >> 2] = -0x100;
  if (bits === 64) cpu.i32[((SEGS + 5 * SEG_STRIDE + SEG_BASE) >> 2) + 1] = -1;
  for (let i = 0; i < 0x11000; i += 4) cpu.dv.setUint32(RAM_OFFSET + DATA + i, rng.u32(), true);
  if (rng.below(2)) cpu.dv.setUint32(RAM_OFFSET + cpu.lo(4) + 4, 0, true); // RET: a canonical return address
  const e = new CachedInsn();
  decode(Uint8Array.from(bytes), 0, bytes.length, bits, e);
  expect(e.status).toBe(DECODE_OK);
  const generic = bindGeneric(e);
  const [handler, aux] = fast ? bindHandler(e) : generic;
  e.exec = handler;
  e.aux = aux;
  cpu.nextLo = 0x100000 + e.length;
  cpu.nextHi = 0;
  let fault = -1;
  try {
    handler(cpu, e);
  } catch (err) {
    if (err !== CPU_FAULT) throw err;
    fault = cpu.faultVector;
  }
  const state = new Int32Array(35);
  state.set(cpu.i32.subarray(0, 32));
  state[32] = cpu.getFlags();
  state[33] = cpu.nextLo;
  state[34] = cpu.nextHi;
  return { state, ram: cpu.u8.slice(RAM_OFFSET + DATA, RAM_OFFSET + DATA + 0x11000), fault, bound: handler !== generic[0] };
}

describe('fast forms', () => {
  for (const bits of [64, 32] as const) {
    it(`agree with the generic handlers (${bits}-bit code)`, () => {
      const rng = new Rng(0x5eed + bits);
      let fastCases = 0;
      for (let i = 0; i < 1200; i++) {
        const bytes = randomInsn(rng, bits);
        const seed = rng.u32();
        const a = runWith(bits, bytes, seed, true);
        const b = runWith(bits, bytes, seed, false);
        const what = bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ');
        expect(a.fault, what).toBe(b.fault);
        expect(Array.from(a.state), what).toEqual(Array.from(b.state));
        expect(Buffer.compare(a.ram, b.ram), what).toBe(0);
        if (a.bound) fastCases++;
      }
      expect(fastCases).toBeGreaterThan(bits === 64 ? 800 : 450); // the fast forms were really chosen
    });
  }
});
