import { describe, expect, it } from 'vitest';
import {
  NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, NATIVE_DATA_SIZE, nativeAvailable, runNative, type X87UserState,
} from '../../testing/native.ts';
import { SEGS, SEG_BASE, SEG_STRIDE } from '../../state-layout.ts';
import { Insn, SEG_FS, SEG_GS, decode } from '../decoder.ts';
import { assemble } from '../testing/asm.ts';
import { Rng, compare, differential, describeBytes, type DiffCase } from '../testing/differential.ts';
import { fuzzableEntries, randomCase } from '../testing/fuzz.ts';
import { UserMachine } from '../testing/user64.ts';
import { SSE_INT_MNEMONICS } from '../testing/fuzz-sse-int.ts';
import { OPCODES } from '../opcodes.ts';
import { bindSseInt } from './sse-int.ts';

// MMX/SSE2/SSSE3/SSE4 integer instructions against the host CPU: a fixed-seed slice of the
// sse-int fuzz family in 64-bit and compatibility mode, glibc's string idioms as whole loops,
// every shift count class, every PCMPxSTRx imm8, CRC32 in every size, memory operands at
// aligned, misaligned, page-end and unmapped addresses (#GP, #PF, the MMX state left as it
// was on a fault, #MF first), and MASKMOVQ/MASKMOVDQU with address size and segment overrides.

const DATA = NATIVE_DATA_ADDR;
const SIZE = BigInt(NATIVE_DATA_SIZE);
const STACK = DATA + 0x8000n;
const RAX = 0;
const RCX = 1;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const UNMAPPED = 0x5000_0000n;

/** An x87 state with TOP = `top`, tags `ftw` and MMr = mm[r] (the significand of R_r). */
function x87With(top: number, ftw: number, mm: readonly bigint[]): X87UserState {
  const st = new Uint8Array(80);
  const dv = new DataView(st.buffer);
  for (let r = 0; r < 8; r++) {
    const i = (r - top) & 7; // ST(i) is R_((TOP + i) mod 8)
    dv.setBigUint64(i * 10, mm[r] ?? 0n, true);
    dv.setUint16(i * 10 + 8, 0xffff, true);
  }
  return { fcw: 0x37f, fsw: top << 11, ftw, st };
}

function randomXmm(rng: Rng): Uint8Array {
  return rng.bytes(256);
}

/** A case from raw bytes with random registers (RSP on the stack, RDI in the data window). */
function bytesCase(rng: Rng, code: number[] | Uint8Array, over: Partial<Record<number, bigint>> = {}, extra: Partial<DiffCase> = {}): DiffCase {
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  gpr[RDI] = DATA + 0x400n;
  for (const [r, v] of Object.entries(over)) gpr[Number(r)] = v!;
  const bytes = Uint8Array.from(code);
  const mm = Array.from({ length: 8 }, () => rng.value());
  return {
    code: bytes,
    what: describeBytes(bytes),
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: randomXmm(rng), mxcsr: 0x1f80, x87: x87With(0, 0xff, mm) },
    data: rng.bytes(0x2000),
    ...extra,
  };
}

/** A case from nasm source (64-bit, assembled once per source), registers and data given. */
const assembled = new Map<string, Uint8Array>();
function asmCase(source: string, gpr: Partial<Record<number, bigint>>, data: Uint8Array, rng: Rng): DiffCase {
  let code = assembled.get(source);
  if (!code) {
    code = assemble(`bits 64\n${source}`, Number(NATIVE_CODE_ADDR));
    assembled.set(source, code);
  }
  return { ...bytesCase(rng, code, gpr), what: source.trim().split('\n')[0]!, data };
}

/** Text without zero bytes, then a zero at `end`, in a buffer of `size` bytes. */
function cString(rng: Rng, size: number, start: number, end: number): Uint8Array {
  const data = rng.bytes(size).map((b) => b || 1);
  data[start + end] = 0;
  return data;
}

describe.runIf(nativeAvailable())('MMX/SSE integer instructions agree with the host CPU', () => {
  it('random encodings of the whole family, 64-bit and compatibility mode', () => {
    const rng = new Rng(0x55e1);
    const cases: DiffCase[] = [];
    const e64 = fuzzableEntries('sse-int');
    for (let i = 0; i < 1200; i++) cases.push(randomCase(rng, e64[i % e64.length]!));
    const e32 = fuzzableEntries('sse-int', 32);
    for (let i = 0; i < 400; i++) cases.push(randomCase(rng, e32[i % e32.length]!, 32));
    expect(differential(cases)).toEqual([]);
  });

  it("glibc's string idioms: strlen, memchr, memcmp, the pminub loop, MMX and PCMPISTRI scans", () => {
    const rng = new Rng(0x5713);
    const strlen = `
      mov rsi, rdi
      mov rcx, rdi
      and rcx, 15
      and rdi, -16
      pxor xmm1, xmm1
      movdqa xmm0, [rdi]
      pcmpeqb xmm0, xmm1
      pmovmskb edx, xmm0
      shr edx, cl
      test edx, edx
      jz .loop
      bsf eax, edx
      jmp .done
    .loop:
      add rdi, 16
      movdqa xmm0, [rdi]
      pcmpeqb xmm0, xmm1
      pmovmskb edx, xmm0
      test edx, edx
      jz .loop
      bsf edx, edx
      lea rax, [rdi + rdx]
      sub rax, rsi
    .done:`;
    const memchr = `
      movd xmm1, esi
      punpcklbw xmm1, xmm1
      punpcklwd xmm1, xmm1
      pshufd xmm1, xmm1, 0
      xor eax, eax
    .loop:
      movdqu xmm0, [rdi + rax]
      pcmpeqb xmm0, xmm1
      pmovmskb ecx, xmm0
      test ecx, ecx
      jnz .hit
      add rax, 16
      cmp rax, rdx
      jb .loop
      mov rax, -1
      jmp .done
    .hit:
      bsf ecx, ecx
      add rax, rcx
    .done:`;
    const memcmp = `
      xor eax, eax
    .loop:
      movdqu xmm0, [rdi + rax]
      movdqu xmm2, [rsi + rax]
      pcmpeqb xmm0, xmm2
      pmovmskb ecx, xmm0
      sub ecx, 0xffff
      jnz .diff
      add rax, 16
      cmp rax, rdx
      jb .loop
      xor eax, eax
      jmp .done
    .diff:
      bsf ecx, ecx
      add rax, rcx
      movzx ecx, byte [rdi + rax]
      movzx edx, byte [rsi + rax]
      mov eax, ecx
      sub eax, edx
    .done:`;
    const pminub = `
      mov rsi, rdi
      pxor xmm4, xmm4
    .loop:
      movdqa xmm0, [rdi]
      pminub xmm0, [rdi + 16]
      pminub xmm0, [rdi + 32]
      pminub xmm0, [rdi + 48]
      pcmpeqb xmm0, xmm4
      pmovmskb edx, xmm0
      test edx, edx
      jnz .tail
      add rdi, 64
      jmp .loop
    .tail:
      movdqa xmm0, [rdi]
      pcmpeqb xmm0, xmm4
      pmovmskb eax, xmm0
      movdqa xmm1, [rdi + 16]
      pcmpeqb xmm1, xmm4
      pmovmskb ecx, xmm1
      shl ecx, 16
      or eax, ecx
      movdqa xmm2, [rdi + 32]
      pcmpeqb xmm2, xmm4
      pmovmskb ecx, xmm2
      movdqa xmm3, [rdi + 48]
      pcmpeqb xmm3, xmm4
      pmovmskb edx, xmm3
      shl edx, 16
      or ecx, edx
      shl rcx, 32
      or rax, rcx
      bsf rax, rax
      add rax, rdi
      sub rax, rsi`;
    const mmxStrlen = `
      xor eax, eax
      pxor mm1, mm1
    .loop:
      movq mm0, [rdi + rax]
      pcmpeqb mm0, mm1
      pmovmskb ecx, mm0
      add rax, 8
      test ecx, ecx
      jz .loop
      bsf ecx, ecx
      lea rax, [rax + rcx - 8]`;
    const sse42Strlen = `
      mov rax, -16
      pxor xmm0, xmm0
    .loop:
      add rax, 16
      pcmpistri xmm0, [rdi + rax], 0x08
      jnz .loop
      add rax, rcx`;
    const strstr = `
      movdqu xmm1, [rsi]
      xor eax, eax
    .loop:
      pcmpistri xmm1, [rdi + rax], 0x0c
      jc .found
      add rax, 16
      cmp rax, 0x200
      jb .loop
    .found:
      add rax, rcx`;
    const cases: DiffCase[] = [];
    for (let n = 0; n < 40; n++) {
      const start = rng.below(64);
      const len = rng.below(n < 20 ? 40 : 600);
      const data = cString(rng, 0x1000, 0x100 + start, len);
      const str = DATA + 0x100n + BigInt(start);
      cases.push(asmCase(strlen, { [RDI]: str }, data, rng));
      cases.push(asmCase(pminub, { [RDI]: DATA + 0x100n }, data, rng));
      cases.push(asmCase(mmxStrlen, { [RDI]: str }, data, rng));
      cases.push(asmCase(sse42Strlen, { [RDI]: str }, data, rng));
      // memchr for a byte that is (or, now and then, is not) in the buffer.
      const c = rng.below(4) ? data[0x100 + start + rng.below(len + 1)]! : 0x100 + rng.below(0x100);
      cases.push(asmCase(memchr, { [RDI]: str, [RSI]: BigInt(c), [RDX]: BigInt(len + 1) }, data, rng));
      // memcmp of two copies that differ at a random place (or nowhere).
      const other = new Uint8Array(data);
      other.copyWithin(0x800, 0x100 + start, 0x100 + start + 0x300);
      if (rng.below(4)) other[0x800 + rng.below(len + 1)]! ^= 1 << rng.below(8);
      cases.push(asmCase(memcmp, { [RDI]: str, [RSI]: DATA + 0x800n, [RDX]: BigInt(len + 1) }, other, rng));
      // strstr of a needle taken from the text (sometimes altered), needle at 0xc00.
      const hay = cString(rng, 0x1000, 0x100 + start, len).map((b) => 0x61 + (b % 3));
      hay[0x100 + start + len] = 0;
      const nlen = 1 + rng.below(6);
      const from = 0x100 + start + rng.below(Math.max(1, len - nlen));
      hay.copyWithin(0xc00, from, from + nlen);
      hay.fill(0, 0xc00 + nlen, 0xc20);
      cases.push(asmCase(strstr, { [RDI]: str, [RSI]: DATA + 0xc00n }, hay, rng));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('shifts: every register-count class (0, width - 1, width, huge), immediates around the widths', () => {
    const rng = new Rng(0x5417);
    const counts = [0n, 1n, 7n, 8n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 65n, 255n, 256n, 1n << 32n, (1n << 64n) - 1n];
    const cases: DiffCase[] = [];
    // By register: psrlw psrld psrlq psraw psrad psllw pslld psllq (D1 D2 D3 E1 E2 F1 F2 F3).
    for (const op of [0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1, 0xf2, 0xf3]) {
      for (const count of counts) {
        // XMM: xmm0 by xmm1 (count in its low quadword, junk above), and by [rdi] (aligned).
        const c = bytesCase(rng, [0x66, 0x0f, op, 0xc1]);
        new DataView(c.state.xmm.buffer).setBigUint64(16, count, true);
        cases.push(c);
        const m = bytesCase(rng, [0x66, 0x0f, op, 0x07], { [RDI]: DATA + 0x400n });
        new DataView(m.data.buffer).setBigUint64(0x400, count, true);
        cases.push(m);
        // MMX: mm0 by mm1.
        const mm = Array.from({ length: 8 }, () => rng.value());
        mm[1] = count;
        cases.push({ ...bytesCase(rng, [0x0f, op, 0xc1]), state: { ...c.state, x87: x87With(rng.below(8), rng.u32() & 0xff, mm) } });
      }
    }
    // By immediate: 71/72/73 with /2 /4 /6 (and /3 /7 for the XMM byte shifts).
    const imms = [0, 1, 2, 7, 8, 9, 14, 15, 16, 17, 30, 31, 32, 33, 62, 63, 64, 65, 127, 128, 200, 255];
    const groups: [number, number, boolean][] = [
      [0x71, 2, true], [0x71, 4, true], [0x71, 6, true], [0x72, 2, true], [0x72, 4, true], [0x72, 6, true],
      [0x73, 2, true], [0x73, 6, true], [0x73, 3, false], [0x73, 7, false],
    ];
    for (const [op, reg, mmx] of groups) {
      for (const imm of imms) {
        const rm = rng.below(8);
        cases.push(bytesCase(rng, [0x66, 0x0f, op, 0xc0 | (reg << 3) | rm, imm]));
        if (mmx) cases.push(bytesCase(rng, [0x0f, op, 0xc0 | (reg << 3) | rm, imm]));
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM with every imm8', () => {
    const rng = new Rng(0x5c42);
    const cases: DiffCase[] = [];
    const text = (n: number, alphabet: string) => Array.from({ length: n }, () => alphabet.charCodeAt(rng.below(alphabet.length)));
    for (const op of [0x60, 0x61, 0x62, 0x63]) {
      for (let imm = 0; imm < 256; imm++) {
        for (let k = rng.below(2); k < 3; k += 2) {
          const mem = rng.below(3) === 0;
          const modrm = mem ? 0x47 : 0xc1; // xmm0, [rdi + disp8] or xmm0, xmm1
          const disp = mem ? [rng.below(32)] : [];
          const explicit = op < 0x62;
          const rexW = explicit && rng.below(4) === 0;
          const c = bytesCase(rng, [0x66, ...(rexW ? [0x48] : []), 0x0f, 0x3a, op, modrm, ...disp, imm], {
            [RAX]: BigInt.asUintN(64, BigInt(rng.below(41) - 20)),
            [RDX]: BigInt.asUintN(64, BigInt(rng.below(41) - 20)),
          });
          // Operand A (xmm0) and B (xmm1 and the memory at rdi): short texts from small
          // alphabets (so that sets, ranges and needles match), zero-terminated now and then.
          const alphabet = ['ab', 'abcAZ', 'a\u0001\u00ff\u0080'][k]!;
          const a = text(16, alphabet);
          const b = text(16, alphabet);
          if (k === 1) a.splice(0, 4, 0x61, 0x62, 0x41, 0x5a); // ranges a-b, A-Z
          if (rng.below(2)) a[rng.below(16)] = 0;
          if (rng.below(2)) b[rng.below(16)] = 0;
          c.state.xmm.set(a, 0);
          c.state.xmm.set(b, 16);
          if (mem) c.data.set(b, 0x400 + disp[0]!);
          cases.push(c);
        }
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('CRC32 r32/r64 with r/m8 (AH..BH and SPL..DIL), r/m16 (66), r/m32, r/m64, register and memory', () => {
    const rng = new Rng(0xc3c3);
    const cases: DiffCase[] = [];
    const forms: number[][] = [
      [0xf2, 0x0f, 0x38, 0xf0], [0xf2, 0x40, 0x0f, 0x38, 0xf0], [0xf2, 0x48, 0x0f, 0x38, 0xf0], [0xf2, 0x4d, 0x0f, 0x38, 0xf0],
      [0x66, 0xf2, 0x0f, 0x38, 0xf1], [0xf2, 0x66, 0x0f, 0x38, 0xf1], [0xf2, 0x0f, 0x38, 0xf1], [0xf2, 0x45, 0x0f, 0x38, 0xf1],
      [0xf2, 0x48, 0x0f, 0x38, 0xf1], [0xf2, 0x4c, 0x0f, 0x38, 0xf1],
    ];
    for (const form of forms) {
      for (let n = 0; n < 40; n++) {
        const mem = rng.below(3) === 0;
        const reg = rng.below(8);
        const modrm = mem ? 0x40 | (reg << 3) | 7 : 0xc0 | (reg << 3) | rng.below(8);
        cases.push(bytesCase(rng, [...form, modrm, ...(mem ? [rng.below(0x80)] : [])]));
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('memory operands: alignment, operand widths at the end of the window, unmapped pages, MMX state on faults', () => {
    const rng = new Rng(0x3e3e);
    const cases: DiffCase[] = [];
    const d = new Insn();
    const offsets = [0x400n, 0x401n, 0x408n, 0x40fn, SIZE - 1n, SIZE - 2n, SIZE - 4n, SIZE - 8n, SIZE - 16n];
    for (const op of fuzzableEntries('sse-int')) {
      // A memory form of the entry, then the same instruction at each address.
      let base: DiffCase | undefined;
      for (let t = 0; t < 50 && !base; t++) {
        const c = randomCase(rng, op);
        decode(c.code, 0, c.code.length, 64, d);
        if (d.isMemory) base = c;
      }
      if (!base) continue;
      const disp = BigInt(d.disp);
      for (const at of [...offsets.map((o) => DATA + o), UNMAPPED]) {
        const gpr = [...base.state.gpr];
        gpr[RDI] = at - disp;
        // Random TOP and tags: a fault must leave them as they were (an MMX form changes them
        // only once it completes); now and then an x87 exception is pending (#MF first).
        const x87 = x87With(rng.below(8), rng.u32() & 0xff, Array.from({ length: 8 }, () => rng.value()));
        if (rng.below(8) === 0) {
          x87.fcw = 0x37e;
          x87.fsw |= 0x8081;
        }
        cases.push({ ...base, state: { ...base.state, gpr, x87 } });
      }
    }
    // MOVNTDQA has no register form (#UD).
    for (let r = 0; r < 8; r++) cases.push(bytesCase(rng, [0x66, 0x0f, 0x38, 0x2a, 0xc0 | (r << 3) | rng.below(8)]));
    expect(differential(cases)).toEqual([]);
  });

  it('MASKMOVQ/MASKMOVDQU: page ends, 32-bit addresses (67), ignored overrides, compatibility mode', () => {
    const rng = new Rng(0x3a5c);
    const cases: DiffCase[] = [];
    const prefixes: number[][] = [[], [0x67], [0x3e], [0x26], [0x2e], [0x36], [0x67, 0x3e]];
    for (const mmx of [false, true]) {
      for (let n = 0; n < 120; n++) {
        const pre = prefixes[rng.below(prefixes.length)]!;
        const code = [...pre, ...(mmx ? [] : [0x66]), 0x0f, 0xf7, 0xc0 | (rng.below(8) << 3) | rng.below(8)];
        const near = rng.below(3) === 0;
        const off = near ? SIZE - 24n + BigInt(rng.below(24)) : 0x400n + BigInt(rng.below(64));
        const junk = pre.includes(0x67) ? BigInt(rng.u32()) << 32n : 0n;
        const c = bytesCase(rng, code, { [RDI]: (DATA + off) | junk });
        // Masks with a random number of selected bytes (all, none, some).
        const kind = rng.below(4);
        for (let i = 0; i < 256; i++) {
          if (kind === 0) c.state.xmm[i] = 0x80;
          else if (kind === 1) c.state.xmm[i] = c.state.xmm[i]! & 0x7f;
        }
        if (mmx) c.state.x87!.fsw = rng.below(8) << 11;
        cases.push(c);
        // The same in compatibility mode (DS flat; ES and SS overrides are flat too). A CS
        // override is left out: a write through CS is #GP there, and segment types are not
        // checked by the emulator's address computation (cpu.ts) yet.
        const c32 = bytesCase(rng, code.filter((b) => b !== 0x67 && b !== 0x2e), { [RDI]: (DATA + off) | (BigInt(rng.u32()) << 32n) }, { bits: 32 });
        cases.push({ ...c32, what: describeBytes(c32.code, 32) });
      }
    }
    // FS and GS (null selectors) in compatibility mode: #GP(0).
    for (const seg of [0x64, 0x65]) cases.push({ ...bytesCase(rng, [seg, 0x66, 0x0f, 0xf7, 0xc1], {}, { bits: 32 }) });
    expect(differential(cases)).toEqual([]);
  });

  it('MASKMOVDQU with FS and GS overrides (bases set natively with WRFSBASE/WRGSBASE)', () => {
    const rng = new Rng(0xf5f5);
    // Native: wrfsbase r8; wrgsbase r9. Emulator: the same bases preset, and 10 bytes of no-ops.
    const nativePre = [0xf3, 0x49, 0x0f, 0xae, 0xd0, 0xf3, 0x49, 0x0f, 0xae, 0xd9];
    const emuPre = [0x48, 0x89, 0xc0, 0x48, 0x89, 0xc0, 0x48, 0x89, 0xc0, 0x90];
    const natives: DiffCase[] = [];
    const emus: DiffCase[] = [];
    const bases: [bigint, bigint][] = [];
    for (let n = 0; n < 40; n++) {
      const fs = BigInt(rng.below(0x1000_0000)) & ~0xfffn;
      const gs = BigInt(rng.below(0x1000_0000));
      const seg = rng.below(2) ? 0x64 : 0x65;
      const base = seg === 0x64 ? fs : gs;
      const off = rng.below(4) ? 0x400n + BigInt(rng.below(64)) : SIZE - 8n;
      const c = bytesCase(rng, [...nativePre, seg, 0x66, 0x0f, 0xf7, 0xc0 | (rng.below(8) << 3) | rng.below(8)], {
        [RDI]: DATA + off - base, 8: fs, 9: gs,
      });
      natives.push(c);
      emus.push({ ...c, code: Uint8Array.from([...emuPre, ...c.code.subarray(nativePre.length)]) });
      bases.push([fs, gs]);
    }
    const results = runNative(natives);
    const machine = new UserMachine();
    const i32 = machine.cpu.i32;
    const mismatches: string[] = [];
    emus.forEach((c, i) => {
      const [fs, gs] = bases[i]!;
      for (const [seg, base] of [[SEG_FS, fs], [SEG_GS, gs]] as const) {
        const at = (SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2;
        i32[at] = Number(base & 0xffff_ffffn) | 0;
        i32[at + 1] = Number(base >> 32n) | 0;
      }
      const m = compare(c, results[i]!, machine.run(c));
      if (m) mismatches.push(m);
    });
    expect(mismatches).toEqual([]);
  });
});

describe('sse-int binder', () => {
  it('the fuzz family lists every mnemonic the binder claims', () => {
    const claimed = new Set(OPCODES.all.filter((op) => bindSseInt(op) !== undefined).map((op) => op.mnemonic));
    expect([...claimed].filter((m) => !SSE_INT_MNEMONICS.includes(m))).toEqual([]);
    expect(SSE_INT_MNEMONICS.filter((m) => !claimed.has(m))).toEqual([]);
  });
});

describe('CRC32 known answer (emulator only)', () => {
  it('computes CRC-32C("123456789") = 0xE3069283 with the usual inversions', () => {
    const data = new Uint8Array(0x100);
    data.set(new TextEncoder().encode('123456789'), 0x10);
    const source = `
      bits 64
      mov eax, -1
      xor ecx, ecx
    .loop:
      crc32 eax, byte [rdi + rcx]
      inc ecx
      cmp ecx, 9
      jb .loop
      not eax`;
    const code = assemble(source, Number(NATIVE_CODE_ADDR));
    const gpr = Array.from({ length: 16 }, () => 0n);
    gpr[4] = STACK;
    gpr[RDI] = DATA + 0x10n;
    const r = new UserMachine().run({ code, data, state: { gpr, rflags: 0n, xmm: new Uint8Array(256), mxcsr: 0x1f80 } });
    expect(r.fault).toBeNull();
    expect(r.state.gpr[RAX]).toBe(0xe3069283n);
    expect(r.state.gpr[RCX]).toBe(9n);
  });
});
