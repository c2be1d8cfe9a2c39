import { describe, expect, it } from 'vitest';
import { Cpu, STOP_HALT } from '../cpu.ts';
import { flat32 } from '../testing/flat32.ts';

// Instructions that exist only outside 64-bit mode, run in flat 32-bit protected mode with
// results from the SDM's definitions (compatibility-mode differential tests cover them against
// the host where the harness runs 32-bit code).

function run32(source: string): Cpu {
  const cpu = flat32(source);
  expect(cpu.run(1000)).toBe(STOP_HALT);
  return cpu;
}

const al = (cpu: Cpu) => cpu.lo(0) & 0xff;
const cf = (cpu: Cpu) => cpu.getFlags() & 1;

describe('32-bit-only instructions', () => {
  it('DAA and DAS adjust packed BCD after ADD and SUB (SDM examples)', () => {
    let cpu = run32('mov al, 0x79\nadd al, 0x35\ndaa'); // 79 + 35 = 114
    expect([al(cpu), cf(cpu)]).toEqual([0x14, 1]);
    cpu = run32('mov al, 0x35\nsub al, 0x47\ndas'); // 35 - 47 = -12 -> 88, borrow
    expect([al(cpu), cf(cpu)]).toEqual([0x88, 1]);
    cpu = run32('mov al, 0x12\nadd al, 0x34\ndaa');
    expect([al(cpu), cf(cpu)]).toEqual([0x46, 0]);
  });

  it('AAA, AAS, AAM and AAD adjust unpacked BCD', () => {
    let cpu = run32('mov ax, 0x0008\nadd al, 0x06\naaa'); // 8 + 6 = 14 -> AH 1, AL 4
    expect(cpu.lo(0) & 0xffff).toBe(0x0104);
    cpu = run32('mov ax, 0x0103\nsub al, 0x05\naas'); // 13 - 5 = 8
    expect(cpu.lo(0) & 0xffff).toBe(0x0008);
    cpu = run32('mov al, 63\naam'); // 63 -> AH 6, AL 3
    expect(cpu.lo(0) & 0xffff).toBe(0x0603);
    cpu = run32('mov ax, 0x0603\naad'); // 6, 3 -> 63
    expect(cpu.lo(0) & 0xffff).toBe(63);
  });

  it('PUSHA and POPA save and restore the eight registers (ESP skipped on POPA)', () => {
    const cpu = run32(`
      mov eax, 1
      mov ecx, 2
      mov edx, 3
      mov ebx, 4
      mov ebp, 6
      mov esi, 7
      mov edi, 8
      pusha
      mov edi, [esp]
      mov ebp, [esp + 12]     ; the saved ESP
      add dword [esp + 28], 100
      popa`);
    expect([cpu.lo(0), cpu.lo(1), cpu.lo(2), cpu.lo(3), cpu.lo(5), cpu.lo(6), cpu.lo(7)]).toEqual([101, 2, 3, 4, 6, 7, 8]);
    expect(cpu.lo(4)).toBe(0x80000);
  });

  it('ARPL raises the RPL of a selector and reports it in ZF; SALC copies CF to AL', () => {
    let cpu = run32('mov ax, 0x10\nmov bx, 0x23\narpl ax, bx');
    expect([cpu.lo(0) & 0xffff, cpu.getFlags() & 0x40]).toEqual([0x13, 0x40]);
    cpu = run32('stc\ndb 0xd6\nmov ebx, eax\nclc\ndb 0xd6');
    expect([cpu.lo(3) & 0xff, al(cpu)]).toEqual([0xff, 0]);
  });
});

describe('instructions of CPUs without BMI1/LZCNT', () => {
  it('F3 0F BC/BD (TZCNT/LZCNT encodings) execute as BSF/BSR, as CPUID does not advertise BMI1', () => {
    // rep bsf / rep bsr: a zero source sets ZF and leaves the destination (TZCNT would give 32).
    let cpu = run32('mov ecx, 7\nmov esi, 0x1000\nrep bsf ecx, esi\nmov edx, ecx\nmov esi, 0x1000\nrep bsr eax, esi');
    expect(cpu.lo(2)).toBe(12);
    expect(cpu.lo(0)).toBe(12);
    cpu = run32('mov ecx, 7\nxor esi, esi\nrep bsf ecx, esi');
    expect(cpu.lo(1)).toBe(7);
    expect(cpu.getFlags() & 0x40).toBe(0x40);
  });
});
