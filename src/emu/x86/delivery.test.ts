import { describe, expect, it } from 'vitest';
import { STOP_HALT, type Cpu, type InterruptController } from './cpu.ts';
import { SEG_CS, SEG_SS, segSelector } from './system.ts';
import { loadProgram, reg64, systemMachine } from './testing/system-machine.ts';

// Interrupt and exception delivery details the host cannot show from user mode: the EXT bit of
// error codes (SDM Vol. 3A 6.13) and handlers in conforming code segments (6.12.1.1).

/** An interrupt controller with one pending interrupt `vector` (delivered once IF = 1). */
function oneInterrupt(cpu: Cpu, vector: number): void {
  let pending = true;
  const controller: InterruptController = {
    hasInterrupt: () => pending,
    acknowledge: () => {
      pending = false;
      return vector;
    },
  };
  cpu.interrupts = controller;
}

/**
 * Long mode: IDT with #NP (11), #GP (13) and #TS (10) handlers that pop the error code into
 * R15 and halt at CPL 0 on RSP0 = 0x80000; `gates` adds the entries under test. The kernel
 * drops to CPL 3 (IF = 1) at `user`, which runs `user`.
 */
function longProgram(gates: string, user: string): string {
  return `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000      ; RSP0
      mov qword [0x5000 + 0x24], 0x90000   ; IST1
      lidt [idtr]
      gate 10, report, 0x8e00, 0x10
      gate 11, report, 0x8e00, 0x10
      gate 13, report, 0x8e00, 0x10
      ${gates}
      to_user64 user, 0x202
    user:
      ${user}
    report:
      pop r15
      mov r14, rsp
      hlt`;
}

describe('the EXT bit of error codes', () => {
  it('is set for a not-present gate reached by an external interrupt, clear for INT n', () => {
    // Vector 0x40: a DPL-3 interrupt gate with P = 0.
    const external = systemMachine('long');
    oneInterrupt(external, 0x40);
    loadProgram(external, longProgram('gate 0x40, report, 0x6e00, 0x10', 'nop\njmp user'), 64);
    expect(external.run(500)).toBe(STOP_HALT);
    expect(reg64(external, 15)).toBe(0x40n * 8n + 2n + 1n); // #NP(IDT | EXT)

    const software = systemMachine('long');
    loadProgram(software, longProgram('gate 0x40, report, 0x6e00, 0x10', 'int 0x40'), 64);
    expect(software.run(500)).toBe(STOP_HALT);
    expect(reg64(software, 15)).toBe(0x40n * 8n + 2n); // #NP(IDT)
  });

  it('is set for a fault while delivering an exception (#UD, INT1), clear for INT3', () => {
    const gates = 'gate 6, report, 0x8e00, 0x10\ngate 1, report, 0xee00, 0x10\ngate 3, report, 0xee00, 0x10';
    const results: bigint[] = [];
    for (const [vector, insn] of [[6, 'ud2'], [1, 'int1'], [3, 'int3']] as const) {
      const cpu = systemMachine('long');
      // The gate under test is the same but not present (P cleared after it was written).
      loadProgram(cpu, longProgram(`${gates}\nand dword [0x6000 + ${vector}*16 + 4], ~0x8000`, insn), 64);
      expect(cpu.run(500)).toBe(STOP_HALT);
      results.push(reg64(cpu, 15));
    }
    expect(results).toEqual([6n * 8n + 3n, 1n * 8n + 3n, 3n * 8n + 2n]);
  });

  it('is set on #GP(selector) for a gate whose code segment is less privileged than the CPL', () => {
    // Vector 0x41 points at 0x30 (64-bit code, DPL 3) and is taken at CPL 0: #GP(0x30).
    const program = (trigger: string) => `
      mov rsp, 0x60000
      lidt [idtr]
      gate 13, report, 0x8e00, 0x10
      gate 0x41, report, 0x8e00, 0x30
      gate 0x42, report, 0x8e00, 0x58      ; conforming, DPL 3: also more than CPL 0
      ${trigger}
      hlt
    report:
      pop r15
      hlt`;
    const external = systemMachine('long');
    oneInterrupt(external, 0x41);
    loadProgram(external, program('sti\nnop\nnop'), 64);
    expect(external.run(100)).toBe(STOP_HALT);
    expect(reg64(external, 15)).toBe(0x31n);
    const software = systemMachine('long');
    loadProgram(software, program('int 0x41'), 64);
    expect(software.run(100)).toBe(STOP_HALT);
    expect(reg64(software, 15)).toBe(0x30n);
    const conforming = systemMachine('long');
    loadProgram(conforming, program('int 0x42'), 64);
    expect(conforming.run(100)).toBe(STOP_HALT);
    expect(reg64(conforming, 15)).toBe(0x58n);
  });

  it('is set on #TS for a bad TSS stack in protected mode, which leaves SS, ESP and CPL unchanged', () => {
    // Vector 0x41 goes to ring 1 (code 0x60), whose TSS stack SS1 = 0x18 has RPL 0: #TS(0x18).
    const program = (trigger: string) => `
      mov esp, 0x60000
      mov dword [0x5000 + 4], 0x80000    ; ESP0
      mov dword [0x5000 + 8], 0x18       ; SS0
      mov dword [0x5000 + 12], 0x88000   ; ESP1
      mov dword [0x5000 + 16], 0x18      ; SS1: not a ring-1 stack
      mov ax, 0x40
      ltr ax
      lidt [idtr]
      gate32 10, report, 0x8e00, 0x20
      gate32 0x41, report, 0xee00, 0x60
      to_user32 user, 0x202
    user:
      ${trigger}
    report:
      pop edi
      mov esi, [esp + 12]                ; the interrupted ESP in the frame
      hlt`;
    const external = systemMachine('protected');
    oneInterrupt(external, 0x41);
    loadProgram(external, program('nop\njmp user'), 32);
    expect(external.run(500)).toBe(STOP_HALT);
    expect(external.lo(7)).toBe(0x19);
    expect(external.lo(6)).toBe(0x70000);
    const software = systemMachine('protected');
    loadProgram(software, program('int 0x41'), 32);
    expect(software.run(500)).toBe(STOP_HALT);
    expect(software.lo(7)).toBe(0x18);
    expect(software.lo(6)).toBe(0x70000);
  });
});

describe('handlers in conforming code segments', () => {
  it('run at CPL 3 on the user stack in long mode, and IRETQ returns', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, longProgram('gate 0x41, handler, 0xee00, 0x08', `
      mov rax, 5
      int 0x41
      mov rbx, rax
      hlt                        ; #GP(0) at CPL 3 -> report
    handler:
      mov r8, rsp
      mov r9, cs
      mov r10, ss
      mov r11, [rsp + 24]        ; the RSP in the frame
      inc rax
      iretq`), 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg64(cpu, 3)).toBe(6n);
    expect(reg64(cpu, 8)).toBe(0x70000n - 40n); // no stack switch: five qwords on the user stack
    expect(reg64(cpu, 9)).toBe(0x0bn); // conforming CS 0x08 with RPL = CPL 3
    expect(reg64(cpu, 10)).toBe(0x2bn); // SS unchanged
    expect(reg64(cpu, 11)).toBe(0x70000n);
    expect(reg64(cpu, 15)).toBe(0n); // the HLT's #GP(0), delivered to ring 0 on RSP0
    expect(reg64(cpu, 14)).toBe(0x80000n - 40n);
  });

  it('switch to an IST stack in long mode, still at CPL 3', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, longProgram('gate 0x41, handler, 0xee01, 0x08', `
      int 0x41
      hlt
    handler:
      mov r8, rsp
      mov r9, cs
      mov r10, ss
      iretq`), 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg64(cpu, 8)).toBe(0x90000n - 40n); // IST1
    expect(reg64(cpu, 9)).toBe(0x0bn);
    expect(reg64(cpu, 10)).toBe(0x2bn);
  });

  it('take exceptions at CPL 0 on the current stack', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, `
      mov rsp, 0x60008
      lidt [idtr]
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000
      gate 6, handler, 0x8e00, 0x08
      ud2
    handler:
      mov r8, rsp
      mov r9, cs
      hlt`, 64);
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(reg64(cpu, 8)).toBe(0x60000n - 40n); // current stack, aligned to 16 first
    expect(reg64(cpu, 9)).toBe(0x08n);
    expect(cpu.cpl).toBe(0);
  });

  it('run at CPL 3 without a stack switch in protected mode (no SS:ESP in the frame)', () => {
    const cpu = systemMachine('protected');
    loadProgram(cpu, `
      mov esp, 0x60000
      mov dword [0x5000 + 4], 0x80000    ; ESP0
      mov dword [0x5000 + 8], 0x18       ; SS0
      mov ax, 0x40
      ltr ax
      lidt [idtr]
      gate32 0x41, handler, 0xee00, 0x50 ; conforming 32-bit code, DPL 0
      gate32 0x42, handler, 0xee00, 0x20 ; non-conforming, DPL 0
      gate32 13, report, 0x8e00, 0x20
      to_user32 user, 0x202
    user:
      mov eax, 5
      int 0x41
      mov ebx, eax
      mov ecx, edx
      mov ebp, esi
      int 0x42
      hlt
    handler:
      mov esi, esp
      mov edx, cs
      inc eax
      iretd
    report:
      pop edi
      hlt`, 32);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(cpu.lo(3)).toBe(6);
    expect(cpu.lo(5)).toBe(0x70000 - 12); // conforming: EIP CS EFLAGS on the user stack
    expect(cpu.lo(1)).toBe(0x53); // CS 0x50 with RPL 3
    expect(cpu.lo(6)).toBe(0x80000 - 20); // non-conforming DPL 0: ring-0 stack, SS:ESP pushed
    expect(cpu.lo(2)).toBe(0x20);
    expect(cpu.lo(7)).toBe(0); // the final HLT's #GP(0)
    expect(cpu.cpl).toBe(0);
    expect(segSelector(cpu, SEG_CS)).toBe(0x20);
    expect(segSelector(cpu, SEG_SS)).toBe(0x18);
  });
});
