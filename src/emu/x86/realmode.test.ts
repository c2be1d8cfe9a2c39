import { describe, expect, it } from 'vitest';
import { Cpu, STOP_FAULT, STOP_HALT, STOP_SHUTDOWN, type InterruptController } from './cpu.ts';
import type { PhysBus } from './mmu.ts';
import { reset } from './start-state.ts';
import { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_SS, loadRealSegment, segSelector } from './system.ts';
import { assemble } from './testing/asm.ts';
import { ATTENTION, CR0, IDTR_LIMIT, RAM_OFFSET, SEGS, SEG_BASE, SEG_LIMIT, SEG_STRIDE } from '../state-layout.ts';

// Real-address mode (SDM Vol. 3A ch. 20.1, Vol. 1 3.3): execution from the reset vector, a
// boot-sector-style program (stack, IVT handlers, 16-bit addressing, segment loads), the
// switches real -> protected -> long mode and protected -> real (unreal mode), and the
// faults of real mode's 64 KiB segments.

const RAM = 2 << 20;
const BOOT = 0x7c00;

function machine(): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  reset(cpu);
  return cpu;
}

/** Resets the CPU and starts it at 0000:7C00 with `source` (bits 16) there, as a BIOS would. */
function bootSector(source: string): Cpu {
  const cpu = machine();
  cpu.u8.set(assemble(`bits 16\n${source}`, BOOT), RAM_OFFSET + BOOT);
  loadRealSegment(cpu, SEG_CS, 0);
  cpu.rip = BigInt(BOOT);
  return cpu;
}

/** An 8-byte segment descriptor as two dwords (lo, hi). */
function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (((limit >>> 16) & 0xf) << 16) | (flags << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

/** `dq` lines for nasm from descriptors. */
function gdtSource(entries: [number, number][]): string {
  return entries.map(([lo, hi]) => `dd 0x${lo.toString(16)}, 0x${hi.toString(16)}`).join('\n');
}

const segBase = (cpu: Cpu, seg: number) => cpu.i32[(SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2]! >>> 0;
const segLimit = (cpu: Cpu, seg: number) => cpu.i32[(SEGS + seg * SEG_STRIDE + SEG_LIMIT) >> 2]! >>> 0;
const word = (cpu: Cpu, at: number) => cpu.dv.getUint16(RAM_OFFSET + at, true);
const dword = (cpu: Cpu, at: number) => cpu.dv.getUint32(RAM_OFFSET + at, true);

describe('real-address mode', () => {
  it('runs from the reset vector F000:FFF0 (firmware on the bus at FFFF0000) into RAM', () => {
    const cpu = machine();
    // 64 KiB of "firmware" below 4 GiB: at FFF0 a far jump to 0000:7C00.
    const rom = new Uint8Array(0x10000).fill(0xf4);
    rom.set(assemble('bits 16\njmp 0x0000:0x7c00', 0xfff0), 0xfff0);
    const reads: number[] = [];
    const bus: PhysBus = {
      read: (addr, size) => {
        reads.push(addr >>> 0);
        if (addr >>> 0 < 0xffff0000) return size === 4 ? -1 : (1 << (size * 8)) - 1;
        let v = 0;
        for (let i = 0; i < size; i++) v |= rom[((addr >>> 0) - 0xffff0000 + i) & 0xffff]! << (8 * i);
        return v;
      },
      write: () => {},
    };
    cpu.bus = bus;
    cpu.u8.set(assemble('bits 16\nmov ax, cs\nmov bx, 0x55aa\nhlt', BOOT), RAM_OFFSET + BOOT);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(reads[0]).toBe(0xfffffff0); // the first fetch
    expect(segSelector(cpu, SEG_CS)).toBe(0);
    expect(segBase(cpu, SEG_CS)).toBe(0);
    expect(cpu.lo(0) & 0xffff).toBe(0);
    expect(cpu.lo(3) & 0xffff).toBe(0x55aa);
    expect(cpu.rip).toBe(BigInt(BOOT + 6)); // after the HLT
  });

  it('an unmapped reset vector fetches all ones: #UD, delivered through the IVT as a guest fault', () => {
    const cpu = machine();
    cpu.stopOnFault = true;
    expect(cpu.run(10)).toBe(STOP_FAULT);
    expect(cpu.stopVector).toBe(6);
    expect(cpu.internalError).toBeUndefined();
  });

  it('runs a boot sector: stack, IVT handlers (INT n, #DE), 16-bit addressing, segment loads', () => {
    const cpu = bootSector(`
      %define TABLE 0x600
      %define FARPTR 0x610
      %define OUT 0x700
      cli
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7c00
      mov word [0x80*4], int80        ; IVT entry 0x80 -> 0000:int80
      mov word [0x80*4+2], 0
      mov word [0*4], divide_error    ; #DE -> 0000:divide_error
      mov word [0*4+2], 0
      mov word [OUT+22], after_int
      mov ax, 5
      stc
      int 0x80                        ; doubles AX; the handler records its frame
    after_int:
      mov [OUT], ax
      pushf
      pop word [OUT+2]                ; FLAGS after IRET (CF back)
      ; 16-bit addressing forms
      mov bx, TABLE
      mov si, 2
      mov di, 4
      mov ax, [bx+si]                 ; table[1]
      mov cx, [bx+di+2]               ; table[3]
      mov bp, TABLE
      mov dx, [bp+si+4]               ; SS-relative (SS = 0 here): table[3]
      add ax, cx
      add ax, dx
      mov [OUT+4], ax
      mov ax, [si + (TABLE - 2)]      ; [si+disp16]: table[0]
      mov [OUT+6], ax
      mov bx, 0xfff0
      mov ax, [bx + 0x10 + TABLE]     ; the offset wraps at 64 KiB: table[0]
      mov [OUT+8], ax
      ; segment loads: ES = 0x1000 -> base 0x10000
      mov ax, 0x1000
      mov es, ax
      mov word [es:0x20], 0xbeef
      les di, [FARPTR]                ; ES:DI = 0x2000:0x0030
      mov word [es:di], 0xcafe
      push es
      pop fs
      mov word [fs:0x32], 0xf00d
      ; #DE: the handler makes the divisor 1 and IRET re-executes DIV
      xor bx, bx
      mov ax, 1234
      xor dx, dx
      div bx
      hlt
    int80:
      mov bp, sp
      mov cx, [bp]                    ; return IP
      mov [OUT+10], cx
      mov cx, [bp+2]                  ; CS
      mov [OUT+12], cx
      mov cx, [bp+4]                  ; FLAGS
      mov [OUT+14], cx
      pushf
      pop word [OUT+16]               ; FLAGS inside: IF TF clear
      mov [OUT+18], sp
      add ax, ax
      clc
      iret
    divide_error:
      mov bx, 1
      inc word [OUT+20]
      iret
    `);
    // The data the program reads: table at 0x600, a far pointer at 0x610.
    [0x11, 0x22, 0x33, 0x44].forEach((v, i) => cpu.dv.setUint16(RAM_OFFSET + 0x600 + 2 * i, v, true));
    cpu.dv.setUint16(RAM_OFFSET + 0x610, 0x30, true);
    cpu.dv.setUint16(RAM_OFFSET + 0x612, 0x2000, true);
    expect(cpu.run(200)).toBe(STOP_HALT);
    const OUT = 0x700;
    expect(word(cpu, OUT)).toBe(10); // INT 0x80 doubled AX
    expect(word(cpu, OUT + 2) & 1).toBe(1); // CF from before the INT, restored by IRET
    expect(word(cpu, OUT + 4)).toBe(0x22 + 0x44 + 0x44);
    expect(word(cpu, OUT + 6)).toBe(0x11);
    expect(word(cpu, OUT + 8)).toBe(0x11);
    expect(word(cpu, OUT + 22)).toBeGreaterThan(BOOT);
    expect(word(cpu, OUT + 10)).toBe(word(cpu, OUT + 22)); // pushed IP: the instruction after INT 0x80
    expect(word(cpu, OUT + 12)).toBe(0);
    expect(word(cpu, OUT + 14) & 1).toBe(1); // pushed FLAGS: CF set
    expect(word(cpu, OUT + 16) & 0x300).toBe(0); // IF and TF clear in the handler
    expect(word(cpu, OUT + 18)).toBe(0x7c00 - 6); // three words pushed on the 16-bit stack
    expect(word(cpu, OUT + 20)).toBe(1); // one #DE
    expect(cpu.lo(0) & 0xffff).toBe(1234); // DIV by 1 after the #DE handler
    expect(cpu.lo(3) & 0xffff).toBe(1);
    expect(word(cpu, 0x10020)).toBe(0xbeef);
    expect(word(cpu, 0x20030)).toBe(0xcafe);
    expect(word(cpu, 0x20032)).toBe(0xf00d);
    expect(segSelector(cpu, SEG_ES)).toBe(0x2000);
    expect(segBase(cpu, SEG_FS)).toBe(0x20000);
    expect(segLimit(cpu, SEG_ES)).toBe(0xffff);
    expect(cpu.lo(4) & 0xffff).toBe(0x7c00); // balanced stack
  });

  it('switches to protected mode and on to long mode the way a boot loader does', () => {
    // GDT: null, 0x08 32-bit code, 0x10 flat data, 0x18 64-bit code.
    const gdt = gdtSource([
      [0, 0], descriptor(0, 0xfffff, 0x9a, 0xc), descriptor(0, 0xfffff, 0x92, 0xc), descriptor(0, 0xfffff, 0x9a, 0xa),
    ]);
    const cpu = bootSector(`
      cli
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7c00
      lgdt [gdtr]
      mov eax, cr0
      or eax, 1                       ; PE
      mov cr0, eax
      jmp 0x08:pm32                   ; reload CS: 32-bit protected mode
    bits 32
    pm32:
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      mov ss, ax
      mov esp, 0x90000
      push dword 0x12345678
      pop ebx                         ; a 32-bit stack now
      ; identity map of the first 2 MiB: PML4 0x10000, PDPT 0x11000, PD 0x12000
      mov dword [0x10000], 0x11003
      mov dword [0x11000], 0x12003
      mov dword [0x12000], 0x83
      mov eax, cr4
      or eax, 1 << 5                  ; PAE
      mov cr4, eax
      mov eax, 0x10000
      mov cr3, eax
      mov ecx, 0xc0000080             ; EFER.LME
      rdmsr
      or eax, 1 << 8
      wrmsr
      mov eax, cr0
      or eax, 1 << 31                 ; PG: long mode active
      mov cr0, eax
      jmp 0x18:lm64
    bits 64
    lm64:
      mov rax, 0x1122334455667788
      push rax
      pop rcx
      hlt
    align 8
    gdt:
      ${gdt}
    gdtr:
      dw 4 * 8 - 1
      dd gdt
    `);
    expect(cpu.run(200)).toBe(STOP_HALT);
    expect(cpu.codeBits).toBe(64);
    expect(cpu.longMode).toBe(true);
    expect(cpu.lo(3)).toBe(0x12345678);
    expect(cpu.lo(1)).toBe(0x55667788);
    expect(cpu.hi64(1)).toBe(0x11223344);
    expect(segSelector(cpu, SEG_CS)).toBe(0x18);
    expect(cpu.segChecks).toBe(false);
  });

  it('returns from protected mode to real mode (16-bit segment, PE off, far jump) and keeps unreal limits', () => {
    // GDT: 0x08 32-bit code, 0x10 flat 4 GiB data, 0x18 16-bit code (64 KiB), 0x20 16-bit data (64 KiB).
    const gdt = gdtSource([
      [0, 0], descriptor(0, 0xfffff, 0x9a, 0xc), descriptor(0, 0xfffff, 0x92, 0xc), descriptor(0, 0xffff, 0x9a, 0),
      descriptor(0, 0xffff, 0x92, 0),
    ]);
    const cpu = bootSector(`
      cli
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7c00
      mov word [0x81*4], int81
      mov word [0x81*4+2], 0
      lgdt [gdtr]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp 0x08:pm32
    bits 32
    pm32:
      mov ax, 0x10
      mov ds, ax
      mov fs, ax                      ; FS: 4 GiB limit, kept in real mode (unreal mode)
      mov dword [0x150000], 0xa5a5a5a5
      jmp 0x18:pm16                   ; a 16-bit protected-mode code segment first
    bits 16
    pm16:
      mov ax, 0x20                    ; 64 KiB data segments, as the SDM (9.9.2) asks
      mov ds, ax
      mov es, ax
      mov ss, ax
      mov eax, cr0
      and al, ~1                      ; PE off
      mov cr0, eax
      jmp 0x0000:real                 ; reload CS with a real-mode segment
    real:
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov ax, 7
      int 0x81                        ; the IVT again (IDTR still base 0, limit 0xFFFF)
      xor bx, bx
      mov fs, bx                      ; base 0, the 4 GiB limit stays
      mov ebx, [fs:dword 0x150000]    ; beyond 1 MiB (a32): unreal mode
      hlt
    int81:
      add ax, 1
      iret
    align 8
    gdt:
      ${gdt}
    gdtr:
      dw 5 * 8 - 1
      dd gdt
    `);
    expect(cpu.run(200)).toBe(STOP_HALT);
    expect(cpu.i32[CR0 >> 2]! & 1).toBe(0);
    expect(cpu.codeBits).toBe(16);
    expect(cpu.lo(0) & 0xffff).toBe(8);
    expect(cpu.lo(3) >>> 0).toBe(0xa5a5a5a5);
    expect(segLimit(cpu, SEG_FS)).toBe(0xffffffff);
    expect(segLimit(cpu, SEG_DS)).toBe(0xffff);
    expect(cpu.lo(4) & 0xffff).toBe(0x7000);
  });

  it('delivers external interrupts through the IVT and returns with IRET', () => {
    let pending = 0;
    const pic: InterruptController = {
      hasInterrupt: () => pending !== 0,
      acknowledge: () => {
        const v = pending;
        pending = 0;
        return v;
      },
    };
    const cpu = bootSector(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7c00
      mov word [0x08*4], irq0 - 0x7c00 ; IP relative to CS 07C0
      mov word [0x08*4+2], 0x07c0     ; CS = 07C0: the handler runs with base 0x7C00
      mov cx, 0
      sti
    spin:
      cmp cx, 0
      je spin
      hlt
    irq0:
      mov cx, cs
      iret
    `);
    cpu.interrupts = pic;
    expect(cpu.run(50)).toBe(0); // spinning: nothing pending
    pending = 8;
    cpu.i32[ATTENTION >> 2] = 1; // the controller raised its line
    expect(cpu.run(50)).toBe(STOP_HALT);
    expect(cpu.lo(1) & 0xffff).toBe(0x07c0);
    expect(cpu.lo(4) & 0xffff).toBe(0x7c00);
  });

  it('far CALL, RETF imm16, far JMP through memory and ENTER-free frames use real-mode segments', () => {
    const cpu = bootSector(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      push word 0xaaaa        ; an argument RETF 2 releases
      call 0x07c0:far_func - 0x7c00
      mov [0x700], bx
      mov [0x702], sp
      mov word [0x704], far_target - 0x7c00
      mov word [0x706], 0x07c0
      jmp far [0x704]
    far_func:
      mov bx, cs              ; 07C0
      mov bp, sp
      mov cx, [bp+2]          ; the pushed CS
      mov [0x708], cx
      retf 2
    far_target:
      mov dx, cs
      hlt
    `);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(word(cpu, 0x700)).toBe(0x07c0);
    expect(word(cpu, 0x702)).toBe(0x7000); // RETF 2 released the argument
    expect(word(cpu, 0x708)).toBe(0); // the caller's CS
    expect(cpu.lo(2) & 0xffff).toBe(0x07c0);
    expect(segBase(cpu, SEG_CS)).toBe(0x7c00);
  });

  it('instructions not recognised in real mode raise #UD (LLDT, LAR, VERR, SLDT, SYSCALL, ARPL)', () => {
    for (const insn of ['lldt ax', 'lar ax, bx', 'verr ax', 'sldt ax', 'syscall', 'arpl ax, bx']) {
      const cpu = bootSector(`${insn}\nhlt`);
      cpu.stopOnFault = true;
      expect(cpu.run(10), insn).toBe(STOP_FAULT);
      expect(cpu.stopVector, insn).toBe(6);
    }
  });

  it('an IVT too small for the vector: #GP, then #DF, then a triple fault (shutdown)', () => {
    const cpu = bootSector(`
      lidt [idtr]
      int 0x10
      hlt
    idtr:
      dw 4 * 8 - 1            ; vectors 0-7 only
      dd 0
    `);
    // Limit 31 holds vectors 0-7: INT 0x10 and then #GP (13) are beyond it, #GP during #GP
    // is #DF (8), whose entry at 32..35 is beyond it too: a triple fault.
    expect(cpu.run(10)).toBe(STOP_SHUTDOWN);
    const ok = bootSector(`
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x7000
      mov word [13*4], gp
      mov word [13*4+2], 0
      int 0x10                ; beyond the limit set below: #GP through vector 13
      hlt
    gp:
      mov bx, 0x1313
      hlt
    `);
    ok.i32[IDTR_LIMIT >> 2] = 14 * 4 - 1;
    expect(ok.run(20)).toBe(STOP_HALT);
    expect(ok.lo(3) & 0xffff).toBe(0x1313);
  });

  it('a 16-bit stack (SS.B = 0) moves SP alone: CALL/RET imm16, PUSH/POP, LEAVE keep ESP[31:16]', () => {
    const cpu = bootSector(`
      xor ax, ax
      mov ss, ax
      mov esp, 0xabcd7000     ; the upper half is not part of a 16-bit stack pointer
      push word 0x1111
      call func
      pop ax
      hlt
    func:
      push bp
      mov bp, sp
      sub sp, 0x20
      mov word [bp-2], 0x2222
      mov bx, [bp+4]          ; the argument, SS-relative through BP
      leave
      ret
    `);
    expect(cpu.run(50)).toBe(STOP_HALT);
    expect(cpu.lo(3) & 0xffff).toBe(0x1111);
    expect(cpu.lo(0) & 0xffff).toBe(0x1111);
    expect(cpu.lo(4) >>> 0).toBe(0xabcd7000);
    expect(word(cpu, 0x7000 - 8)).toBe(0x2222); // BP = 0x6FFA: [bp-2] = 0x6FF8
  });

  it('ENTER on a 16-bit stack: SP alone moves, nested frame pointers are read through SS', () => {
    const cpu = bootSector(`
      mov ax, 0x1000
      mov ss, ax              ; SS base 0x10000: the display must be read SS-relative
      mov esp, 0xabcd2000
      mov bp, 0x2100
      mov word [ss:0x20fe], 0x4444 ; the caller's display: one saved frame pointer below BP
      enter 0x10, 2
      hlt
    `);
    expect(cpu.run(50)).toBe(STOP_HALT);
    // Pushed: old BP (0x2100) at 0x1ffe, the display entry (0x4444) at 0x1ffc, the frame (0x1ffe) at 0x1ffa.
    expect(word(cpu, 0x10000 + 0x1ffe)).toBe(0x2100);
    expect(word(cpu, 0x10000 + 0x1ffc)).toBe(0x4444);
    expect(word(cpu, 0x10000 + 0x1ffa)).toBe(0x1ffe);
    expect(cpu.lo(5) & 0xffff).toBe(0x1ffe);
    expect(cpu.lo(4) >>> 0).toBe(0xabcd1fea); // SP = 0x1ffa - 0x10, ESP[31:16] kept
  });
});
