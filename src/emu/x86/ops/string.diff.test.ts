import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR, NATIVE_DATA_SIZE, nativeAvailable, runNative } from '../../testing/native.ts';
import { SEGS, SEG_BASE, SEG_STRIDE } from '../../state-layout.ts';
import { SEG_FS, SEG_GS } from '../decoder.ts';
import { Rng, compare, differential, type DiffCase, describeBytes } from '../testing/differential.ts';
import { UserMachine } from '../testing/user64.ts';

// String instructions against the host CPU: MOVS CMPS STOS LODS SCAS in every size, with and
// without REP/REPE/REPNE, both directions, counts from 0 to whole pages and the whole window,
// overlapping moves, 32-bit addressing (67), segment overrides, and faults in the middle of a
// repeated instruction (the registers must describe the progress exactly as the host's do).

const DATA = NATIVE_DATA_ADDR;
const SIZE = NATIVE_DATA_SIZE;
const M64 = (1n << 64n) - 1n;
const ALL_FLAGS = 0xcd5;
const DF = 0x400;
const RAX = 0;
const RCX = 1;
const RSP = 4;
const RSI = 6;
const RDI = 7;

type Op = 'movs' | 'cmps' | 'stos' | 'lods' | 'scas';
const OPS: readonly Op[] = ['movs', 'cmps', 'stos', 'lods', 'scas'];
const OPCODE: Record<Op, number> = { movs: 0xa4, cmps: 0xa6, stos: 0xaa, lods: 0xac, scas: 0xae };
const SIZES = [1, 2, 4, 8] as const;
const readsSource = (op: Op) => op === 'movs' || op === 'cmps' || op === 'lods';
const usesDest = (op: Op) => op !== 'lods';

interface Spec {
  op: Op;
  k: number;
  /** 0, 0xF3 or 0xF2. */
  rep: number;
  /** Both F2 and F3, with `rep` the last of them. */
  both?: boolean;
  df: boolean;
  ad32?: boolean;
  /** A segment-override prefix byte (0x26 0x2E 0x36 0x3E 0x64 0x65). */
  seg?: number;
  /** RCX (ECX with ad32; the upper half is then random). */
  count: bigint;
  /** Byte offsets of rSI and rDI from the data window (may point outside it). */
  src: number;
  dst: number;
  /** Initial window content (default: random bytes over everything the case touches). */
  data?: Uint8Array;
  rax?: bigint;
  /** Bytes placed before the instruction (FS/GS tests). */
  pre?: number[];
}


function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function encode(rng: Rng, s: Spec): number[] {
  const legacy: number[] = [];
  if (s.seg !== undefined) legacy.push(s.seg);
  if (s.ad32) legacy.push(0x67);
  if (s.k === 2) legacy.push(0x66);
  const code = shuffle(rng, legacy);
  if (s.rep) {
    // F2/F3 go anywhere among the other prefixes; with both, `rep` comes last.
    const reps = s.both ? [s.rep ^ 1, s.rep] : [s.rep];
    for (const r of reps) code.splice(code.length === 0 ? 0 : rng.below(code.length + 1), 0, r);
    if (s.both) {
      // Keep the order of the two: move `rep` after the other one if the insertion reversed them.
      const a = code.indexOf(s.rep ^ 1);
      const b = code.lastIndexOf(s.rep);
      if (b < a) [code[a], code[b]] = [code[b]!, code[a]!];
    }
  }
  if (s.k === 8) code.push(0x48);
  else if (rng.below(8) === 0) code.push(0x40); // a REX without W changes nothing
  code.push(OPCODE[s.op] + (s.k === 1 ? 0 : 1));
  return code;
}

/** Offset range [lo, hi) of the bytes `n` elements touch from offset `at`. */
function extent(at: number, n: number, k: number, df: boolean): [number, number] {
  if (n <= 0) return [at, at + k];
  return df ? [at - (n - 1) * k, at + k] : [at, at + n * k];
}

function makeCase(rng: Rng, s: Spec): DiffCase {
  const rep = s.rep !== 0;
  const elements = rep ? Number(s.count & 0xffff_ffffn) : 1;
  const gpr = Array.from({ length: 16 }, () => rng.value());
  const upper = () => (s.ad32 ? BigInt((rng.u32() | 1) >>> 0) << 32n : 0n);
  gpr[RSP] = DATA + 0x8000n;
  gpr[RSI] = ((DATA + BigInt(s.src)) & M64) | upper();
  gpr[RDI] = ((DATA + BigInt(s.dst)) & M64) | upper();
  gpr[RCX] = s.count | upper();
  if (s.rax !== undefined) gpr[RAX] = s.rax;
  let data = s.data;
  if (!data) {
    // Random bytes over everything the case can touch (the rest of the window stays zero).
    let end = 64;
    for (const [at, used] of [[s.src, readsSource(s.op)], [s.dst, usesDest(s.op)]] as const) {
      if (used) end = Math.max(end, extent(at, Math.min(elements, SIZE), s.k, s.df)[1] + 16);
    }
    data = rng.bytes(Math.min(end, SIZE));
    if (s.op === 'cmps' || s.op === 'scas') craftCompare(rng, s, data, elements, gpr[RAX]!);
  }
  const code = Uint8Array.from([...(s.pre ?? []), ...encode(rng, s)]);
  const what = `${describeBytes(code.subarray(s.pre?.length ?? 0))} count=${s.count} src=${s.src} dst=${s.dst} df=${+s.df}`;
  const rflags = BigInt(rng.u32() & ALL_FLAGS & ~DF) | (s.df ? BigInt(DF) : 0n);
  return { code, what, state: { gpr, rflags, xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data, flagMask: ALL_FLAGS };
}

/**
 * Makes REPE/REPNE comparisons run for a while: the elements compare equal (REPE) or unequal
 * (REPNE) up to a random stopping element, which compares the other way (or none does).
 */
function craftCompare(rng: Rng, s: Spec, data: Uint8Array, n: number, rax: bigint): void {
  const repne = s.rep === 0xf2;
  const stop = rng.below(4) === 0 ? n : rng.below(Math.max(n, 1));
  const step = s.df ? -s.k : s.k;
  for (let i = 0; i < Math.min(n, 20000); i++) {
    const d = s.dst + i * step;
    const src = s.src + i * step;
    if (d < 0 || d + s.k > data.length) break;
    if (s.op === 'cmps' && (src < 0 || src + s.k > data.length)) break;
    const equal = (i === stop) === repne;
    for (let b = 0; b < s.k; b++) {
      data[d + b] = s.op === 'cmps' ? data[src + b]! : Number((rax >> BigInt(8 * b)) & 0xffn);
    }
    if (!equal) {
      const b = rng.below(s.k);
      data[d + b]! ^= 1 + rng.below(255);
    }
  }
}

/** A random count: 0, 1, small, a few hundred, or thousands of bytes (crossing pages). */
function randomCount(rng: Rng, k: number): number {
  switch (rng.below(6)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2 + rng.below(15);
    case 3: return 17 + rng.below(300);
    default: return Math.floor((1000 + rng.below(12000)) / k);
  }
}

/** An offset from which `n` elements of `k` bytes stay in the window (often near a page end). */
function place(rng: Rng, n: number, k: number, df: boolean): number {
  const bytes = Math.max(n, 1) * k;
  const lo = df ? bytes - k : 0;
  const hi = df ? SIZE - k : SIZE - bytes;
  let at = lo + rng.below(hi - lo + 1);
  if (rng.below(3) === 0) {
    // Put the first element next to a page boundary, sometimes straddling it.
    const page = Math.floor(at / 4096) * 4096 + 4096;
    const cand = page - k + rng.below(2 * k);
    if (cand >= lo && cand <= hi) at = cand;
  } else if (rng.below(2) === 0) {
    at -= at % k; // aligned
    if (at < lo) at += k;
  }
  return at;
}

function randomSpec(rng: Rng, op: Op, k: number, rep: number, df: boolean, extra: Partial<Spec> = {}): Spec {
  const n = rep ? randomCount(rng, k) : 1;
  const seg = rng.below(5) === 0 ? [0x26, 0x2e, 0x36, 0x3e][rng.below(4)] : undefined;
  const s: Spec = {
    op, k, rep, df, count: rep ? BigInt(n) : BigInt(rng.u32()), src: place(rng, n, k, df), dst: place(rng, n, k, df),
    ad32: rng.below(5) === 0, seg, ...extra,
  };
  return s;
}

describe.runIf(nativeAvailable())('string instructions agree with the host CPU', () => {
  it('MOVS STOS LODS: every size, REP (F3 and F2) or not, both directions, counts 0 to thousands', () => {
    const rng = new Rng(11);
    const cases: DiffCase[] = [];
    for (const op of ['movs', 'stos', 'lods'] as const) {
      for (const k of SIZES) {
        for (const rep of [0, 0xf3, 0xf2]) {
          for (const df of [false, true]) {
            for (let i = 0; i < 14; i++) cases.push(makeCase(rng, randomSpec(rng, op, k, rep, df)));
          }
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('CMPS SCAS: every size, REPE / REPNE / none, both directions, long equal or unequal runs', () => {
    const rng = new Rng(12);
    const cases: DiffCase[] = [];
    for (const op of ['cmps', 'scas'] as const) {
      for (const k of SIZES) {
        for (const rep of [0, 0xf3, 0xf2]) {
          for (const df of [false, true]) {
            for (let i = 0; i < 14; i++) {
              const s = randomSpec(rng, op, k, rep, df);
              if (op === 'scas' && rng.below(3) === 0) s.rax = BigInt(rng.below(256)) * 0x0101_0101_0101_0101n;
              cases.push(makeCase(rng, s));
            }
          }
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('overlapping MOVS: destination = source +-1 .. +-20, small and page-crossing counts', () => {
    const rng = new Rng(13);
    const cases: DiffCase[] = [];
    for (const k of SIZES) {
      for (const df of [false, true]) {
        for (let dist = -20; dist <= 20; dist++) {
          for (const big of [false, true]) {
            const n = big ? Math.floor((2000 + rng.below(9000)) / k) : 1 + rng.below(40);
            const bytes = n * k;
            // Keep both ranges inside the window.
            const lo = (df ? bytes - k : 0) + Math.max(0, -dist);
            const hi = (df ? SIZE - k : SIZE - bytes) - Math.max(0, dist);
            const src = lo + rng.below(hi - lo + 1);
            cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df, count: BigInt(n), src, dst: src + dist, ad32: rng.below(4) === 0 }));
          }
        }
      }
    }
    // Every small overlap: up to a few elements around 16 bytes (the emulator copies those bytewise).
    for (const k of SIZES) {
      for (const df of [false, true]) {
        for (let dist = -17; dist <= 17; dist++) {
          for (const n of new Set([1, 2, 3, Math.floor(16 / k), Math.floor(16 / k) + 1])) {
            const src = 0x2000 + rng.below(0x1000 - 24) + (df ? (n - 1) * k : 0);
            cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df, count: BigInt(n), src, dst: src + dist }));
          }
        }
      }
    }
    // The same with large distances just below and above a chunk or page.
    for (const dist of [-4097, -4096, -4095, -64, 63, 64, 65, 4095, 4096, 4097]) {
      for (const k of SIZES) {
        for (const df of [false, true]) {
          const n = Math.floor(12000 / k);
          const src = df ? 20000 + (n - 1) * k : 20000; // the range [20000, 32000) either way
          cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df, count: BigInt(n), src, dst: src + dist }));
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('both F2 and F3: the last one decides REPE or REPNE; either is REP for MOVS STOS LODS', () => {
    const rng = new Rng(18);
    const cases: DiffCase[] = [];
    for (const op of OPS) {
      for (const k of SIZES) {
        for (const rep of [0xf3, 0xf2]) {
          for (let i = 0; i < 6; i++) cases.push(makeCase(rng, randomSpec(rng, op, k, rep, rng.below(2) === 1, { both: true })));
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('32-bit addressing (67): ESI/EDI/ECX, the upper halves ignored and cleared', () => {
    const rng = new Rng(14);
    const cases: DiffCase[] = [];
    for (const op of OPS) {
      for (const k of SIZES) {
        for (const rep of op === 'cmps' || op === 'scas' ? [0, 0xf3, 0xf2] : [0, 0xf3]) {
          for (const df of [false, true]) {
            for (let i = 0; i < 5; i++) cases.push(makeCase(rng, randomSpec(rng, op, k, rep, df, { ad32: true })));
          }
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('ES CS SS DS overrides are ignored in 64-bit mode', () => {
    const rng = new Rng(15);
    const cases: DiffCase[] = [];
    for (const op of OPS) {
      for (const k of SIZES) {
        for (const seg of [0x26, 0x2e, 0x36, 0x3e]) {
          for (const rep of [0, 0xf3]) {
            cases.push(makeCase(rng, randomSpec(rng, op, k, rep, rng.below(2) === 1, { seg })));
          }
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('faults in the middle of a repeated instruction leave the same progress and memory', () => {
    const rng = new Rng(16);
    const cases: DiffCase[] = [];
    for (const k of SIZES) {
      for (let i = 0; i < 6; i++) {
        const mis = i < 3 ? 0 : 1 + rng.below(k); // misaligned: the faulting element straddles the end
        const m = 1 + rng.below(i % 2 ? 3000 / k : 8);
        const count = BigInt(m + 1 + rng.below(50));
        const total = Number(count) * k;
        // Forward off the end of the window: destination, source.
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: false, count, src: 0, dst: SIZE - m * k - mis }));
        cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf3, df: false, count, src: 0, dst: SIZE - m * k - mis }));
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: false, count, src: SIZE - m * k - mis, dst: 0 }));
        cases.push(makeCase(rng, { op: 'lods', k, rep: 0xf3, df: false, count, src: SIZE - m * k - mis, dst: 0 }));
        // Backward below the start: destination, source.
        const low = (m - 1) * k + (k - mis) % k;
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: true, count, src: SIZE - k - 8, dst: low }));
        cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf2, df: true, count, src: 0, dst: low }));
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: true, count, src: low, dst: SIZE - k }));
        cases.push(makeCase(rng, { op: 'lods', k, rep: 0xf3, df: true, count, src: low, dst: 0 }));
        // Comparisons that run off the end while the elements stay equal.
        const zeros = new Uint8Array(0);
        cases.push(makeCase(rng, { op: 'scas', k, rep: 0xf3, df: false, count, src: 0, dst: SIZE - m * k - mis, rax: 0n, data: zeros }));
        cases.push(makeCase(rng, { op: 'scas', k, rep: 0xf2, df: true, count, src: 0, dst: low, rax: 1n, data: zeros }));
        cases.push(makeCase(rng, { op: 'cmps', k, rep: 0xf3, df: false, count, src: SIZE - total - 64, dst: SIZE - m * k - mis, data: zeros }));
        cases.push(makeCase(rng, { op: 'cmps', k, rep: 0xf3, df: false, count, src: SIZE - m * k - mis, dst: 0, data: zeros }));
        // Non-repeated elements straddling the end.
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0, df: false, count: 5n, src: 0, dst: SIZE - k + mis }));
        cases.push(makeCase(rng, { op: 'lods', k, rep: 0, df: false, count: 5n, src: SIZE - k + mis, dst: 0 }));
      }
    }
    // Backward, the first element straddling the end of the window.
    for (const k of SIZES.filter((size) => size > 1)) {
      for (let mis = 1; mis < k; mis++) {
        const top = SIZE - k + mis;
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: true, count: 9n, src: top, dst: 1000 }));
        cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: true, count: 9n, src: 1000, dst: top }));
        cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf3, df: true, count: 9n, src: 0, dst: top }));
        cases.push(makeCase(rng, { op: 'lods', k, rep: 0xf3, df: true, count: 9n, src: top, dst: 0 }));
        cases.push(makeCase(rng, { op: 'scas', k, rep: 0xf3, df: true, count: 9n, src: 0, dst: top }));
      }
    }
    // Huge counts: the whole window (more than one execution's share), then the fault.
    for (const k of SIZES) {
      cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf3, df: false, count: (1n << 40n) + 5n, src: 0, dst: 0 }));
      cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf3, df: false, count: BigInt(SIZE / k + 7), src: 0, dst: 0 }));
      cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: false, count: 1n << 63n, src: 0, dst: 0 }));
      cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: true, count: M64, src: SIZE - k, dst: SIZE - k - 3 }));
      cases.push(makeCase(rng, { op: 'stos', k, rep: 0xf3, df: false, count: BigInt(SIZE / k), src: 0, dst: 0 }));
      cases.push(makeCase(rng, { op: 'movs', k, rep: 0xf3, df: false, count: BigInt(SIZE / k), src: 0, dst: 0 }));
      cases.push(makeCase(rng, { op: 'lods', k, rep: 0xf3, df: false, count: 0xffff_ffffn, src: 0, dst: 0, ad32: true }));
    }
    const mismatches = differential(cases);
    expect(mismatches).toEqual([]);
  });

  it('FS and GS overrides add the segment base (bases set natively with WRFSBASE/WRGSBASE)', () => {
    const rng = new Rng(17);
    // Native: wrfsbase r8; wrgsbase r9. Emulator: the same bases preset, and 10 bytes of no-ops.
    const nativePre = [0xf3, 0x49, 0x0f, 0xae, 0xd0, 0xf3, 0x49, 0x0f, 0xae, 0xd9];
    const emuPre = [0x48, 0x89, 0xc0, 0x48, 0x89, 0xc0, 0x48, 0x89, 0xc0, 0x90];
    // rSI stays canonical: the host (AMD Zen) raises #GP for a non-canonical offset even when
    // base + offset is canonical (e.g. GS base 0xffff800000000000, rSI 0x800010000000).
    const bases: [bigint, bigint][] = [
      [0x1000n, 0x2345n], [0n, 0x0fff_0000n], [0xffff_ffff_ffff_f000n, 0xffff_ffff_8000_0000n], [0x7fff_0000_0000n, 0x10n],
    ];
    const natives: DiffCase[] = [];
    const emus: DiffCase[] = [];
    const setups: [bigint, bigint][] = [];
    for (const op of ['movs', 'cmps', 'lods', 'stos', 'scas'] as const) {
      for (const k of SIZES) {
        for (let i = 0; i < 10; i++) {
          const [fs, gs] = bases[rng.below(bases.length)]!;
          const seg = rng.below(2) ? 0x64 : 0x65;
          const base = seg === 0x64 ? fs : gs;
          const df = rng.below(2) === 1;
          const spec = randomSpec(rng, op, k, [0, 0xf3, 0xf2][rng.below(3)]!, df, { seg, ad32: false });
          if (rng.below(3) === 0 && base <= DATA) {
            spec.ad32 = true; // ESI zero-extended, then the base added in 64 bits
          }
          // rSI such that base + rSI is the wanted source address (wrapping modulo 2^64).
          const c = makeCase(rng, { ...spec, pre: nativePre });
          const rsi = (DATA + BigInt(spec.src) - base) & M64;
          c.state.gpr[RSI] = spec.ad32 ? (rsi & 0xffff_ffffn) | (BigInt(rng.u32()) << 32n) : rsi;
          c.state.gpr[8] = fs;
          c.state.gpr[9] = gs;
          const e: DiffCase = { ...c, code: Uint8Array.from([...emuPre, ...c.code.subarray(nativePre.length)]) };
          natives.push(c);
          emus.push(e);
          setups.push([fs, gs]);
        }
      }
    }
    const results = runNative(natives);
    const machine = new UserMachine();
    const i32 = machine.cpu.i32;
    const mismatches: string[] = [];
    emus.forEach((c, i) => {
      const [fs, gs] = setups[i]!;
      for (const [seg, base] of [[SEG_FS, fs], [SEG_GS, gs]] as const) {
        const at = (SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2;
        i32[at] = Number(base & 0xffff_ffffn) | 0;
        i32[at + 1] = Number(base >> 32n) | 0;
      }
      const m = compare(c, results[i]!, machine.run(c));
      if (m && mismatches.length < 20) mismatches.push(m);
    });
    expect(mismatches).toEqual([]);
  });
});
