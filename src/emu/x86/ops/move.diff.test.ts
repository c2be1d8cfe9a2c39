import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR, nativeAvailable } from '../../testing/native.ts';
import { Rng, describeBytes, differential, type DiffCase } from '../testing/differential.ts';

// Data movement, stack and control flow against the host CPU.

const STACK = NATIVE_DATA_ADDR + 0x8000n;
const DATA_PTR = NATIVE_DATA_ADDR + 0x100n;

function makeCase(rng: Rng, hex: string, setup: (gpr: bigint[]) => void = () => {}): DiffCase {
  const code = Uint8Array.from(hex.split(' ').filter(Boolean).map((h) => Number.parseInt(h, 16)));
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  gpr[7] = DATA_PTR;
  setup(gpr);
  return {
    code,
    what: describeBytes(code),
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 },
    data: rng.bytes(2048),
  };
}

const hx = (n: number) => n.toString(16).padStart(2, '0');
const PREFIXES = ['', '66', '48', '40', '44', '41', '4d'];

describe.runIf(nativeAvailable())('data movement and control flow agree with the host CPU', () => {
  it('MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, CBW..CQO, BSWAP', () => {
    const rng = new Rng(11);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 120; n++) {
      const p = PREFIXES[rng.below(PREFIXES.length)]!;
      const modrmReg = hx(0xc0 | rng.below(64));
      const modrmMem = hx(0x47 | (rng.below(8) << 3)); // [rdi+disp8]
      const disp = hx(rng.below(0x80));
      for (const op of ['88', '89', '8a', '8b', '86', '87', '0f b6', '0f b7', '0f be', '0f bf', '63']) {
        cases.push(makeCase(rng, `${p} ${op} ${modrmReg}`));
        cases.push(makeCase(rng, `${p} ${op} ${modrmMem} ${disp}`));
      }
      cases.push(makeCase(rng, `${p} 8d ${hx(0x04 | (rng.below(8) << 3) | 0x40)} ${hx(rng.below(256))} ${disp}`)); // lea with SIB
      cases.push(makeCase(rng, `${p} c6 ${modrmMem.replace(/^./, '4')} ${disp} ${hx(rng.below(256))}`.replace(/c6 4./, 'c6 47')));
      cases.push(makeCase(rng, `${p} c7 47 ${disp} ${hx(rng.below(256))} ${hx(rng.below(256))} ${p === '66' ? '' : `${hx(rng.below(256))} ${hx(rng.below(256))}`}`));
      cases.push(makeCase(rng, `${p} ${hx(0xb0 + rng.below(8))} ${hx(rng.below(256))}`));
      cases.push(makeCase(rng, `48 ${hx(0xb8 + rng.below(8))} ${Array.from({ length: 8 }, () => hx(rng.below(256))).join(' ')}`));
      for (const op of ['98', '99', '90', '91', '97']) cases.push(makeCase(rng, `${p} ${op}`));
      cases.push(makeCase(rng, `${p === '66' ? '' : p} 0f ${hx(0xc8 + rng.below(8))}`));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('PUSH, POP, PUSHF, POPF, LEAVE, CALL, RET', () => {
    const rng = new Rng(12);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 200; n++) {
      const r = rng.below(8);
      cases.push(makeCase(rng, `${hx(0x50 + r)} ${hx(0x58 + rng.below(8))}`));
      cases.push(makeCase(rng, `66 ${hx(0x50 + r)} 41 ${hx(0x58 + rng.below(8))} 66 ${hx(0x58 + rng.below(8))}`));
      cases.push(makeCase(rng, `ff 77 ${hx(rng.below(0x80))} 8f 47 ${hx(rng.below(0x80))}`)); // push/pop memory
      cases.push(makeCase(rng, `6a ${hx(rng.below(256))} 68 ${hx(rng.below(256))} 00 00 ${hx(rng.below(256))} 58 5b`));
      cases.push(makeCase(rng, `9c 58 9d`)); // pushf; pop rax; popf (pops what was there)
      cases.push(makeCase(rng, `9c 9d`));
      cases.push(makeCase(rng, `48 89 e5 48 83 ec 20 c9`, (g) => { g[5] = STACK - 0x40n; })); // mov rbp,rsp; sub; leave
      cases.push(makeCase(rng, `e8 01 00 00 00 cc 58`)); // call next+1; (int3 skipped); pop rax
      cases.push(makeCase(rng, `e8 02 00 00 00 eb 04 48 83 04 24 00 c3`)); // call; add [rsp],0; ret
      cases.push(makeCase(rng, `e8 00 00 00 00 c2 08 00`, (g) => { g[4] = STACK; })); // call; ret 8
    }
    expect(differential(cases)).toEqual([]);
  });

  it('Jcc, SETcc, CMOVcc, LOOP, JRCXZ, flag instructions, LAHF/SAHF', () => {
    const rng = new Rng(13);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 60; n++) {
      for (let cc = 0; cc < 16; cc++) {
        // cmp rax, rbx; jcc +3; mov cl, 1 ... : observable through RCX
        cases.push(makeCase(rng, `48 39 d8 ${hx(0x70 + cc)} 02 b1 01`));
        cases.push(makeCase(rng, `39 d8 0f ${hx(0x80 + cc)} 02 00 00 00 b1 01 90`));
        cases.push(makeCase(rng, `48 39 d8 0f ${hx(0x90 + cc)} c1`));
        cases.push(makeCase(rng, `48 39 d8 0f ${hx(0x90 + cc)} 47 10`));
        cases.push(makeCase(rng, `48 39 d8 ${PREFIXES[rng.below(3)]} 0f ${hx(0x40 + cc)} ca`));
        cases.push(makeCase(rng, `${hx(0x70 + cc)} 00`)); // flags from the input RFLAGS
      }
      const small = (g: bigint[]) => { g[1] = BigInt(1 + rng.below(4)); }; // 0 would loop 2^64 times
      cases.push(makeCase(rng, `48 ff c0 e2 fb`, small)); // inc rax; loop -5
      cases.push(makeCase(rng, `48 ff c0 67 e2 fa`, small)); // loop with ecx
      cases.push(makeCase(rng, `48 39 d8 e1 00 e0 00`, small)); // loope; loopne
      cases.push(makeCase(rng, `e3 01 90 67 e3 01 90`, small)); // jrcxz; jecxz
      for (const op of ['f8', 'f9', 'f5', 'fc', 'fd', '9f', '9e']) cases.push(makeCase(rng, op));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('faults: a jump to a non-canonical address, a load from an unmapped page, UD2, INT3', () => {
    const rng = new Rng(14);
    const cases = [
      makeCase(rng, 'ff e0', (g) => { g[0] = 0x0000_8000_0000_0000n; }), // jmp rax (non-canonical)
      makeCase(rng, '48 8b 00', (g) => { g[0] = 0x7000_0000n; }), // unmapped
      makeCase(rng, '48 89 00', (g) => { g[0] = 0x7000_0000n; }),
      // Read-modify-write instructions report a write fault; CMP a read fault.
      ...['48 01 18', '48 39 18', 'f7 18', 'ff 00', '86 18', '80 30 01'].map((hex) => makeCase(rng, hex, (g) => { g[0] = 0x7000_0000n; })),
      makeCase(rng, '0f 0b'),
      makeCase(rng, '90 cc 90'),
      makeCase(rng, 'ff d0', (g) => { g[0] = NATIVE_DATA_ADDR; }), // call into the (NX) data window
    ];
    expect(differential(cases)).toEqual([]);
  });
});

describe.runIf(nativeAvailable())('ENTER, XLAT, FWAIT agree with the host CPU', () => {
  it('ENTER with nesting levels 0-4 and frame sizes, XLAT with overrides, FWAIT', () => {
    const rng = new Rng(15);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 100; n++) {
      const level = rng.below(5);
      const size = rng.below(0x200);
      const setupBp = (g: bigint[]) => { g[5] = STACK - 0x100n + BigInt(rng.below(0x40)) * 8n; };
      cases.push(makeCase(rng, `c8 ${hx(size & 0xff)} ${hx(size >> 8)} ${hx(level)}`, setupBp));
      cases.push(makeCase(rng, `66 c8 ${hx(size & 0xff)} ${hx(size >> 8)} ${hx(level)}`, setupBp));
      cases.push(makeCase(rng, `c8 ${hx(size & 0xff)} ${hx(size >> 8)} ${hx(level)} c9`, setupBp)); // enter; leave
      cases.push(makeCase(rng, `48 d7`, (g) => { g[3] = DATA_PTR; }));
      cases.push(makeCase(rng, `67 d7`, (g) => { g[3] = DATA_PTR | 0xffff_ffff_0000_0000n; }));
      cases.push(makeCase(rng, `9b`));
    }
    expect(differential(cases)).toEqual([]);
  });
});
