import { describe, expect, it } from 'vitest';
import type { Cpu } from '../cpu.ts';
import { unimplemented } from '../exec.ts';
import { CR4_OSXMMEXCPT } from '../mmu.ts';
import { CR4, MXCSR } from '../../state-layout.ts';
import { SSE_FLOAT_MNEMONICS } from '../testing/fuzz-sse-float.ts';
import { MXCSR_DE, MXCSR_IE, MXCSR_PE, fp, fpBegin } from './softfloat.ts';
import { fpEnd } from './sse-float-arith.ts';

// What the host cannot show: #XM becomes #UD without CR4.OSXMMEXCPT (Linux always sets it).

/** The part of a Cpu that fpEnd uses: the state words and fault(). */
function fakeCpu(cr4: number, mxcsr: number): { cpu: Cpu; i32: Int32Array } {
  const i32 = new Int32Array(Math.max(MXCSR, CR4) / 4 + 4);
  i32[CR4 >> 2] = cr4;
  i32[MXCSR >> 2] = mxcsr;
  const cpu = { i32, fault: (vector: number) => { throw new Error(`#${vector}`); } } as unknown as Cpu;
  return { cpu, i32 };
}

describe('SSE floating-point exceptions', () => {
  it('raise #XM with CR4.OSXMMEXCPT, #UD without, after setting the flags', () => {
    for (const [cr4, vector] of [[CR4_OSXMMEXCPT, '#19'], [0, '#6']] as const) {
      const { cpu, i32 } = fakeCpu(cr4, 0x1f00);
      fpBegin(0x1f00); // IM clear
      fp.flags = MXCSR_IE | MXCSR_PE;
      expect(() => fpEnd(cpu)).toThrow(vector);
      // A pre-computation exception hides the post-computation flags.
      expect(i32[MXCSR >> 2]).toBe(0x1f00 | MXCSR_IE);
    }
  });

  it('set every flag when all raised exceptions are masked', () => {
    const { cpu, i32 } = fakeCpu(CR4_OSXMMEXCPT, 0x1f80);
    fpBegin(0x1f80);
    fp.flags = MXCSR_DE | MXCSR_PE;
    fpEnd(cpu);
    expect(i32[MXCSR >> 2]).toBe(0x1f80 | MXCSR_DE | MXCSR_PE);
  });

  it('every mnemonic of the family is implemented', () => {
    const missing = unimplemented().filter((op) => SSE_FLOAT_MNEMONICS.includes(op.mnemonic));
    expect(missing.map((op) => op.encoding)).toEqual([]);
  });
});
