import { describe, expect, it } from 'vitest';
import { Cpu, STOP_HALT, type IoBus } from './cpu.ts';
import { startProtectedMode } from './start-state.ts';
import { SEG_CS, SEG_DS, segSelector } from './system.ts';
import { assemble } from './testing/asm.ts';
import { RAM_OFFSET } from '../state-layout.ts';

// Virtual-8086 mode (SDM Vol. 3A 20.2-20.3): entered by IRETD from CPL 0 with VM set in the
// popped EFLAGS, real-mode segment bases at CPL 3, INT n to a ring-0 handler through the IDT
// with the 9-dword frame (GS FS DS ES SS ESP EFLAGS CS EIP) and the data segments cleared,
// IRETD back into VM86, IOPL-sensitive instructions (#GP(0) when IOPL < 3), and I/O through
// the TSS permission bitmap whatever IOPL.

const RAM = 2 << 20;
const KERNEL = 0x1000;
const GDT = 0x800;
const TSS = 0x10000;
const IDT = 0x900;
const VM_CODE = 0x20000; // CS 0x2000
const OUT = 0x6000;
const GP_OUT = 0x6200;
const GP_COUNT = 0x6400;
const GP_STOP = 0x6404;

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (((limit >>> 16) & 0xf) << 16) | (flags << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

/**
 * Ring-0 kernel in flat 32-bit protected mode: GDT 0x08 code, 0x10 data, 0x18 32-bit TSS
 * (ESP0 0x9000, SS0 0x10, I/O bitmap denying port 0x80); IDT vector 13 (#GP, DPL 0) and
 * 0x30 (DPL 3) interrupt gates, 0x31 (DPL 0). It enters VM86 at 2000:0000 with `eflags`.
 * The #GP handler records error code and frame (64 bytes apart), stops at the `gpStop`-th
 * #GP, else skips the faulting instruction and returns to VM86.
 */
function machine(vmSource: string, eflags: number, gpStop: number): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const dv = cpu.dv;
  const q = (at: number, [lo, hi]: [number, number]) => {
    dv.setUint32(RAM_OFFSET + at, lo, true);
    dv.setUint32(RAM_OFFSET + at + 4, hi, true);
  };
  q(GDT + 0x08, descriptor(0, 0xfffff, 0x9a, 0xc));
  q(GDT + 0x10, descriptor(0, 0xfffff, 0x92, 0xc));
  q(GDT + 0x18, descriptor(TSS, 0x68 + 0x2000, 0x89, 0));
  dv.setUint32(RAM_OFFSET + TSS + 4, 0x9000, true); // ESP0
  dv.setUint32(RAM_OFFSET + TSS + 8, 0x10, true); // SS0
  dv.setUint16(RAM_OFFSET + TSS + 0x66, 0x68, true); // I/O bitmap offset
  cpu.u8[RAM_OFFSET + TSS + 0x68 + (0x80 >> 3)] = 1 << (0x80 & 7); // port 0x80 denied
  cpu.u8[RAM_OFFSET + TSS + 0x68 + 0x2000] = 0xff;
  const kernel = assemble(`bits 32
    %macro gate 3 ; vector, handler, type/DPL byte
      mov dword [${IDT} + %1*8], ((%2 - $$ + ${KERNEL}) & 0xffff) | (0x08 << 16)
      mov dword [${IDT} + %1*8 + 4], ((%2 - $$ + ${KERNEL}) & 0xffff0000) | (%3 << 8)
    %endmacro
      gate 13, gp_handler, 0x8e
      gate 0x30, int30_handler, 0xee
      gate 0x31, int30_handler, 0x8e
      lidt [idtr]
      mov ax, 0x18
      ltr ax
      push dword 0            ; GS
      push dword 0x5000       ; FS
      push dword 0x3000       ; DS
      push dword 0x4000       ; ES
      push dword 0x1000       ; SS
      push dword 0xfffe       ; ESP
      push dword ${eflags}    ; EFLAGS with VM
      push dword 0x2000       ; CS
      push dword 0            ; EIP
      iretd
    int30_handler:
      mov [ss:${OUT} + 40], ds  ; cleared on entry from VM86
      mov [ss:${OUT} + 42], es
      mov [ss:${OUT} + 44], fs
      mov [ss:${OUT} + 46], gs
      mov [ss:${OUT} + 48], esp
      mov [ss:${OUT} + 52], cs
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      mov esi, esp
      mov edi, ${OUT}
      mov ecx, 9
      rep movsd                 ; the 9-dword frame
      iretd                     ; back to VM86: ES DS FS GS popped too
    gp_handler:
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      mov eax, [${GP_COUNT}]
      inc dword [${GP_COUNT}]
      shl eax, 6
      lea edi, [${GP_OUT} + eax]
      mov esi, esp
      mov ecx, 10
      rep movsd                 ; error code + 9-dword frame
      mov eax, [${GP_COUNT}]
      cmp eax, [${GP_STOP}]
      je stop
      add esp, 4                ; drop the error code
      mov eax, [esp + 4]        ; skip the faulting instruction: INT n (CD ib) is 2 bytes,
      shl eax, 4                ; the others tested here 1
      add eax, [esp]
      mov ebx, 1
      cmp byte [eax], 0xcd
      jne skip
      mov ebx, 2
    skip:
      add [esp], ebx
      iretd
    stop:
      hlt
    idtr:
      dw 0x31 * 8 + 7
      dd ${IDT}
    `, KERNEL);
  cpu.u8.set(kernel, RAM_OFFSET + KERNEL);
  cpu.u8.set(assemble(`bits 16\n${vmSource}`, 0), RAM_OFFSET + VM_CODE);
  dv.setUint32(RAM_OFFSET + GP_STOP, gpStop, true);
  startProtectedMode(cpu, KERNEL, GDT, 0x1f);
  cpu.setReg(4, 4, 0x8000, 0, 0);
  return cpu;
}

const VM = 0x20000;
const IOPL3 = 0x3000;
const IF = 0x200;
const dword = (cpu: Cpu, at: number) => cpu.dv.getUint32(RAM_OFFSET + at, true);
const word = (cpu: Cpu, at: number) => cpu.dv.getUint16(RAM_OFFSET + at, true);

describe('virtual-8086 mode', () => {
  it('IRETD enters VM86; INT n (IOPL 3) goes to the ring-0 handler with the 9-dword frame and IRETD returns', () => {
    const ports: [number, number][] = [];
    const io: IoBus = { read: () => 0xff, write: (port, _size, value) => ports.push([port, value]) };
    const cpu = machine(`
      mov ax, [0x10]          ; DS = 3000: linear 0x30010
      mov [0x12], ax
      mov bx, cs
      mov word [es:0], 0x4444 ; ES = 4000
      int 0x30
    back:
      mov word [0x14], 0x4242
      mov al, 0x99
      out 0x70, al            ; allowed by the bitmap
      cli                     ; IOPL 3: allowed
      sti
      pushf
      popf
      push word 0x0002        ; a FLAGS image with IOPL 0 and IF 0
      push cs
      push word vm_iret_target
      iret                    ; IRET inside VM86 (IOPL 3): IOPL stays 3
    vm_iret_target:
      cli                     ; so still allowed
      mov word [0x16], bad_out
    bad_out:
      out 0x80, al            ; denied by the bitmap whatever IOPL: #GP(0)
      hlt`, VM | IOPL3 | IF | 2, 1);
    cpu.io = io;
    cpu.dv.setUint16(RAM_OFFSET + 0x30010, 0x7777, true);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(word(cpu, 0x30012)).toBe(0x7777);
    expect(word(cpu, 0x40000)).toBe(0x4444);
    // The frame INT 0x30 pushed on the ring-0 stack (ESP0 = 0x9000), lowest address first.
    const frame = Array.from({ length: 9 }, (_, i) => dword(cpu, OUT + 4 * i));
    const back = 3 + 3 + 2 + 7 + 2; // offset of "back" in the VM86 code
    expect(frame).toEqual([back, 0x2000, VM | IOPL3 | IF | 2, 0xfffe, 0x1000, 0x4000, 0x3000, 0x5000, 0]);
    expect(Array.from({ length: 4 }, (_, i) => word(cpu, OUT + 40 + 2 * i))).toEqual([0, 0, 0, 0]);
    expect(dword(cpu, OUT + 48)).toBe(0x9000 - 36);
    expect(word(cpu, OUT + 52)).toBe(0x08);
    // Back in VM86 after IRETD, then the #GP from OUT 0x80 (error code 0, the frame again).
    expect(cpu.lo(3) & 0xffff).toBe(0x2000);
    expect(word(cpu, 0x30014)).toBe(0x4242);
    expect(ports).toEqual([[0x70, 0x99]]);
    expect(dword(cpu, GP_OUT)).toBe(0); // error code
    expect(dword(cpu, GP_OUT + 4)).toBe(word(cpu, 0x30016)); // EIP of OUT 0x80
    expect(word(cpu, 0x30016)).toBeGreaterThan(back);
    expect(dword(cpu, GP_OUT + 8)).toBe(0x2000); // CS
    expect(dword(cpu, GP_OUT + 12) & (VM | IOPL3 | IF)).toBe(VM | IOPL3); // IF from the VM86 IRET image
    expect(dword(cpu, GP_OUT + 28)).toBe(0x3000); // DS restored by IRETD, pushed again
    expect(segSelector(cpu, SEG_CS)).toBe(0x08);
    expect(cpu.cpl).toBe(0);
  });

  it('IOPL 0: CLI, PUSHF, POPF and INT n raise #GP(0); HLT at CPL 3 too', () => {
    const cpu = machine(`
      cli
      pushf
      popf
      int 0x30
      mov word [0x14], 0x1234
      hlt`, VM | IF | 2, 5);
    expect(cpu.run(500)).toBe(STOP_HALT);
    const errors = Array.from({ length: 5 }, (_, i) => dword(cpu, GP_OUT + 64 * i));
    const eips = Array.from({ length: 5 }, (_, i) => dword(cpu, GP_OUT + 64 * i + 4));
    expect(errors).toEqual([0, 0, 0, 0, 0]);
    expect(eips).toEqual([0, 1, 2, 3, 11]); // CLI PUSHF POPF INT 0x30, then HLT after the MOV
    expect(word(cpu, 0x30014)).toBe(0x1234);
    expect(dword(cpu, GP_COUNT)).toBe(5);
    expect(dword(cpu, GP_OUT + 4 * 64 + 12) & IF).toBe(IF); // CLI did not clear IF
  });

  it('INT n to a DPL 0 gate from VM86 (IOPL 3): #GP with the IDT error code', () => {
    const cpu = machine('int 0x31\nhlt', VM | IOPL3 | 2, 1);
    expect(cpu.run(200)).toBe(STOP_HALT);
    expect(dword(cpu, GP_OUT)).toBe(0x31 * 8 + 2);
    expect(dword(cpu, GP_OUT + 4)).toBe(0);
    expect(segSelector(cpu, SEG_DS)).toBe(0x10);
  });
});
