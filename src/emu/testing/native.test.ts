import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NATIVE_CODE32_MAX,
  NATIVE_CODE_ADDR,
  NATIVE_DATA_ADDR,
  NATIVE_DATA_SIZE,
  nativeAvailable,
  nativeDataWindow,
  nativeUnavailableReason,
  runNative,
  zeroState,
  type NativeCase,
  type NativeResult,
} from './native.ts';

// Register numbers (SDM order).
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RDI = 7;
// RFLAGS bits.
const CF = 0x1n, PF = 0x4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, TF = 0x100n, DF = 0x400n, OF = 0x800n;
const FIXED = 0x202n; // bit 1 and IF, always set in user mode
const RF = 0x1_0000n; // the kernel's EFLAGS image of a fault carries RF (see NativeFault)
const ARITH = CF | PF | AF | ZF | SF | OF;
const M64 = (1n << 64n) - 1n;

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

/** A case: zero state with RSP at the top of the first 4 KiB of the data window, plus `regs`. */
function mk(code: string, regs: Partial<Record<number, bigint>> = {}, extra: Partial<NativeCase['state']> = {}, data = new Uint8Array(0)): NativeCase {
  const state = { ...zeroState(), ...extra };
  state.gpr = zeroState().gpr;
  state.gpr[RSP] = NATIVE_DATA_ADDR + 0x1000n;
  for (const [r, v] of Object.entries(regs)) state.gpr[Number(r)] = v!;
  return { code: bytes(code), state, data };
}

function one(c: NativeCase): NativeResult {
  const [r] = runNative([c]);
  return r!;
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function dwords(xmm: Uint8Array, reg: number): number[] {
  const dv = new DataView(xmm.buffer, xmm.byteOffset + reg * 16, 16);
  return [0, 4, 8, 12].map((o) => dv.getUint32(o, true));
}

const parity = (v: bigint): bigint => {
  let b = Number(v & 0xffn), n = 0;
  while (b) { n += b & 1; b >>= 1; }
  return n % 2 === 0 ? PF : 0n;
};

/** Reference RAX and arithmetic flags of `add rax, rbx` / `sub rax, rbx` (SDM, ADD/SUB). */
function addSub(op: 'add' | 'sub', a: bigint, b: bigint): { rax: bigint; flags: bigint } {
  const res = (op === 'add' ? a + b : a - b) & M64;
  let flags = parity(res);
  if (op === 'add' ? a + b > M64 : a < b) flags |= CF;
  if (res === 0n) flags |= ZF;
  if (res >> 63n) flags |= SF;
  const of = op === 'add' ? (a ^ res) & (b ^ res) : (a ^ b) & (a ^ res);
  if (of >> 63n) flags |= OF;
  if (((a ^ b ^ res) >> 4n) & 1n) flags |= AF;
  return { rax: res, flags };
}

const onX64Linux = process.platform === 'linux' && process.arch === 'x64';
if (!onX64Linux) console.warn(`native harness tests skipped: ${nativeUnavailableReason()}`);

describe.runIf(onX64Linux)('native harness', () => {
  it('is available (gcc installed; scripts/install-test-deps.sh)', () => {
    expect(nativeAvailable(), nativeUnavailableReason() ?? '').toBe(true);
  });

  it('add rax, rbx: result and CF PF AF ZF SF OF as the SDM defines them', () => {
    const add = '48 01 d8';
    const cases: [bigint, bigint, bigint, bigint][] = [
      // a, b, RAX, flags (worked out by hand)
      // ffff_ffff_ffff_ffff + 1 = 0, carry out of bit 63 and of bit 3; low byte 00 has even parity.
      [M64, 1n, 0n, CF | PF | AF | ZF],
      // 7fff_ffff_ffff_ffff + 1 = 8000_0000_0000_0000: signed overflow, sign set, carry from bit 3.
      [0x7fff_ffff_ffff_ffffn, 1n, 0x8000_0000_0000_0000n, PF | AF | SF | OF],
      // 0x12 + 0x34 = 0x46 = 0100_0110b: three ones (odd parity), 2+4 no nibble carry.
      [0x12n, 0x34n, 0x46n, 0n],
      // 8000.. + 8000.. = 0: carry and overflow, no nibble carry.
      [0x8000_0000_0000_0000n, 0x8000_0000_0000_0000n, 0n, CF | PF | ZF | OF],
    ];
    const results = runNative(cases.map(([a, b]) => mk(add, { [RAX]: a, [RBX]: b })));
    results.forEach((r, i) => {
      const [a, b, rax, flags] = cases[i]!;
      expect(r.fault).toBeNull();
      expect(r.state.gpr[RAX], `RAX of ${a} + ${b}`).toBe(rax);
      expect(r.state.gpr[RBX]).toBe(b);
      expect(r.state.rflags, `RFLAGS of ${a} + ${b}`).toBe(FIXED | flags);
      expect(addSub('add', a, b)).toEqual({ rax, flags }); // the reference used below agrees
    });
  });

  it('honours only CF PF AF ZF SF DF OF of the input RFLAGS; DF comes back set', () => {
    const [allOnes, df, arith] = runNative([
      mk('90', {}, { rflags: M64 }),
      mk('90', {}, { rflags: DF }),
      mk('90', {}, { rflags: ARITH | TF }),
    ]);
    expect(allOnes!.state.rflags).toBe(FIXED | ARITH | DF); // 0xed7: no TF, AC, ID, ...
    expect(df!.state.rflags).toBe(FIXED | DF);
    expect(arith!.state.rflags).toBe(FIXED | ARITH);
    expect(allOnes!.fault).toBeNull();
    // With DF set, stosb stores downwards.
    const r = one(mk('aa aa', { [RAX]: 0x5an, [RDI]: NATIVE_DATA_ADDR + 0x10n }, { rflags: DF }));
    expect(r.state.gpr[RDI]).toBe(NATIVE_DATA_ADDR + 0x0en);
    expect([...r.data.subarray(0x0f, 0x11)]).toEqual([0x5a, 0x5a]);
    expect(r.state.rflags & DF).toBe(DF);
  });

  it('passes every GPR through unchanged and ends with RSP as loaded', () => {
    const gpr = Array.from({ length: 16 }, (_, i) => (0x0123_4567_89ab_cdefn * BigInt(i + 1)) & M64);
    gpr[RSP] = NATIVE_DATA_ADDR + 0x800n;
    const r = one({ code: bytes('90'), state: { ...zeroState(), gpr }, data: new Uint8Array(0) });
    expect(r.state.gpr).toEqual(gpr);
  });

  it('reports a store to the data window, keeping the input data', () => {
    const input = Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd);
    const r = one(mk('48 89 07', { [RAX]: 0x1122_3344_5566_7788n, [RDI]: NATIVE_DATA_ADDR + 8n }, {}, input));
    expect(r.fault).toBeNull();
    expect(r.data.length).toBe(16); // max(input length, one past the last non-zero byte)
    expect([...r.data]).toEqual([0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    const win = nativeDataWindow(r.data);
    expect(win.length).toBe(NATIVE_DATA_SIZE);
    expect(win.subarray(16).every((b) => b === 0)).toBe(true);
  });

  it('starts every case with a fresh data window', () => {
    const store = mk('48 89 07', { [RAX]: M64, [RDI]: NATIVE_DATA_ADDR + 0x8000n });
    const [a, b] = runNative([store, mk('90', {}, {}, Uint8Array.of(1, 2))]);
    expect(a!.data.length).toBe(0x8008);
    expect([...b!.data]).toEqual([1, 2]);
  });

  it('push/pop on a stack inside the data window', () => {
    // push rax; push rbx; pop rcx; pop rdx
    const top = NATIVE_DATA_ADDR + 0x100n;
    const rax = 0x0102_0304_0506_0708n, rbx = 0xf0e0_d0c0_b0a0_9080n;
    const r = one(mk('50 53 59 5a', { [RAX]: rax, [RBX]: rbx, [RSP]: top }));
    expect(r.fault).toBeNull();
    expect(r.state.gpr[RCX]).toBe(rbx);
    expect(r.state.gpr[RDX]).toBe(rax);
    expect(r.state.gpr[RSP]).toBe(top);
    expect(r.data.subarray(0xf8, 0x100)).toEqual(u64le(rax));
    expect(r.data.subarray(0xf0, 0xf8)).toEqual(u64le(rbx));
    expect(r.data.length).toBe(0x100);
  });

  it('paddd xmm0, xmm1 changes XMM0 only; MXCSR round-trips', () => {
    const xmm = new Uint8Array(256);
    for (let i = 32; i < 256; i++) xmm[i] = (i * 37 + 11) & 0xff; // XMM2..15: a pattern
    const dv = new DataView(xmm.buffer);
    [1, 2, 0xffff_ffff, 0x7fff_ffff].forEach((v, i) => dv.setUint32(i * 4, v, true));
    [10, 20, 1, 1].forEach((v, i) => dv.setUint32(16 + i * 4, v, true));
    const mxcsr = 0x3fa1; // round down, all masked, IE and PE sticky flags set
    const r = one(mk('66 0f fe c1', {}, { xmm, mxcsr }));
    expect(r.fault).toBeNull();
    expect(dwords(r.state.xmm, 0)).toEqual([11, 22, 0, 0x8000_0000]);
    expect(dwords(r.state.xmm, 1)).toEqual([10, 20, 1, 1]);
    expect(r.state.xmm.subarray(32)).toEqual(xmm.subarray(32));
    expect(r.state.mxcsr).toBe(mxcsr);
  });

  it('loads and reports the x87 and MMX state (FXSAVE image)', () => {
    // fld1; fldpi; faddp: ST(0) = 1 + pi rounded to 64 bits (round to nearest), TOP = 7.
    const r = one(mk('d9 e8 d9 eb de c1', {}));
    expect(r.fault).toBeNull();
    const x = r.state.x87!;
    expect((x.fsw >> 11) & 7).toBe(7);
    expect(x.ftw).toBe(0x80); // R7 in use
    expect(x.fcw).toBe(0x37f);
    const st0 = new DataView(x.st.buffer, x.st.byteOffset, 10);
    expect(st0.getUint16(8, true)).toBe(0x4001); // 4.14..: exponent 1
    // FLDPI gives 0xC90FDAA22168C235 x 2^-62; adding 2^62 and normalising drops a 1 bit: a tie,
    // rounded to even.
    expect(st0.getBigUint64(0, true)).toBe(0x8487ed5110b4611an);
    // The input state is honoured: ST(0) = 2.0 in R0 with TOP = 0; fld st0 pushes a copy.
    const st = new Uint8Array(80);
    new DataView(st.buffer).setBigUint64(0, 1n << 63n, true);
    new DataView(st.buffer).setUint16(8, 0x4000, true);
    const r2 = one(mk('d9 c0', {}, { x87: { fcw: 0x37f, fsw: 0, ftw: 0x01, st } }));
    expect(r2.state.x87!.ftw).toBe(0x81);
    expect(r2.state.x87!.st.subarray(0, 10)).toEqual(st.subarray(0, 10));
    expect(r2.state.x87!.st.subarray(10, 20)).toEqual(st.subarray(0, 10));
    // MMX: movq mm3, rax writes R3's significand with exponent 0xFFFF, TOP = 0, all tags valid.
    const r3 = one(mk('48 0f 6e d8', { [RAX]: 0x1122334455667788n }));
    expect(r3.state.x87!.ftw).toBe(0xff);
    const mm3 = new DataView(r3.state.x87!.st.buffer, r3.state.x87!.st.byteOffset + 30, 10);
    expect(mm3.getBigUint64(0, true)).toBe(0x1122334455667788n);
    expect(mm3.getUint16(8, true)).toBe(0xffff);
  });

  it('reports MXCSR as the code leaves it (addss sets PE; ldmxcsr)', () => {
    const xmm = new Uint8Array(256);
    const dv = new DataView(xmm.buffer);
    dv.setFloat32(0, 1, true);
    dv.setFloat32(16, 2 ** -30, true);
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, 0x7f80, true);
    const [inexact, loaded] = runNative([
      mk('f3 0f 58 c1', {}, { xmm }), // addss xmm0, xmm1: 1 + 2^-30 rounds to 1
      mk('0f ae 17', { [RDI]: NATIVE_DATA_ADDR }, {}, data), // ldmxcsr [rdi]
    ]);
    expect(inexact!.state.mxcsr).toBe(0x1f80 | 0x20);
    expect(new DataView(inexact!.state.xmm.buffer).getFloat32(0, true)).toBe(1);
    expect(loaded!.state.mxcsr).toBe(0x7f80);
  });

  const hostHasAvx = onX64Linux && /^flags\s*:.*\bavx\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  it.runIf(hostHasAvx)('starts every case with the upper YMM halves zero', () => {
    const [dirty, read] = runNative([
      mk('c5 f4 c2 c9 00'), // vcmpeqps ymm1, ymm1, ymm1: all 256 bits of YMM1 set
      mk('c4 e3 7d 19 c8 01'), // vextractf128 xmm0, ymm1, 1
    ]);
    expect(dwords(dirty!.state.xmm, 1)).toEqual([0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff]);
    expect(read!.fault).toBeNull();
    expect(dwords(read!.state.xmm, 0)).toEqual([0, 0, 0, 0]);
  });

  it('rejects an MXCSR with reserved bits', () => {
    expect(() => runNative([mk('90', {}, { mxcsr: 0x1_1f80 })])).toThrow(/MXCSR has reserved bits/);
  });

  describe('faults', () => {
    const good = () => mk('48 01 d8', { [RAX]: 40n, [RBX]: 2n });
    const checkGood = (r: NativeResult | undefined) => {
      expect(r!.fault).toBeNull();
      expect(r!.state.gpr[RAX]).toBe(42n);
      expect(r!.state.rflags).toBe(FIXED); // 42 = 101010b: odd parity, no carries
    };

    it('#DE, #UD, #PF, #BP, #GP, #SS each fault with the kernel-reported vector; the next case still runs', () => {
      const faulting: [string, NativeCase][] = [
        ['div rcx, RCX=0', mk('48 f7 f1', { [RAX]: 7n })],
        ['inc rax; div rcx', mk('48 ff c0 48 f7 f1', { [RAX]: 7n })],
        ['ud2', mk('0f 0b')],
        ['load from 0', mk('48 8b 03')],
        ['store to 0', mk('48 89 03')],
        ['int3', mk('cc')],
        ['load non-canonical', mk('48 8b 03', { [RBX]: 0x8000_0000_0000_0000n })],
        ['push, RSP non-canonical', mk('50', { [RSP]: 0x8000_0000_0000_0000n })],
        ['int 0x10', mk('cd 10')],
        ['fetch from the data window (NX)', mk('ff e7', { [RDI]: NATIVE_DATA_ADDR })],
        ['store, then ud2', mk('48 89 07 0f 0b', { [RAX]: 0xabn, [RDI]: NATIVE_DATA_ADDR + 4n })],
      ];
      const results = runNative(faulting.flatMap(([, c]) => [c, good()]));
      const r = new Map(faulting.map(([name], i) => [name, results[2 * i]!]));
      for (let i = 1; i < results.length; i += 2) checkGood(results[i]);

      const f = (name: string) => r.get(name)!.fault!;
      expect(f('div rcx, RCX=0')).toMatchObject({ signal: 'SIGFPE', vector: 0, errorCode: 0, ripOffset: 0 });
      expect(r.get('div rcx, RCX=0')!.state.gpr[RAX]).toBe(7n);
      // The registers are those at the fault: after the inc, before the div.
      expect(f('inc rax; div rcx')).toMatchObject({ signal: 'SIGFPE', vector: 0, ripOffset: 3 });
      expect(r.get('inc rax; div rcx')!.state.gpr[RAX]).toBe(8n);
      expect(f('ud2')).toMatchObject({ signal: 'SIGILL', vector: 6, errorCode: 0, ripOffset: 0 });
      // #PF error code: U/S=1, W/R=0/1, P=0 (not present); si_addr = CR2.
      expect(f('load from 0')).toMatchObject({ signal: 'SIGSEGV', vector: 14, errorCode: 4, ripOffset: 0, address: 0n });
      expect(f('store to 0')).toMatchObject({ signal: 'SIGSEGV', vector: 14, errorCode: 6, ripOffset: 0 });
      // int3 is a trap: RIP is past the 0xCC.
      expect(f('int3')).toMatchObject({ signal: 'SIGTRAP', vector: 3, errorCode: 0, ripOffset: 1 });
      // A non-canonical address is #GP(0), no address reported; through RSP it is #SS(0) -> SIGBUS.
      expect(f('load non-canonical')).toMatchObject({ signal: 'SIGSEGV', vector: 13, errorCode: 0, ripOffset: 0, address: 0n });
      expect(f('push, RSP non-canonical')).toMatchObject({ signal: 'SIGBUS', vector: 12, errorCode: 0, ripOffset: 0 });
      // int n without a user gate: #GP with the IDT error code (n << 3 | 2).
      expect(f('int 0x10')).toMatchObject({ signal: 'SIGSEGV', vector: 13, errorCode: (0x10 << 3) | 2, ripOffset: 0 });
      // Instruction fetch from a present NX page: I/D | U/S | P; RIP is the target.
      expect(f('fetch from the data window (NX)')).toMatchObject({
        signal: 'SIGSEGV', vector: 14, errorCode: 0x15, rip: NATIVE_DATA_ADDR, address: NATIVE_DATA_ADDR,
        ripOffset: Number(NATIVE_DATA_ADDR - NATIVE_CODE_ADDR),
      });
      // Memory written before a fault is reported.
      expect(f('store, then ud2')).toMatchObject({ signal: 'SIGILL', ripOffset: 3 });
      expect(r.get('store, then ud2')!.data[4]).toBe(0xab);
      // The flags at a fault are the kernel's EFLAGS image (for these faults it also has RF).
      for (const [name] of faulting) expect(r.get(name)!.state.rflags & ~RF, name).toBe(FIXED);
    });

    it('an infinite loop (eb fe) is a TIMEOUT after about a second; the next case still runs', () => {
      const t0 = performance.now();
      const [loop, after] = runNative([mk('48 ff c0 eb fe', { [RAX]: 1n }), good()]);
      const ms = performance.now() - t0;
      expect(loop!.fault).toMatchObject({ signal: 'TIMEOUT', vector: -1, ripOffset: 3 });
      expect(loop!.state.gpr[RAX]).toBe(2n);
      expect(ms).toBeGreaterThanOrEqual(900);
      checkGood(after);
    });

    it('survives code that sets AC and TF, or clobbers FS and GS', () => {
      const setFlag = (bit: bigint) => `9c 48 81 0c 24 ${[...u64le(bit)].slice(0, 4).map((b) => b.toString(16).padStart(2, '0')).join(' ')} 9d`; // pushfq; or qword [rsp], bit; popfq
      const cases = [
        mk(`${setFlag(0x4_0000n)} 48 8b 47 01`, { [RDI]: NATIVE_DATA_ADDR }), // AC, then a misaligned load: #AC
        mk(`${setFlag(0x4_0000n)} 90`), // AC left set at the end
        mk(`${setFlag(TF)} 90 90`), // single-step trap after the first nop
        mk('31 c0 8e e0 8e e8'), // mov fs, eax; mov gs, eax (null selectors)
        mk('f3 48 0f ae d0 f3 48 0f ae d8', { [RAX]: 0x1234_5000n }), // wrfsbase rax; wrgsbase rax
        mk('f3 48 0f ae d0 0f 0b', { [RAX]: 0x1234_5000n }), // wrfsbase rax; ud2
      ];
      const results = runNative(cases.flatMap((c) => [c, good()]));
      for (let i = 1; i < results.length; i += 2) checkGood(results[i]);
      expect(results[0]!.fault).toMatchObject({ signal: 'SIGBUS', vector: 17, ripOffset: 10 });
      expect(results[2]!.fault).toBeNull();
      expect(results[2]!.state.rflags & 0x4_0000n).toBe(0x4_0000n);
      // popf sets TF: the trap comes after the instruction following popf (RIP past it).
      expect(results[4]!.fault).toMatchObject({ signal: 'SIGTRAP', vector: 1, ripOffset: 11 });
      expect(results[6]!.fault).toBeNull();
    });
  });

  it('runs 5000 random add/sub cases in one process', () => {
    let seed = 0x9e37_79b9_7f4a_7c15n;
    const rnd = (): bigint => {
      seed ^= (seed << 13n) & M64;
      seed ^= seed >> 7n;
      seed ^= (seed << 17n) & M64;
      return seed;
    };
    const edges = [0n, 1n, 0xfn, 0x10n, 0x7fn, 0x80n, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, M64];
    const pick = (): bigint => (rnd() % 4n === 0n ? edges[Number(rnd() % BigInt(edges.length))]! : rnd());
    const cases: NativeCase[] = [];
    const expected: { rax: bigint; flags: bigint }[] = [];
    for (let i = 0; i < 5000; i++) {
      const op = rnd() & 1n ? 'add' : 'sub';
      const a = pick(), b = pick(), inFlags = rnd() & (ARITH | DF);
      cases.push(mk(op === 'add' ? '48 01 d8' : '48 29 d8', { [RAX]: a, [RBX]: b }, { rflags: inFlags }));
      const e = addSub(op, a, b);
      expected.push({ rax: e.rax, flags: FIXED | e.flags | (inFlags & DF) });
    }
    const t0 = performance.now();
    const results = runNative(cases);
    console.log(`native harness: 5000 add/sub cases in ${(performance.now() - t0).toFixed(1)} ms`);
    expect(results.length).toBe(5000);
    let mismatches = 0;
    results.forEach((r, i) => {
      if (r.fault || r.state.gpr[RAX] !== expected[i]!.rax || r.state.rflags !== expected[i]!.flags) mismatches++;
    });
    expect(mismatches).toBe(0);
  });

  it('validates its input', () => {
    const bad = mk('90');
    bad.state.gpr = bad.state.gpr.slice(0, 15);
    expect(() => runNative([bad])).toThrow(/16 entries/);
    expect(() => runNative([mk('90', { [RAX]: -1n })])).toThrow(/unsigned 64-bit/);
    expect(() => runNative([mk('90', {}, {}, new Uint8Array(NATIVE_DATA_SIZE + 1))])).toThrow(/data longer/);
    expect(runNative([])).toEqual([]);
  });
});

describe.runIf(onX64Linux)('native harness: 32-bit code (compatibility mode)', () => {
  const HI = 0xdead_beef_0000_0000n; // high halves that 32-bit code cannot see
  /** A 32-bit case: every GPR has HI in its high half, RSP points into the data window. */
  const mk32 = (code: string, regs: Partial<Record<number, bigint>> = {}, extra: Partial<NativeCase['state']> = {}, data = new Uint8Array(0)): NativeCase => {
    const c = mk(code, {}, extra, data);
    for (let r = 0; r < 16; r++) c.state.gpr[r] = HI | BigInt(0x1111 * (r + 1));
    c.state.gpr[RSP] = NATIVE_DATA_ADDR + 0x1000n;
    for (const [r, v] of Object.entries(regs)) c.state.gpr[Number(r)] = v!;
    return { ...c, bits: 32 };
  };

  it('40 is INC EAX and 48 is DEC EAX, not REX; 32-bit results zero-extend, the rest keep their high halves', () => {
    const [inc, decAdd, inc16] = runNative([
      mk32('40', { [RAX]: HI | 0xffff_ffffn }),
      mk32('48 01 d8', { [RAX]: HI | 10n, [RBX]: HI | 5n }), // dec eax; add eax, ebx
      mk32('66 40', { [RAX]: HI | 0x1234_ffffn }), // inc ax
    ]);
    expect(inc!.fault).toBeNull();
    expect(inc!.state.gpr[RAX]).toBe(0n);
    expect(inc!.state.rflags).toBe(FIXED | PF | AF | ZF); // INC keeps CF (clear here)
    expect(decAdd!.state.gpr[RAX]).toBe(14n);
    expect(inc16!.state.gpr[RAX]).toBe(HI | 0x1234_0000n);
    // Registers 32-bit code cannot name (R8-R15) and the untouched ones come back unchanged.
    for (let r = 1; r < 16; r++) {
      if (r === RSP) continue;
      expect(inc!.state.gpr[r], `register ${r}`).toBe(HI | BigInt(0x1111 * (r + 1)));
    }
    expect(inc!.state.gpr[RSP]).toBe(NATIVE_DATA_ADDR + 0x1000n);
  });

  it('runs with CS 0x23 and DS = ES = SS = 0x2b; 64-bit cases before and after still see CS 0x33', () => {
    const selectors = '8c c8 8c d9 8c c2 8c d3'; // mov eax, cs; mov ecx, ds; mov edx, es; mov ebx, ss
    const [before, compat, after] = runNative([mk(selectors), mk32(selectors), mk(selectors)]);
    expect(compat!.fault).toBeNull();
    expect([RAX, RCX, RDX, RBX].map((r) => compat!.state.gpr[r])).toEqual([0x23n, 0x2bn, 0x2bn, 0x2bn]);
    expect(before!.state.gpr[RAX]).toBe(0x33n);
    expect(after!.state.gpr).toEqual(before!.state.gpr);
  });

  it('keeps the input flags through the far jumps in and out', () => {
    const [all, df, none] = runNative([mk32('90', {}, { rflags: M64 }), mk32('90', {}, { rflags: DF }), mk32('90')]);
    expect(all!.state.rflags).toBe(FIXED | ARITH | DF);
    expect(df!.state.rflags).toBe(FIXED | DF);
    expect(none!.state.rflags).toBe(FIXED);
    // add eax, ebx computes 32-bit flags: 0xffffffff + 1 carries out of bit 31.
    const add = one(mk32('01 d8', { [RAX]: 0xffff_ffffn, [RBX]: 1n }));
    expect(add.state.gpr[RAX]).toBe(0n);
    expect(add.state.rflags).toBe(FIXED | CF | PF | AF | ZF);
  });

  it('push/pop, call and ret move ESP by 4 on a stack in the data window', () => {
    // push eax; push ebx; pop ecx; pop edx
    const top = NATIVE_DATA_ADDR + 0x100n;
    const r = one(mk32('50 53 59 5a', { [RAX]: HI | 0x0102_0304n, [RBX]: HI | 0xa0b0_c0d0n, [RSP]: top }));
    expect(r.fault).toBeNull();
    expect(r.state.gpr[RCX]).toBe(0xa0b0_c0d0n);
    expect(r.state.gpr[RDX]).toBe(0x0102_0304n);
    expect(r.state.gpr[RSP]).toBe(top);
    expect([...r.data.subarray(0xf8, 0x100)]).toEqual([0xd0, 0xc0, 0xb0, 0xa0, 0x04, 0x03, 0x02, 0x01]);
    // call +1 (over an int3); pop eax: the 4-byte return address.
    const call = one(mk32('e8 01 00 00 00 cc 58', { [RSP]: top }));
    expect(call.fault).toBeNull();
    expect(call.state.gpr[RAX]).toBe(NATIVE_CODE_ADDR + 5n);
    expect(call.state.gpr[RSP]).toBe(top);
  });

  it('faults in 32-bit code report the vector and the RIP offset; the next (64-bit) case still runs', () => {
    const good = mk('48 01 d8', { [RAX]: 40n, [RBX]: 2n });
    const faulting = [
      mk32('0f 0b'), // ud2
      mk32('40 f7 f1', { [RCX]: HI }), // inc eax; div ecx (ECX = 0)
      mk32('8b 03', { [RBX]: HI }), // mov eax, [ebx]: EBX = 0
      mk32('cc'),
      mk32('66 eb 00'), // jmp with a 16-bit operand size: EIP is truncated to 0x0003
      mk32('f4'), // hlt
    ];
    const results = runNative(faulting.flatMap((c) => [c, good]));
    for (let i = 1; i < results.length; i += 2) {
      expect(results[i]!.fault).toBeNull();
      expect(results[i]!.state.gpr[RAX]).toBe(42n);
    }
    const f = (i: number) => results[2 * i]!.fault;
    expect(f(0)).toMatchObject({ signal: 'SIGILL', vector: 6, ripOffset: 0 });
    expect(f(1)).toMatchObject({ signal: 'SIGFPE', vector: 0, ripOffset: 1 });
    expect(results[2]!.state.gpr[RAX]).toBe(0x1112n); // after the inc
    expect(f(2)).toMatchObject({ signal: 'SIGSEGV', vector: 14, errorCode: 4, ripOffset: 0, address: 0n });
    expect(f(3)).toMatchObject({ signal: 'SIGTRAP', vector: 3, ripOffset: 1 });
    expect(f(4)).toMatchObject({ signal: 'SIGSEGV', vector: 14, errorCode: 0x14, rip: 3n, address: 3n });
    expect(f(5)).toMatchObject({ signal: 'SIGSEGV', vector: 13, errorCode: 0, ripOffset: 0 });
  });

  it('an infinite loop in 32-bit code is a TIMEOUT', () => {
    const [loop, after] = runNative([mk32('40 eb fe', { [RAX]: 1n }), mk('90')], { timeoutMs: 100 });
    expect(loop!.fault).toMatchObject({ signal: 'TIMEOUT', vector: -1, ripOffset: 1 });
    expect(loop!.state.gpr[RAX]).toBe(2n);
    expect(after!.fault).toBeNull();
  });

  it('takes code up to NATIVE_CODE32_MAX bytes and validates bits', () => {
    const nops = new Uint8Array(NATIVE_CODE32_MAX).fill(0x40); // inc eax, 65513 times
    const c = mk32('');
    const [r] = runNative([{ ...c, code: nops, state: { ...c.state, gpr: c.state.gpr.map((v, i) => (i === RAX ? 0n : v)) } }]);
    expect(r!.fault).toBeNull();
    expect(r!.state.gpr[RAX]).toBe(BigInt(NATIVE_CODE32_MAX));
    expect(() => runNative([{ ...c, code: new Uint8Array(NATIVE_CODE32_MAX + 1) }])).toThrow(/code longer than 65513/);
    expect(() => runNative([{ ...mk32('90'), bits: 16 as 32 }])).toThrow(/bits must be 32 or 64/);
    expect(one({ ...mk('90'), bits: 64 }).fault).toBeNull();
  });
});
