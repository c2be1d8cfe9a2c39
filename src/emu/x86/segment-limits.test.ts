import { describe, expect, it } from 'vitest';
import { Cpu, STOP_FAULT, STOP_HALT } from './cpu.ts';
import { CR0_PE } from './mmu.ts';
import { reset, startLongMode, startProtectedMode } from './start-state.ts';
import { ATTR_DB, ATTR_G, ATTR_P, ATTR_S, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, loadRealSegment, setSegment } from './system.ts';
import { assemble } from './testing/asm.ts';
import { CR0, RAM_OFFSET } from '../state-layout.ts';

// Segment limit checks outside 64-bit mode (SDM Vol. 3A 5.3): expand-up and expand-down data
// segments (with the B bit), #SS(0) for stack accesses, #GP(0) otherwise, the CS limit on
// fetch and on branches, and real mode's 64 KiB segments (an access straddling 0xFFFF
// faults, as on the 386 and later). Flat 32-bit and 64-bit code run without the checks.

const RAM = 2 << 20;
const CODE = 0x1000;
const VEC_SS = 12;
const VEC_GP = 13;

function newCpu(): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  cpu.stopOnFault = true;
  return cpu;
}

/** Real mode at 0000:1000 with `source` (bits 16). */
function real(source: string): Cpu {
  const cpu = newCpu();
  reset(cpu);
  cpu.u8.set(assemble(`bits 16\n${source}`, CODE), RAM_OFFSET + CODE);
  loadRealSegment(cpu, SEG_CS, 0);
  cpu.rip = BigInt(CODE);
  return cpu;
}

const CODE32 = ATTR_P | ATTR_S | 0xb | ATTR_DB | ATTR_G;
const DATA32 = ATTR_P | ATTR_S | 0x3 | ATTR_DB | ATTR_G;
const EXPAND_DOWN = 0x4;

/** Flat 32-bit protected mode at CODE with `source`; `segs` then overrides segments. */
function protected32(source: string, segs: (cpu: Cpu) => void = () => {}): Cpu {
  const cpu = newCpu();
  cpu.u8.set(assemble(`bits 32\n${source}`, CODE), RAM_OFFSET + CODE);
  startProtectedMode(cpu, CODE, 0, 0);
  cpu.setReg(4, 4, 0x80000, 0, 0);
  segs(cpu);
  return cpu;
}

/** Runs to the first fault and returns [vector, error code, EIP of the faulting instruction]. */
function fault(cpu: Cpu): [number, number, number] {
  expect(cpu.run(100)).toBe(STOP_FAULT);
  return [cpu.stopVector, cpu.stopError, Number(cpu.rip)];
}

describe('segment limits', () => {
  it('real mode: a word at DS:FFFF straddles the 64 KiB limit: #GP(0); a byte there is fine', () => {
    const cpu = real(`
      mov al, [0xffff]
      mov bl, al
      ok:
      mov ax, [0xffff]
      hlt`);
    cpu.u8[RAM_OFFSET + 0xffff] = 0x5a;
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE + 5]);
    expect(cpu.lo(3) & 0xff).toBe(0x5a);
  });

  it('real mode: PUSH at SP = 1 straddles the stack segment: #SS(0), SP unchanged; SP = 0 wraps to FFFE', () => {
    const cpu = real(`
      mov sp, 0
      mov ax, 0x1234
      push ax                 ; to SS:FFFE
      mov sp, 1
      push ax
      hlt`);
    expect(fault(cpu)).toEqual([VEC_SS, 0, CODE + 10]);
    expect(cpu.dv.getUint16(RAM_OFFSET + 0xfffe, true)).toBe(0x1234);
    expect(cpu.lo(4) & 0xffff).toBe(1);
  });

  it('real mode: an instruction that runs past CS:FFFF faults (#GP(0)) instead of wrapping', () => {
    const cpu = real('hlt');
    // At 1000:FFFE a 3-byte MOV AX, imm16 would end at 1000:10000.
    cpu.u8.set([0xb8, 0x34, 0x12], RAM_OFFSET + 0x1fffe);
    loadRealSegment(cpu, SEG_CS, 0x1000);
    cpu.rip = 0xfffen;
    expect(fault(cpu)).toEqual([VEC_GP, 0, 0xfffe]);
    // A one-byte NOP at FFFF runs; the next fetch at 1:0000 is beyond the limit.
    cpu.u8[RAM_OFFSET + 0x1ffff] = 0x90;
    cpu.rip = 0xffffn;
    expect(fault(cpu)).toEqual([VEC_GP, 0, 0x10000]);
  });

  it('expand-up data segment: the last byte of the access must be within the limit', () => {
    const cpu = protected32(`
      mov eax, [0xffc]        ; bytes FFC..FFF: inside
      mov ebx, [0xffe]        ; bytes FFE..1001: #GP(0)
      hlt`, (c) => setSegment(c, SEG_DS, 0x18, 0x100000, 0, 0xfff, DATA32 & ~ATTR_G));
    cpu.dv.setUint32(RAM_OFFSET + 0x100ffc, 0xdeadbeef, true);
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE + 5]);
    expect(cpu.lo(0) >>> 0).toBe(0xdeadbeef);
  });

  it('string instructions check every element: REP MOVSD stops at the DS limit with the elements before it copied', () => {
    const cpu = protected32(`
      mov esi, 0x7f0
      mov edi, 0x2000
      mov ecx, 8              ; elements at 7F0, 7F4, 7F8, 7FC inside, 800 beyond the limit
      cld
      rep movsd
      hlt`, (c) => setSegment(c, SEG_DS, 0x18, 0x100000, 0, 0x7ff, DATA32 & ~ATTR_G));
    for (let i = 0; i < 8; i++) cpu.dv.setUint32(RAM_OFFSET + 0x1007f0 + 4 * i, 0x1000 + i, true);
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE + 16]);
    expect(cpu.lo(1)).toBe(4); // four elements done, the fault at the fifth
    expect(cpu.lo(6) >>> 0).toBe(0x800);
    expect([0, 1, 2, 3, 4].map((i) => cpu.dv.getUint32(RAM_OFFSET + 0x2000 + 4 * i, true))).toEqual([0x1000, 0x1001, 0x1002, 0x1003, 0]);
  });

  it('real mode: LODSW at SI = FFFF straddles the 64 KiB limit: #GP(0)', () => {
    const cpu = real(`
      mov si, 0xfffe
      lodsw                   ; FFFE..FFFF: inside
      lodsw                   ; SI = 0000 after the wrap of SI: inside again
      mov si, 0xffff
      lodsw
      hlt`);
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE + 8]);
  });

  it('expand-down data segment (B = 1): offsets above the limit only', () => {
    const cpu = protected32(`
      mov eax, [es:0x1000]    ; the lowest valid offset
      mov dword [es:0xfffffffc], 0x11223344
      mov bl, [es:0xfff]      ; at the limit: #GP(0)
      hlt`, (c) => setSegment(c, SEG_ES, 0x18, 0x100000, 0, 0xfff, (DATA32 & ~ATTR_G) | EXPAND_DOWN));
    cpu.dv.setUint32(RAM_OFFSET + 0x101000, 0xcafef00d, true);
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE + 17]);
    expect(cpu.lo(0) >>> 0).toBe(0xcafef00d);
    expect(cpu.dv.getUint32(RAM_OFFSET + 0xffffc, true)).toBe(0x11223344); // base + offset wraps at 4 GiB
  });

  it('expand-down stack segment with B = 0: 16-bit SP, #SS(0) at the limit', () => {
    const cpu = protected32(`
      push ax                 ; SP 8004 -> 8002
      push ax                 ; -> 8000, the lowest valid word
      push ax                 ; -> 7FFE: below the limit: #SS(0)
      hlt`, (c) => {
      setSegment(c, SEG_SS, 0x18, 0x20000, 0, 0x7fff, ((DATA32 & ~ATTR_G) & ~ATTR_DB) | EXPAND_DOWN);
      c.setReg(4, 4, 0x12348004, 0, 0);
    });
    expect(cpu.stack16).toBe(true);
    expect(fault(cpu)).toEqual([VEC_SS, 0, CODE + 4]);
    expect(cpu.lo(4) >>> 0).toBe(0x12348000); // ESP's upper half untouched by 16-bit pushes
  });

  it('a stack segment limit gives #SS(0) for SS-relative operands, #GP(0) for others', () => {
    const cpu = protected32(`
      mov eax, [ebp]          ; SS:EBP, EBP = 0x2000 beyond SS's limit
      hlt`, (c) => {
      setSegment(c, SEG_SS, 0x18, 0, 0, 0xfff, DATA32 & ~ATTR_G);
      c.setReg(5, 4, 0x2000, 0, 0);
    });
    expect(fault(cpu)).toEqual([VEC_SS, 0, CODE]);
  });

  it('CS limit: a branch beyond it faults at the branch (#GP(0))', () => {
    const cpu = protected32(`
      jmp target
      times 0x100 nop
    target:
      hlt`, (c) => setSegment(c, SEG_CS, 0x10, 0, 0, CODE + 0xff, CODE32 & ~ATTR_G));
    expect(fault(cpu)).toEqual([VEC_GP, 0, CODE]);
  });

  it('flat 32-bit and 64-bit code run without segment checks', () => {
    const cpu = protected32('hlt');
    expect(cpu.segChecks).toBe(false);
    expect(cpu.stack16).toBe(false);
    setSegment(cpu, SEG_FS, 0x18, 0x5000, 0, -1, DATA32); // a base alone keeps code flat
    expect(cpu.segChecks).toBe(false);
    setSegment(cpu, SEG_GS, 0x18, 0, 0, 0xffff, DATA32 & ~ATTR_G);
    expect(cpu.segChecks).toBe(true);
    setSegment(cpu, SEG_GS, 0, 0, 0, 0, 0); // a null selector: unusable, not checked
    expect(cpu.segChecks).toBe(false);
    const long = newCpu();
    long.u8.set([0xf4], RAM_OFFSET + CODE);
    startLongMode(long, BigInt(CODE), 0x2000, 0, 0);
    setSegment(long, SEG_DS, 0x18, 0, 0, 0xffff, DATA32 & ~ATTR_G); // ignored in 64-bit mode
    expect(long.segChecks).toBe(false);
    expect(long.i32[CR0 >> 2]! & CR0_PE).toBe(CR0_PE);
  });

  it('a flat segment after a non-flat one: limits checked again only when needed', () => {
    const cpu = protected32(`
      mov eax, [0x1ffff0]
      hlt`, (c) => setSegment(c, SEG_DS, 0x18, 0, 0, 0xffff, DATA32 & ~ATTR_G));
    expect(fault(cpu)[0]).toBe(VEC_GP);
    setSegment(cpu, SEG_DS, 0x18, 0, 0, -1, DATA32);
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toBe(STOP_HALT);
  });

  it('LEA accesses nothing: no limit or unusable-segment fault, the offset without a base', () => {
    const cpu = real(`
      mov ebx, 0x40000
      mov ax, 0x1234
      mov ds, ax              ; base 0x12340
      lea eax, [ebx*4 + 0x100000]   ; far beyond DS's 64 KiB limit
      lea cx, [bx + si + 0xfff0]    ; 16-bit addresses wrap
      hlt`);
    cpu.setReg(6, 4, 0x20, 0, 0);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(cpu.lo(0) >>> 0).toBe(0x200000);
    expect(cpu.lo(1) & 0xffff).toBe(0x0010);
    const pm = protected32('lea eax, [ebp + 8]\nhlt', (c) => {
      setSegment(c, SEG_SS, 0x18, 0x1000, 0, 0xff, DATA32 & ~ATTR_G);
      setSegment(c, SEG_DS, 0, 0, 0, 0, 0); // null DS: unusable
      c.setReg(5, 4, 0x5000, 0, 0);
    });
    expect(pm.run(10)).toBe(STOP_HALT);
    expect(pm.lo(0)).toBe(0x5008);
  });
});
