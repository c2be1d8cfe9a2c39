import { describe, expect, it } from 'vitest';
import { Cpu, STOP_FAULT, STOP_HALT } from './cpu.ts';
import { CR2, RAM_OFFSET } from '../state-layout.ts';
import { startLongMode } from './start-state.ts';
import { assemble } from './testing/asm.ts';

// The decoded-instruction cache: self-modifying code takes effect, and instructions that
// cross a page boundary are fetched from both pages (faulting on the second); cached crossing
// instructions see writes to and remaps of their second page.

const RAM = 4 << 20;

/** Long mode with 4 KiB pages for the first 2 MiB (page 0x1ff unmapped), code at 0x100000. */
function machine(source: string, origin = 0x100000): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const q = (at: number, lo: number, hi = 0) => {
    cpu.dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    cpu.dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  q(0x1000 + 0x10, 0x0000ffff, 0x00af9b00);
  q(0x1000 + 0x18, 0x0000ffff, 0x00cf9300);
  q(0x2000, 0x3000 | 3);
  q(0x3000, 0x4000 | 3);
  q(0x4000, 0x5000 | 3);
  for (let i = 0; i < 512; i++) if (i !== 0x1ff) q(0x5000 + i * 8, (i << 12) | 3);
  cpu.u8.set(assemble(`bits 64\n${source}`, origin), RAM_OFFSET + origin);
  startLongMode(cpu, BigInt(origin), 0x2000, 0x1000, 0x1f, { rsp: 0x80000n });
  cpu.stopOnFault = true;
  return cpu;
}

describe('decoded-instruction cache', () => {
  it('sees code written just ahead of execution (self-modifying code)', () => {
    const cpu = machine(`
      mov byte [rel target + 1], 0x42   ; patch the immediate of the next instruction
    target:
      mov al, 0x00
      hlt`);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(cpu.lo(0) & 0xff).toBe(0x42);
  });

  it('drops cached code that was executed before being rewritten', () => {
    const cpu = machine(`
      xor ebx, ebx
      mov ecx, 3
    again:
      call patched
      add ebx, eax
      inc byte [rel patched + 1]   ; 1, 2, 3: the cached MOV must be re-decoded each time
      loop again
      hlt
    patched:
      mov al, 1
      ret`);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(3) & 0xff).toBe(1 + 2 + 3);
  });

  it('fetches an instruction across a page boundary, and faults on an unmapped second page', () => {
    // movabs rax, imm64 (10 bytes) starting 4 bytes before the end of page 0x1fd.
    const start = 0x1fdffc;
    let cpu = machine('mov rax, 0x1122334455667788\nhlt', start);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(cpu.hi64(0)).toBe(0x11223344);
    // The same at the end of page 0x1fe: page 0x1ff is not mapped -> #PF on the fetch of its
    // bytes, RIP at the instruction, CR2 = the first byte of the unmapped page.
    cpu = machine('mov rax, 0x1122334455667788\nhlt', 0x1feffc);
    expect(cpu.run(10)).toBe(STOP_FAULT);
    expect(cpu.stopVector).toBe(14);
    expect(cpu.stopError).toBe(0); // not present, supervisor; I/D stays 0 without EFER.NXE (SDM 4.7)
    expect(cpu.rip).toBe(0x1feffcn);
    expect(cpu.i32[CR2 >> 2]).toBe(0x1ff000);
  });

  it('does not touch the second page when the instruction ends on the first', () => {
    const cpu = machine('nop\nnop\nnop\nhlt', 0x1feffc); // hlt is the last byte of page 0x1fe
    expect(cpu.run(10)).toBe(STOP_HALT);
  });

  it('re-decodes a cached instruction that crosses pages when its second page is written', () => {
    // MOV EAX, imm32 starts on the last byte of page 0x1fd; its immediate is on page 0x1fe,
    // which the loop increments each time (1, 2, 3).
    const cpu = machine(`
      xor ebx, ebx
      mov ecx, 3
      times 0xf - ($ - $$) nop
    again:
      mov eax, 1
      add ebx, eax
      inc dword [0x1fe000]
      loop again
      hlt`, 0x1fdff0);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(3)).toBe(1 + 2 + 3);
  });

  it('re-fetches the second page of a cached crossing instruction after it is remapped', () => {
    // As above; the loop maps linear page 0x1fe to physical page 0x181 (a copy whose
    // immediate is 5) after the first pass and INVLPGs it.
    const cpu = machine(`
      xor ebx, ebx
      mov ecx, 3
      times 0xf - ($ - $$) nop
    again:
      mov eax, 1
      add ebx, eax
      cmp ecx, 3
      jne skip
      mov qword [0x5000 + 0x1fe * 8], 0x181003
      invlpg [0x1fe000]
    skip:
      loop again
      hlt`, 0x1fdff0);
    cpu.u8.copyWithin(RAM_OFFSET + 0x181000, RAM_OFFSET + 0x1fe000, RAM_OFFSET + 0x1ff000);
    cpu.u8[RAM_OFFSET + 0x181000] = 5;
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(3)).toBe(1 + 5 + 5);
  });

  it('follows a remapped code page after INVLPG, also while INVLPGs of data pages keep the links', () => {
    // A loop calls a function on page 0x101; the loop remaps that linear page to another
    // physical page (0x180, holding "mov al, 2; ret") and INVLPGs it. INVLPG of a data page in
    // between must not hide the change either.
    const cpu = machine(`
      xor ebx, ebx
      mov ecx, 3
    again:
      call 0x101000           ; the same CALL each time: its branch link must not survive the remap
      add bl, al
      invlpg [0x150000]       ; a data page: links stay
      cmp ecx, 2
      jne skip
      mov qword [0x5000 + 0x101 * 8], 0x180003
      invlpg [0x101000]
    skip:
      loop again
      hlt`);
    cpu.u8.set([0xb0, 0x01, 0xc3], RAM_OFFSET + 0x101000);
    cpu.u8.set([0xb0, 0x02, 0xc3], RAM_OFFSET + 0x180000);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(3) & 0xff).toBe(1 + 1 + 2);
  });
});

