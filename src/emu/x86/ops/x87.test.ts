import { describe, expect, it } from 'vitest';
import { Cpu } from '../cpu.ts';
import { CR0_EM, CR0_MP, CR0_NE, CR0_PE, CR0_TS } from '../mmu.ts';
import { flat32 } from '../testing/flat32.ts';
import { CR0, FPU_FCS, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP, FPU_FSW, RAM_OFFSET } from '../../state-layout.ts';

// What the host cannot show from user mode: #NM under CR0.EM/TS/MP, CR0.NE, and the
// FIP/FDP/FOP bookkeeping (the differential tests blank those fields). Flat 32-bit protected
// mode at CPL 0; code at 1 MiB, data at 2 MiB.

const CODE = 0x100000;
const DATA = 0x200000;

function run(source: string, cr0: number): Cpu {
  const cpu = flat32(source, CODE);
  cpu.i32[CR0 >> 2] = CR0_PE | cr0;
  cpu.stopOnFault = true;
  cpu.run(1000);
  return cpu;
}

/** The vector run() stopped on, or -1 when the code reached HLT. */
function stop(cpu: Cpu): number {
  return cpu.stopVector >= 0 && !cpu.halted ? cpu.stopVector : -1;
}

describe('x87 availability and error reporting (CR0)', () => {
  it('CR0.EM or CR0.TS: every x87 instruction raises #NM, FNINIT and FNSTSW included', () => {
    for (const insn of ['fld1', 'fninit', 'fnstsw ax', 'fadd st0, st1', `fld dword [${DATA}]`, 'fnclex']) {
      expect([insn, stop(run(insn, CR0_TS | CR0_MP | CR0_NE))]).toEqual([insn, 7]);
      expect([insn, stop(run(insn, CR0_EM | CR0_NE))]).toEqual([insn, 7]);
    }
    expect(stop(run('fld1', CR0_MP | CR0_NE))).toBe(-1);
  });

  it('FWAIT raises #NM only when CR0.MP and CR0.TS are both set', () => {
    expect(stop(run('fwait', CR0_TS | CR0_MP | CR0_NE))).toBe(7);
    expect(stop(run('fwait', CR0_TS | CR0_NE))).toBe(-1);
    expect(stop(run('fwait', CR0_EM | CR0_NE))).toBe(-1);
  });

  it('a pending unmasked exception raises #MF at the next waiting instruction (CR0.NE), ES stays set', () => {
    const src = `mov word [${DATA}], 0x037b\nfldcw [${DATA}]\nfld1\nfldz\nfdivp st1, st0\nfnstsw ax\nfwait`;
    const cpu = run(src, CR0_NE | CR0_MP);
    expect(cpu.stopVector).toBe(16);
    // B, TOP = 6 (the blocked FDIVP did not pop), ES, ZE
    expect(cpu.lo(0) & 0xffff).toBe(0xb084);
    expect(cpu.i32[FPU_FSW >> 2]).toBe(0xb084);
    // FNCLEX clears it; FNINIT too.
    expect(stop(run(`${src.replace('fwait', 'fnclex')}\nfwait\nfld1`, CR0_NE))).toBe(-1);
    expect(stop(run(`${src.replace('fwait', 'fninit')}\nfwait\nfld1`, CR0_NE))).toBe(-1);
  });

  it('with CR0.NE = 0 a pending exception is not reported (FERR#/IRQ 13 is not supported)', () => {
    const cpu = run(`mov word [${DATA}], 0x037b\nfldcw [${DATA}]\nfld1\nfldz\nfdivp st1, st0\nfwait\nfld1`, 0);
    expect(cpu.halted).toBe(true);
    expect(cpu.i32[FPU_FSW >> 2]! & 0x8085).toBe(0x8084);
  });
});

describe('instruction and data pointers', () => {
  it('FIP/FCS/FOP follow the last non-control instruction; FDP/FDS the last memory operand', () => {
    const src = `
      mov ebx, ${DATA}
      fld qword [ebx + 8]     ; DD 43 08 at CODE + 5
      fld1                    ; D9 E8 at CODE + 8
      fldcw [ebx]             ; a control instruction: no change
      fnstenv [ebx + 0x40]`;
    const cpu = run(src, CR0_NE);
    expect(cpu.halted).toBe(true);
    const i32 = cpu.i32;
    expect(i32[FPU_FIP >> 2]).toBe(CODE + 8);
    expect(i32[FPU_FOP >> 2]).toBe(0x1e8);
    expect(i32[FPU_FCS >> 2]).toBe(0x10);
    expect(i32[FPU_FDP >> 2]).toBe(DATA + 8);
    expect(i32[FPU_FDS >> 2]).toBe(0x18);
    // The 28-byte image holds them, and FNSTENV masked every exception afterwards.
    const dv = cpu.dv;
    const env = RAM_OFFSET + DATA + 0x40;
    expect(dv.getUint32(env + 12, true)).toBe(CODE + 8);
    expect(dv.getUint32(env + 16, true)).toBe(0x10 | (0x1e8 << 16));
    expect(dv.getUint32(env + 20, true)).toBe(DATA + 8);
    expect(dv.getUint32(env + 24, true)).toBe(0xffff0018);
  });

  it('FNINIT clears the pointers; FLDENV loads them', () => {
    const cpu = run(`fld dword [${DATA}]\nfnstenv [${DATA + 0x40}]\nfninit\nfnstenv [${DATA + 0x80}]\nfldenv [${DATA + 0x40}]`, CR0_NE);
    expect(cpu.halted).toBe(true);
    expect(cpu.dv.getUint32(RAM_OFFSET + DATA + 0x80 + 12, true)).toBe(0);
    expect(cpu.i32[FPU_FIP >> 2]).toBe(CODE);
    expect(cpu.i32[FPU_FDP >> 2]).toBe(DATA);
  });
});

