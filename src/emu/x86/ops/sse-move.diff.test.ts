import { describe, expect, it } from 'vitest';
import { NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, nativeAvailable, zeroState } from '../../testing/native.ts';
import { assemble } from '../testing/asm.ts';
import { Rng, differential, type DiffCase } from '../testing/differential.ts';
import { fuzzableEntries, randomCase, randomSimdState } from '../testing/fuzz.ts';

// SSE moves, logic, MXCSR and FXSAVE/FXRSTOR against the host CPU.

const RDI = 7;
const RSP = 4;

const assembled = new Map<string, Uint8Array>();

function asmCase(src: string, rng: Rng, data: Uint8Array = new Uint8Array(0x1000), bits: 32 | 64 = 64): DiffCase {
  const text = `bits ${bits}\n${src}`;
  let code = assembled.get(text);
  if (!code) assembled.set(text, (code = assemble(text, Number(NATIVE_CODE_ADDR))));
  const state = zeroState();
  randomSimdState(rng, state);
  state.gpr = state.gpr.map(() => BigInt(rng.u32()));
  state.gpr[RDI] = NATIVE_DATA_ADDR + 0x100n;
  state.gpr[RSP] = NATIVE_DATA_ADDR + 0x8000n;
  return { code, what: src.replace(/\n/g, '; '), state, data, bits };
}

describe.runIf(nativeAvailable())('SSE moves agree with the host CPU', () => {
  it('random encodings of every move and logic instruction', () => {
    const entries = fuzzableEntries('sse-move');
    expect(entries.length).toBeGreaterThan(40);
    const rng = new Rng(7);
    const cases: DiffCase[] = [];
    for (let i = 0; i < 3000; i++) cases.push(randomCase(rng, entries[i % entries.length]!, i % 4 === 3 ? 32 : 64));
    expect(differential(cases)).toEqual([]);
  });

  it('FXSAVE/FXRSTOR round trips and images (64-bit, FXSAVE64 and 32-bit forms)', () => {
    const rng = new Rng(11);
    const data = rng.bytes(0x1000);
    new DataView(data.buffer).setUint32(0x400, 0x7f80, true); // a valid MXCSR at [rdi+0x300]
    const cases: DiffCase[] = [];
    // The image: everything but FIP/FCS/FDP/FDS (AMD stores them only with an exception
    // pending) and MXCSR_MASK (CPU-specific) is compared, by clearing those bytes after the save.
    const scrub = 'mov qword [rdi+8], 0\nmov qword [rdi+16], 0\nmov dword [rdi+28], 0';
    for (let i = 0; i < 20; i++) {
      cases.push(asmCase(`fxsave [rdi]\n${scrub}`, rng, data));
      cases.push(asmCase(`o64 fxsave [rdi]\n${scrub}`, rng, data));
      // Save, scramble everything, restore: the state must come back.
      cases.push(asmCase('fxsave [rdi]\nxorps xmm0, xmm0\nxorps xmm9, xmm9\nmovd mm3, eax\nemms\nldmxcsr [rdi+0x300]\nfxrstor [rdi]\n' + scrub, rng, data));
      cases.push(asmCase('fxsave [edi]\nfxrstor [edi]\nmov dword [edi+8], 0\nmov dword [edi+12], 0\nmov dword [edi+16], 0\nmov dword [edi+20], 0\nmov dword [edi+28], 0', rng, data, 32));
    }
    // Misaligned areas fault (#GP), and a reserved MXCSR bit in the image faults before any change.
    cases.push(asmCase('fxsave [rdi+8]', rng, data));
    const bad = data.slice();
    new DataView(bad.buffer).setUint32(0x100 + 24, 0x10000, true);
    cases.push(asmCase('fxrstor [rdi]', rng, bad));
    cases.push(asmCase('ldmxcsr [rdi+0x400]\nstmxcsr [rdi+0x500]', rng, data));
    // FXRSTOR of an image with reserved FCW bits set and unmasked pending exceptions in FSW:
    // the hardware fixes FCW's reserved bits and recomputes ES/B. (FOP, like FIP/FDP, is
    // vendor-specific here: AMD does not keep a restored FOP; it is cleared before comparing.)
    for (const [fcw, fsw] of [[0xffff, 0x0001], [0x0000, 0x3801], [0x137e, 0x0040], [0x037f, 0x80ff]]) {
      const img = data.slice();
      new DataView(img.buffer).setUint16(0x100, fcw!, true);
      new DataView(img.buffer).setUint16(0x102, fsw!, true);
      new DataView(img.buffer).setUint32(0x100 + 24, 0x1f80, true);
      cases.push(asmCase(`fxrstor [rdi]\nfxsave [rdi+0x200]\nmov word [rdi+0x206], 0\nmov qword [rdi+0x208], 0\nmov qword [rdi+0x210], 0\nmov dword [rdi+0x21c], 0\n${scrub}`, rng, img));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('MMX moves switch to the MMX state only when their memory access succeeds', () => {
    const rng = new Rng(5);
    const cases: DiffCase[] = [];
    for (const src of ['movq mm1, [0x1000]', 'movq [0x1000], mm2', 'movd mm3, [0x1000]', 'movd [0x1000], mm4',
      'movntq [0x1000], mm5', 'movq mm1, [rdi]', 'movq [rdi], mm2', 'movd eax, mm3', 'movq2dq xmm1, mm6']) {
      const c = asmCase(src, rng);
      c.state.x87 = { ...c.state.x87!, fsw: 5 << 11, ftw: 0x24 }; // TOP = 5, two registers in use
      cases.push(c);
    }
    expect(differential(cases)).toEqual([]);
  });
});
