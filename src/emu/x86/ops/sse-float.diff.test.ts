import { describe, expect, it } from 'vitest';
import { NATIVE_CODE_ADDR, nativeAvailable, zeroState } from '../../testing/native.ts';
import { assemble } from '../testing/asm.ts';
import { Rng, differential, type DiffCase } from '../testing/differential.ts';
import { RCP_ULPS } from '../testing/fuzz-sse-float.ts';
import { fuzzableEntries, randomCase } from '../testing/fuzz.ts';

// SSE floating point against the host CPU: the rules measured while writing softfloat.ts
// (one case each, so that a regression names the rule), then random encodings of every
// instruction of the family with edge operands and random MXCSR settings.

const MXCSR = 0x1f80;
const IM = 0x80, DM = 0x100, ZM = 0x200, OM = 0x400, UM = 0x800, PM = 0x1000;
const RD = 0x2000, RU = 0x4000, RZ = 0x6000, FTZ = 0x8000, DAZ = 0x40;

const assembled = new Map<string, Uint8Array>();

/** One instruction (or a few) with XMM0 = a and XMM1 = b: four dwords, or two qwords as bigint. */
function fcase(src: string, a: readonly (number | bigint)[], b: readonly (number | bigint)[], mxcsr = MXCSR): DiffCase {
  const text = `bits 64\n${src}`;
  let code = assembled.get(text);
  if (!code) assembled.set(text, (code = assemble(text, Number(NATIVE_CODE_ADDR))));
  const state = zeroState();
  const dv = new DataView(state.xmm.buffer);
  for (const [reg, lanes] of [[0, a], [1, b]] as const) {
    lanes.forEach((v, i) => {
      if (typeof v === 'bigint') dv.setBigUint64(reg * 16 + 8 * i, v, true);
      else dv.setUint32(reg * 16 + 4 * i, v >>> 0, true);
    });
  }
  state.mxcsr = mxcsr;
  const what = `${src.replace(/\n/g, '; ')} mxcsr=${mxcsr.toString(16)}`;
  return { code, what, state, data: new Uint8Array(64), ...(/rcp|rsqrt/.test(src) ? { xmmUlps32: RCP_ULPS } : {}) };
}

const ONE = 0x3f800000, SNAN = 0x7fa00000, QNAN = 0x7fc00000, DEN = 0x00000001, MAX = 0x7f7fffff, INF = 0x7f800000;
const ss = (v: number) => [v, 0, 0, 0];

describe.runIf(nativeAvailable())('SSE floating point agrees with the host CPU', () => {
  it('underflow: tininess after rounding, FTZ, exact and inexact tiny results, unmasked UE', () => {
    const cases = [
      fcase('mulss xmm0, xmm1', ss(0x3f7ffffe), ss(0x00800001)),
      fcase('mulss xmm0, xmm1', ss(0x3f7ffffe), ss(0x00800001), MXCSR | FTZ),
      fcase('mulss xmm0, xmm1', ss(0x3f7ffffe), ss(0x00800001), MXCSR | RZ),
      fcase('mulss xmm0, xmm1', ss(0x3f000000), ss(0x00800000), MXCSR & ~UM),
      fcase('mulss xmm0, xmm1', ss(0x3f000000), ss(0x00800000), MXCSR | FTZ),
      fcase('mulss xmm0, xmm1', ss(0x00400001), ss(0x3f000000), MXCSR & ~UM),
      fcase('mulss xmm0, xmm1', ss(0x00400001), ss(0x3f000000), (MXCSR & ~PM) | FTZ),
      fcase('mulsd xmm0, xmm1', [0x3fefffffffffffffn, 0n], [0x0010000000000001n, 0n], MXCSR | RU),
      fcase('divsd xmm0, xmm1', [0x0010000000000000n, 0n], [0x3ff0000000000001n, 0n], MXCSR | FTZ),
      fcase('cvtsd2ss xmm0, xmm1', ss(0), [1n, 0n], MXCSR | RU),
    ];
    expect(differential(cases)).toEqual([]);
  });

  it('overflow after rounding in each mode; unmasked OE with the scaled result\'s PE', () => {
    const cases = [RZ, RD, RU, 0].map((rc) => fcase('addss xmm0, xmm1', ss(MAX), ss(0x73000000), MXCSR | rc));
    cases.push(fcase('addss xmm0, xmm1', ss(MAX), ss(MAX), MXCSR & ~OM));
    cases.push(fcase('mulss xmm0, xmm1', ss(MAX), ss(MAX), MXCSR & ~OM));
    cases.push(fcase('addsd xmm0, xmm1', [0x7fefffffffffffffn, 0n], [0x7c90000000000000n, 0n], MXCSR | RZ));
    cases.push(fcase('addsd xmm0, xmm1', [0x7fd8a903cc960f27n, 0n], [0xffefffffffffffffn, 0n], MXCSR | RU));
    expect(differential(cases)).toEqual([]);
  });

  it('operand exceptions: NaN before DE, ZE before DE, IE for 0*Inf, sqrt(-denormal), DAZ', () => {
    const cases = [
      fcase('addss xmm0, xmm1', ss(QNAN), ss(DEN)),
      fcase('addss xmm0, xmm1', ss(SNAN), ss(DEN)),
      fcase('addss xmm0, xmm1', ss(DEN), ss(INF)),
      fcase('divss xmm0, xmm1', ss(DEN), ss(0)),
      fcase('mulss xmm0, xmm1', ss(INF), ss(0x80000000)),
      fcase('sqrtss xmm0, xmm1', ss(0), ss(0x80000001)),
      fcase('addss xmm0, xmm1', ss(DEN), ss(ONE), (MXCSR & ~DM) | DAZ),
      fcase('addpd xmm0, xmm1', [0x7ff4000000000000n, 0x7ff8000000000001n], [0x7ff8000000000002n, 0x7ff0000000000001n]),
    ];
    expect(differential(cases)).toEqual([]);
  });

  it('packed exceptions: unmasked pre-computation exceptions hide the post-computation flags', () => {
    const cases = [
      fcase('addps xmm0, xmm1', [SNAN, ONE, 0, 0], [ONE, 0x3eaaaaab, 0, 0], MXCSR & ~PM),
      fcase('addps xmm0, xmm1', [SNAN, ONE, 0, 0], [ONE, 0x3eaaaaab, 0, 0], MXCSR & ~IM),
      fcase('addps xmm0, xmm1', [SNAN, ONE, 0, 0], [ONE, DEN, 0, 0], MXCSR & ~IM),
      fcase('divps xmm0, xmm1', [ONE, ONE, ONE, ONE], [0, 0x3eaaaaab, ONE, ONE], MXCSR & ~(ZM | PM)),
      fcase('mulps xmm0, xmm1', [DEN, MAX, ONE, ONE], [ONE, MAX, ONE, ONE], MXCSR & ~OM),
      fcase('comiss xmm0, xmm1', ss(QNAN), ss(ONE), MXCSR & ~IM),
      fcase('cvtss2si eax, xmm1', ss(0), ss(0x3fc00000), MXCSR & ~PM),
    ];
    expect(differential(cases)).toEqual([]);
  });

  it('MIN/MAX, compares and RCP/RSQRT special inputs', () => {
    const cases = [
      fcase('minss xmm0, xmm1', ss(0), ss(0x80000001), MXCSR | DAZ),
      fcase('minss xmm0, xmm1', ss(SNAN), ss(0x007fffff), MXCSR | DAZ),
      fcase('maxss xmm0, xmm1', ss(ONE), ss(SNAN)),
      fcase('minpd xmm0, xmm1', [0x8000000000000000n, 0x7ff8000000000000n], [0n, 1n]),
      fcase('cmpps xmm0, xmm1, 0xf9', [ONE, QNAN, DEN, 0], [ONE, ONE, 0, 0x80000000]),
      fcase('cmpsd xmm0, xmm1, 2', [0x7ff8000000000000n, 0n], [0n, 0n]),
      fcase('ucomisd xmm0, xmm1', [0x7ff8000000000000n, 0n], [0n, 0n]),
      fcase('rcpps xmm0, xmm1', [0, 0, 0, 0], [DEN, 0x7e800000, 0x7e7fffff, 0x7fa00001]),
      fcase('rsqrtps xmm0, xmm1', [0, 0, 0, 0], [0x80000001, 0xbf800000, INF, 0x40400000]),
    ];
    expect(differential(cases)).toEqual([]);
  });

  it('DPPS/DPPD: each step checks its exceptions before the next', () => {
    const cases = [
      fcase('dpps xmm0, xmm1, 0x31', [0x1f800000, ONE, 0, 0], [0x1f800000, ONE, 0, 0]),
      fcase('dpps xmm0, xmm1, 0x11', [0x1f800000, ONE, 0, 0], [0x1f800000, ONE, 0, 0], MXCSR | DAZ),
      fcase('dpps xmm0, xmm1, 0x55', [0x9c67128c, 0xbdb2475f, 0x051b697c, 0x4050a000], [0x9c67128c, 0xbdb2475f, 0x051b697c, 0x4050a000], 0x5e80),
      fcase('dpps xmm0, xmm1, 0xf1', [0x7f000000, 0x7f000000, 0xff000000, 0], [0x40000000, 0x40000000, 0x40000000, ONE]),
      fcase('dppd xmm0, xmm1, 0x31', [0xbff0000000000000n, 0xb6bd31fcb9f4528dn], [0x0010000000000001n, 0x00dab5f99ad267abn], 0x2f80),
      fcase('dppd xmm0, xmm1, 0x33', [0x1ff0000000000001n, 0x3ff0000000000000n], [0x1ff0000000000001n, 0x3ff0000000000000n]),
    ];
    expect(differential(cases)).toEqual([]);
  });

  it('random encodings of every instruction of the family', () => {
    const entries = fuzzableEntries('sse-float');
    expect(entries.length).toBeGreaterThan(75);
    const rng = new Rng(19);
    const cases: DiffCase[] = [];
    for (let i = 0; i < 4000; i++) cases.push(randomCase(rng, entries[i % entries.length]!, i % 4 === 3 ? 32 : 64));
    expect(differential(cases)).toEqual([]);
  });
});
