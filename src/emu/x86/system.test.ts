import { describe, expect, it } from 'vitest';
import { Cpu, STOP_HALT, STOP_SHUTDOWN, type InterruptController } from './cpu.ts';
import { CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from './mmu.ts';
import { ATTR_DB, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_DS, SEG_SS, segSelector, setSegment } from './system.ts';
import { assemble } from './testing/asm.ts';
import { ATTENTION, CR0, CR2, CR3, CR4, EFER, GDTR_BASE, GDTR_LIMIT, RAM_OFFSET } from '../state-layout.ts';

// System behaviour the host cannot run in user mode: mode switches, IDT delivery with and
// without privilege change, IST, SYSCALL/SYSRET, page faults, triple faults, interrupts.

const RAM = 4 << 20;
const CODE = 0x100000;
const GDT = 0x1000;
const PML4 = 0x2000;
const PDPT = 0x3000;
const PD = 0x4000;

/** GDT: null, (unused), 0x10 64-bit code DPL0, 0x18 data DPL0, 0x20 32-bit code DPL0,
 *  0x28 user data DPL3, 0x30 user 64-bit code DPL3, 0x38 user 32-bit code... (SYSRET layout:
 *  STAR[63:48] = 0x20: SS = 0x28|3, CS64 = 0x30|3), 0x40 TSS (16 bytes). */
function machine(): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const dv = cpu.dv;
  const q = (at: number, lo: number, hi: number) => {
    dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  q(GDT + 0x10, 0x0000ffff, 0x00af9b00); // 64-bit code, DPL0
  q(GDT + 0x18, 0x0000ffff, 0x00cf9300); // data, DPL0
  q(GDT + 0x20, 0x0000ffff, 0x00cf9b00); // 32-bit code, DPL0
  q(GDT + 0x28, 0x0000ffff, 0x00cff300); // data, DPL3
  q(GDT + 0x30, 0x0000ffff, 0x00affb00); // 64-bit code, DPL3
  // TSS at 0x5000, limit 0x67, type 9 (available 64-bit TSS).
  q(GDT + 0x40, (0x5000 << 16) | 0x67, 0x00008900);
  q(GDT + 0x48, 0, 0);
  cpu.i32[GDTR_BASE >> 2] = GDT;
  cpu.i32[GDTR_LIMIT >> 2] = 0x4f;
  // Identity map of the first 4 MiB with 2 MiB user pages.
  q(PML4, PDPT | 7, 0);
  q(PDPT, PD | 7, 0);
  q(PD, 0x87, 0);
  q(PD + 8, 0x200000 | 0x87, 0);
  return cpu;
}

function enterLongMode(cpu: Cpu): void {
  const i32 = cpu.i32;
  i32[CR3 >> 2] = PML4;
  i32[CR4 >> 2] = CR4_PAE;
  i32[EFER >> 2] = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
  i32[CR0 >> 2] = CR0_PE | CR0_PG;
  setSegment(cpu, SEG_CS, 0x10, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_L);
  setSegment(cpu, SEG_SS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB);
  cpu.cpl = 0;
  cpu.flushTlb(true);
}

/** nasm macro: gate VECTOR, HANDLER, ATTRS (type/DPL/P/IST word) in the IDT at 0x6000. */
const GATE_MACRO = `
%define ORG 0x${CODE.toString(16)}
%macro gate 3
  mov dword [0x6000 + %1*16], (((%2 - $$ + ORG) & 0xffff) | (0x10 << 16))
  mov dword [0x6000 + %1*16 + 4], (((%2 - $$ + ORG) & 0xffff0000) | %3)
  mov dword [0x6000 + %1*16 + 8], 0
%endmacro
; to_user LABEL, RFLAGS: IRETQ to ring 3 (CS 0x33, SS 0x2b, RSP 0x70000) at LABEL
%macro to_user 2
  push 0x28 | 3
  push 0x70000
  push %2
  push 0x30 | 3
  push %1
  iretq
%endmacro
`;

function load(cpu: Cpu, source: string, bits: 32 | 64): void {
  cpu.u8.set(assemble(`bits ${bits}\n${GATE_MACRO}\n${source}`, CODE), RAM_OFFSET + CODE);
  cpu.rip = BigInt(CODE);
}

const reg = (cpu: Cpu, r: number) => (BigInt(cpu.hi64(r) >>> 0) << 32n) | BigInt(cpu.lo(r) >>> 0);

describe('system behaviour', () => {
  it('switches from flat 32-bit protected mode to long mode the way Linux startup_32 does', () => {
    const cpu = machine();
    cpu.i32[CR0 >> 2] = CR0_PE;
    setSegment(cpu, SEG_CS, 0x20, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_DB);
    setSegment(cpu, SEG_DS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB);
    setSegment(cpu, SEG_SS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB);
    cpu.setReg(4, 4, 0x9000, 0, 0);
    load(cpu, `
      mov eax, cr4
      or eax, 1 << 5          ; PAE
      mov cr4, eax
      mov eax, ${PML4}
      mov cr3, eax
      mov ecx, 0xc0000080     ; EFER
      rdmsr
      or eax, 1 << 8          ; LME
      wrmsr
      mov eax, 0x80000001     ; PG | PE
      mov cr0, eax
      push 0x10
      push long64
      retf                    ; lret into the 64-bit code segment
    bits 64
    long64:
      mov rax, 0x123456789abcdef0
      mov rbx, rsp
      hlt`, 32);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.codeBits).toBe(64);
    expect(cpu.longMode).toBe(true);
    expect(reg(cpu, 0)).toBe(0x123456789abcdef0n);
    expect(segSelector(cpu, SEG_CS)).toBe(0x10);
  });

  it('delivers a user-mode page fault to the kernel on RSP0, with CR2 and the error code, and IRETQ returns', () => {
    const cpu = machine();
    enterLongMode(cpu);
    // IDT at 0x6000: vector 14 -> pf_handler (64-bit interrupt gate, DPL0).
    const code = `
      ; kernel: set up the TSS (RSP0 = 0x80000), IDT, then drop to user mode with IRETQ
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000
      lidt [idtr]
      gate 14, pf_handler, 0x8e00
      to_user user, 0x202
    user:
      mov rbx, 0x1234
      mov qword [0x700000], rbx  ; unmapped (above 4 MiB): #PF
    after:
      mov rcx, 0x77
      int3                        ; stop here (no handler: #GP -> #DF -> shutdown)
    pf_handler:
      mov rdx, cr2
      pop rsi                     ; error code
      mov rdi, rsp                ; frame: RIP CS RFLAGS RSP SS
      mov qword [rsp], after      ; resume after the faulting store
      iretq
    idtr:
      dw 0xfff
      dq 0x6000`;
    load(cpu, code, 64);
    const stop = cpu.run(200);
    expect(stop).toBe(STOP_SHUTDOWN);
    expect(reg(cpu, 2)).toBe(0x700000n); // CR2
    expect(cpu.i32[CR2 >> 2]).toBe(0x700000);
    expect(reg(cpu, 6)).toBe(0x6n); // #PF error: write (2) | user (4), not present
    expect(reg(cpu, 7) & ~0xfn).toBe(0x80000n - 0x30n); // RSP0, 16-byte aligned frame of 5 qwords (+ error code popped)
    expect(reg(cpu, 1)).toBe(0x77n); // back in user mode after IRETQ
  });

  it('runs SYSCALL and SYSRET between user and kernel', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      mov ecx, 0xc0000081     ; STAR: kernel CS 0x10, user base 0x20
      xor eax, eax
      mov edx, 0x00200010
      wrmsr
      mov ecx, 0xc0000082     ; LSTAR
      mov eax, entry
      xor edx, edx
      wrmsr
      mov ecx, 0xc0000084     ; SFMASK: clear IF
      mov eax, 0x200
      xor edx, edx
      wrmsr
      to_user user, 0x202
    user:
      mov rax, 41
      syscall
      mov rbx, rax            ; 42 from the kernel
      hlt                     ; #GP at CPL 3 -> no IDT -> shutdown
    entry:
      mov r12, rcx            ; return RIP
      mov r13, r11            ; user RFLAGS
      inc rax
      o64 sysret`, 64);
    expect(cpu.run(200)).toBe(STOP_SHUTDOWN);
    expect(reg(cpu, 3)).toBe(42n);
    expect(reg(cpu, 13) & 0x200n).toBe(0x200n); // user IF was saved in R11
    expect(cpu.cpl).toBe(3);
    expect(segSelector(cpu, SEG_CS)).toBe(0x33);
    expect(segSelector(cpu, SEG_SS)).toBe(0x2b);
  });

  it('checks gate privilege for INT n and uses the IST stack', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000      ; RSP0
      mov qword [0x5000 + 0x24], 0x90000   ; IST1
      lidt [idtr]
      ; vector 0x80: DPL3 trap gate, IST1; vector 13 (#GP): DPL0 interrupt gate
      gate 0x80, syscall80, 0xef01
      gate 13, gp_handler, 0x8e00
      to_user user, 0x202
    user:
      int 0x80
      int 0x81               ; an empty gate (type 0): #GP(0x81 * 8 + 2)
      hlt
    syscall80:
      mov r8, rsp
      mov r9, 1
      iretq
    gp_handler:
      pop r10                ; error code
      mov r11, rsp
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(200)).toBe(STOP_HALT);
    expect(reg(cpu, 9)).toBe(1n);
    expect(reg(cpu, 8)).toBe(0x90000n - 40n); // IST1 stack, five qwords pushed
    expect(reg(cpu, 10)).toBe(0x81n * 8n + 2n); // #GP error code names the IDT entry
    expect(reg(cpu, 11)).toBe(0x80000n - 40n); // #GP handler on RSP0 (from CPL 3)
    expect(cpu.cpl).toBe(0);
  });

  it('waits out the STI shadow before taking an external interrupt, and wakes from HLT', () => {
    const cpu = machine();
    enterLongMode(cpu);
    let pending = false;
    const controller: InterruptController = { hasInterrupt: () => pending, acknowledge: () => { pending = false; return 0x30; } };
    cpu.interrupts = controller;
    load(cpu, `
      lidt [idtr]
      gate 0x30, irq, 0x8e00
      mov rsp, 0x80000
      xor ecx, ecx
      sti
      inc ecx                 ; runs before the interrupt (shadow)
      inc ecx
      hlt
      mov r15, 99
      hlt
    irq:
      mov rbx, rcx
      iretq
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(7)).toBe(0); // up to and including the STI
    pending = true;
    cpu.i32[ATTENTION >> 2] = 1; // the controller raised its line
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(reg(cpu, 3)).toBe(1n); // the instruction after STI ran first
    pending = true;
    expect(cpu.run(100)).toBe(STOP_HALT); // woke up, handled the interrupt, halted again
    expect(reg(cpu, 15)).toBe(99n);
  });

  it('delivers an NMI with IF = 0, wakes HLT, and holds a second NMI until IRETQ', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      lidt [idtr]
      gate 2, nmi, 0x8e00
      mov rsp, 0x80000
      cli
      xor ecx, ecx
      hlt
      mov r15, 99
      hlt
    nmi:
      inc ecx
      hlt                     ; a second NMI arriving here waits for the IRETQ
      iretq
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    cpu.nmi();
    expect(cpu.run(100)).toBe(STOP_HALT); // in the handler's HLT
    expect(reg(cpu, 1)).toBe(1n);
    cpu.nmi(); // blocked: the handler has not returned
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(reg(cpu, 1)).toBe(1n);
    expect(cpu.nmiPending).toBe(true);
  });

  it('routes unknown MSRs to the machine handler, and #GP when it does not know them either', () => {
    const cpu = machine();
    enterLongMode(cpu);
    let stored = 0;
    cpu.msrs = {
      read: (msr) => (msr === 0x6e0 ? [stored, 0] : undefined),
      write: (msr, lo) => (msr === 0x6e0 ? ((stored = lo), true) : undefined),
    };
    load(cpu, `
      lidt [idtr]
      gate 13, gp, 0x8e00
      mov rsp, 0x80000
      mov ecx, 0x6e0
      mov eax, 1234
      xor edx, edx
      wrmsr
      xor eax, eax
      rdmsr
      mov ebx, eax
      mov ecx, 0x6e1
      rdmsr
      hlt
    gp:
      mov r14, 13
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(stored).toBe(1234);
    expect(reg(cpu, 3)).toBe(1234n);
    expect(reg(cpu, 14)).toBe(13n);
  });

  it('checks IN/OUT at CPL 3 against the TSS I/O permission bitmap', () => {
    const cpu = machine();
    enterLongMode(cpu);
    const seen: number[] = [];
    cpu.io = { read: (port) => (seen.push(port), 0x5a), write: (port) => void seen.push(port) };
    // A TSS limit that covers a bitmap at offset 0x68 for ports 0-0x7ff (+ the trailing byte).
    cpu.dv.setUint32(RAM_OFFSET + 0x1000 + 0x40, (0x5000 << 16) | 0x168, true);
    load(cpu, `
      mov rsp, 0x60000
      mov word [0x5000 + 0x66], 0x68          ; I/O map base
      mov rdi, 0x5068
      mov rcx, 0x101
      mov al, 0xff
      rep stosb                               ; every port denied...
      and byte [0x5068 + 0x3f8 / 8], 0xfe     ; ...but 0x3f8
      and byte [0x5068 + 0x3ff / 8], 0x7f     ; and 0x3ff
      mov qword [0x5000 + 4], 0x80000
      mov ax, 0x40
      ltr ax
      lidt [idtr]
      gate 13, gp, 0x8e00
      xor r14d, r14d
      to_user user, 0x2                       ; IOPL 0
    user:
      mov dx, 0x3f8
      in al, dx                               ; allowed
      mov ebx, eax
      out dx, al                              ; allowed
      mov dx, 0x3ff
      in ax, dx                               ; 0x3ff allowed, 0x400 denied: #GP
      ud2
    gp:
      mov r14, [rsp + 8]                      ; RIP of the faulting IN
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg(cpu, 3) & 0xffn).toBe(0x5an);
    expect(seen).toEqual([0x3f8, 0x3f8]);
    expect(reg(cpu, 14)).toBeGreaterThan(0x100000n); // #GP at the word IN in user code
  });

  it('reports a triple fault when there is no usable IDT', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, 'ud2', 64);
    expect(cpu.run(10)).toBe(STOP_SHUTDOWN);
  });

  it('answers CPUID with the advertised model', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      xor eax, eax
      cpuid
      mov r8d, ebx
      mov r9d, edx
      mov r10d, ecx
      mov eax, 0x80000001
      cpuid
      mov r11d, edx
      mov eax, 0x40000000
      cpuid
      mov r12d, ebx
      hlt`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    const text = (v: bigint) => Buffer.from(new Uint32Array([Number(v)]).buffer).toString('latin1');
    expect(text(reg(cpu, 8)) + text(reg(cpu, 9)) + text(reg(cpu, 10))).toBe('GenuineIntel');
    expect(reg(cpu, 11) & (1n << 29n)).toBe(1n << 29n); // LM
    expect(text(reg(cpu, 12))).toBe('KVMK');
  });
});

describe('protected-mode (32-bit) system behaviour', () => {
  /** GDT for 32-bit tests: 0x08 code DPL0, 0x10 data DPL0, 0x1b code DPL3, 0x23 data DPL3, 0x28 TSS. */
  function machine32(): Cpu {
    const cpu = machine();
    const dv = cpu.dv;
    const q = (at: number, lo: number, hi: number) => {
      dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
      dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
    };
    q(GDT + 0x08, 0x0000ffff, 0x00cf9b00);
    q(GDT + 0x10, 0x0000ffff, 0x00cf9300);
    q(GDT + 0x18, 0x0000ffff, 0x00cffb00);
    q(GDT + 0x20, 0x0000ffff, 0x00cff300);
    q(GDT + 0x28, (0x5000 << 16) | 0x67, 0x00008900); // 32-bit TSS at 0x5000
    cpu.i32[GDTR_LIMIT >> 2] = 0x2f;
    cpu.i32[CR0 >> 2] = CR0_PE;
    setSegment(cpu, SEG_CS, 0x08, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_DB | 0x8000);
    setSegment(cpu, SEG_SS, 0x10, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB | 0x8000);
    setSegment(cpu, SEG_DS, 0x10, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB | 0x8000);
    cpu.cpl = 0;
    return cpu;
  }

  it('delivers INT 0x80 from ring 3 through a DPL-3 gate onto the TSS ring-0 stack, and IRETD returns', () => {
    const cpu = machine32();
    load(cpu, `
      mov esp, 0x60000
      mov dword [0x5000 + 4], 0x80000    ; ESP0
      mov dword [0x5000 + 8], 0x10       ; SS0
      mov ax, 0x28
      ltr ax
      lidt [idtr]
      mov eax, handler
      mov [0x6000 + 0x80*8], ax
      mov word [0x6000 + 0x80*8 + 2], 0x08
      mov word [0x6000 + 0x80*8 + 4], 0xee00   ; 32-bit interrupt gate, DPL 3
      shr eax, 16
      mov [0x6000 + 0x80*8 + 6], ax
      push 0x23                ; SS
      push 0x70000             ; ESP
      push 0x202               ; EFLAGS
      push 0x1b                ; CS
      push user
      iretd
    user:
      mov eax, 5
      int 0x80
      mov ebx, eax             ; 6 from the handler
      hlt                      ; #GP at ring 3: no gate for 13 -> #DF -> shutdown
    handler:
      mov esi, esp
      mov edi, [esp + 12]      ; the user ESP in the frame
      mov ecx, [esp + 16]      ; the user SS
      inc eax
      iretd
    idtr:
      dw 0x7ff
      dd 0x6000`, 32);
    expect(cpu.run(200)).toBe(STOP_SHUTDOWN);
    expect(cpu.lo(3)).toBe(6);
    expect(cpu.lo(6)).toBe(0x80000 - 20); // EIP CS EFLAGS ESP SS on the ring-0 stack
    expect(cpu.lo(7)).toBe(0x70000);
    expect(cpu.lo(1)).toBe(0x23);
    expect(cpu.cpl).toBe(3);
  });

  it('runs SYSENTER and SYSEXIT between ring 3 and ring 0', () => {
    const cpu = machine32();
    load(cpu, `
      mov esp, 0x60000
      mov ecx, 0x174           ; SYSENTER_CS
      mov eax, 0x08
      xor edx, edx
      wrmsr
      mov ecx, 0x175           ; SYSENTER_ESP
      mov eax, 0x90000
      wrmsr
      mov ecx, 0x176           ; SYSENTER_EIP
      mov eax, kernel
      wrmsr
      push 0x23
      push 0x70000
      push 0x202
      push 0x1b
      push user
      iretd
    user:
      mov edx, back            ; SYSEXIT returns to EDX with ESP = ECX
      mov ecx, esp
      sysenter
    back:
      mov ebx, ebp             ; set by the kernel
      hlt
    kernel:
      mov ebp, esp             ; 0x90000
      sysexit`, 32);
    expect(cpu.run(200)).toBe(STOP_SHUTDOWN);
    expect(cpu.lo(3)).toBe(0x90000);
    expect(cpu.cpl).toBe(3);
    expect(segSelector(cpu, SEG_CS)).toBe(0x1b);
    expect(cpu.lo(4)).toBe(0x70000);
  });
});

describe('descriptor-table and control-register instructions', () => {
  it('LAR, LSL, VERR, VERW, SGDT, SIDT, STR, SLDT, SMSW and MOV CR/DR', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov ax, 0x28
      lar ebx, ax             ; DPL-3 data segment: access rights
      lsl ecx, ax             ; limit 4 GiB - 1 with G
      verr ax
      setz dl
      verw ax
      setz dh
      mov ax, 0x10
      verw ax                 ; code is not writable
      setz sil
      mov ax, 0x48            ; beyond the GDT limit... (0x4f: the TSS's upper half, a null-type entry)
      lar r8d, ax
      setz r9b
      sgdt [0x7000]
      sidt [0x7010]
      str r10w
      sldt r11w
      smsw r12d
      mov rax, 0x1234
      mov dr0, rax
      mov r13, dr0
      mov r14, cr4
      hlt`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(3) >>> 0).toBe(0x00c0f300); // LAR: the upper half masked with 0x00F0FF00
    expect(cpu.lo(1) >>> 0).toBe(0xffffffff);
    expect(cpu.lo(2) & 0xffff).toBe(0x0101); // VERR and VERW both set ZF
    expect(cpu.lo(6) & 0xff).toBe(0);
    expect(cpu.lo(9) & 0xff).toBe(0); // LAR of a non-descriptor clears ZF
    expect(cpu.dv.getUint16(RAM_OFFSET + 0x7000, true)).toBe(0x4f);
    expect(cpu.dv.getUint32(RAM_OFFSET + 0x7002, true)).toBe(GDT);
    expect(cpu.lo(10) & 0xffff).toBe(0x40);
    expect(cpu.lo(11) & 0xffff).toBe(0);
    expect(cpu.lo(12) & 1).toBe(1); // PE
    expect(cpu.lo(13)).toBe(0x1234);
    expect(cpu.lo(14)).toBe(CR4_PAE);
  });

  it('raises #GP for privileged instructions at CPL 3 and #UD for a bad control register', () => {
    for (const insn of ['mov rax, cr0', 'mov cr3, rax', 'lgdt [0x7000]', 'wrmsr', 'hlt', 'cli', 'swapgs']) {
      const cpu = machine();
      enterLongMode(cpu);
      cpu.stopOnFault = true;
      load(cpu, `
        mov rsp, 0x60000
        to_user user, 0x2
      user:
        ${insn}`, 64);
      cpu.run(50);
      expect(cpu.stopVector, insn).toBe(13);
    }
    const cpu = machine();
    enterLongMode(cpu);
    cpu.stopOnFault = true;
    load(cpu, 'db 0x0f, 0x20, 0xe8 ; mov rax, cr5', 64);
    cpu.run(5);
    expect(cpu.stopVector).toBe(6);
  });
});

describe('benign software interrupts', () => {
  it('a #GP while delivering INT 14 from ring 3 is a #GP at the INT instruction, not a #DF', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000
      lidt [idtr]
      gate 14, pf_handler, 0x8e00   ; DPL 0: INT 14 from ring 3 must #GP
      gate 13, gp_handler, 0x8e00
      gate 8, df_handler, 0x8e00
      to_user user, 0x2
    user:
      int 14
    pf_handler:
      hlt
    df_handler:
      mov r15, 8
      hlt
    gp_handler:
      pop r10                ; error code
      pop r11                ; the faulting RIP
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(200)).toBe(STOP_HALT);
    expect(cpu.lo(15)).toBe(0); // no #DF
    expect(cpu.lo(10)).toBe(14 * 8 + 2); // IDT entry, not external
    const userLabel = CODE + 0; // the INT is at 'user'; check it is the INT, not after it
    expect(cpu.u8[RAM_OFFSET + cpu.lo(11)]).toBe(0xcd);
    expect(cpu.lo(11)).toBeGreaterThan(userLabel);
  });
});

describe('far transfers are all or nothing', () => {
  it('IRETQ with a bad SS faults at the IRETQ with CS, CPL and RSP unchanged', () => {
    const cpu = machine();
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      lidt [idtr]
      gate 13, gp_handler, 0x8e00
      push 0x18 | 3            ; SS: a DPL-0 data segment, wrong for ring 3
      push 0x70000
      push 0x2
      push 0x30 | 3            ; CS: ring-3 code
      push 0x1234
    bad_iret:
      iretq
    gp_handler:
      pop r10                  ; error code
      pop r11                  ; RIP
      pop r12                  ; CS
      mov r13, rsp
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.lo(10)).toBe(0x18); // #GP(SS selector)
    expect(cpu.u8[RAM_OFFSET + cpu.lo(11)]).toBe(0x48); // RIP at the IRETQ (REX.W CF)
    expect(cpu.lo(12)).toBe(0x10); // from kernel CS: nothing changed before the fault
    expect(cpu.cpl).toBe(0);
    // Same stack: the IRET frame (RSP 0x5ffd8) untouched, the #GP frame below it at the
    // 16-byte aligned 0x5ffd0 (six qwords), three of them popped by the handler.
    expect(cpu.lo(13)).toBe(0x5ffd0 - 48 + 24);
  });

  it('does not follow an instruction link made in the kernel into a supervisor page at CPL 3', () => {
    // The kernel calls a user-page trampoline that jumps into a supervisor-only page (links
    // made at CPL 0), then user mode runs the same jump: its fetch must fault (#PF, user
    // instruction fetch), not reuse the kernel's link. No TLB flush or CS change in 64-bit
    // code drops links in between: only the privilege bit of the link epoch keeps them apart.
    const cpu = machine();
    cpu.dv.setUint32(RAM_OFFSET + PD + 8, 0x200000 | 0x83, true); // 2-4 MiB: supervisor only
    cpu.u8[RAM_OFFSET + 0x200000] = 0xc3; // ret
    enterLongMode(cpu);
    load(cpu, `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000
      lidt [idtr]
      gate 14, pf_handler, 0x8e00
      call tramp
      call tramp              ; twice: the second run follows the links
      to_user user, 0x2
    user:
      call tramp
      mov rcx, 0x77           ; not reached
      hlt
    tramp:
      mov rax, 0x200000
      jmp rax
    pf_handler:
      mov rdx, cr2
      pop rsi                 ; error code
      hlt
    idtr:
      dw 0xfff
      dq 0x6000`, 64);
    expect(cpu.run(300)).toBe(STOP_HALT);
    expect(reg(cpu, 2)).toBe(0x200000n); // CR2: the supervisor page
    expect(reg(cpu, 6)).toBe(0x15n); // present | user | instruction fetch
    expect(reg(cpu, 1)).not.toBe(0x77n);
  });
});
