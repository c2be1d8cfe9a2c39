import { describe, expect, it } from 'vitest';
import { STOP_HALT } from './cpu.ts';
import { NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, NATIVE_DATA_SIZE, zeroState } from '../testing/native.ts';
import { assemble } from './testing/asm.ts';
import { loadProgram, reg64, systemMachine } from './testing/system-machine.ts';
import { UserMachine } from './testing/user64.ts';

// Alignment checking (#AC, SDM Vol. 3A 6.15) where the host cannot be the oracle: the rules
// that differ between vendors (16-byte SSE operands: never #AC on Intel, whose rules the
// emulator follows), and the system side (CR0.AM, CPL, IRETQ/SYSRET loading EFLAGS.AC,
// supervisor accesses made at CPL 3, delivery of #AC through the IDT).

const DATA = NATIVE_DATA_ADDR;

/** Runs 64-bit user code with EFLAGS.AC set (CR0.AM is set by the harness, as on Linux). */
function runUser(src: string, rdi = DATA + 0x1000n) {
  const code = assemble(`bits 64\npushfq\nor dword [rsp], 0x40000\npopfq\n${src}`, Number(NATIVE_CODE_ADDR));
  const state = zeroState();
  state.gpr[4] = DATA + 0x8000n;
  state.gpr[7] = rdi;
  const input = Uint8Array.from({ length: 0x2000 }, (_, i) => (i * 7 + 3) & 0xff);
  return { ...new UserMachine().run({ code, state, data: input }), input };
}

const xmmBytes = (xmm: Uint8Array, r: number) => Array.from(xmm.subarray(r * 16, r * 16 + 16));

describe('alignment checking of 16-byte SSE operands', () => {
  it('never faults for MOVUPS, MOVDQU and LDDQU, and moves the right bytes', () => {
    for (const off of [1, 4, 8, 15]) {
      const r = runUser(`movups xmm0, [rdi+${off}]\nlddqu xmm1, [rdi+${off}]\nmovdqu [rdi+0x100+${off}], xmm0`);
      expect(r.fault).toBeNull();
      const want = Array.from(r.input.subarray(0x1000 + off, 0x1010 + off));
      expect(xmmBytes(r.state.xmm, 0)).toEqual(want);
      expect(xmmBytes(r.state.xmm, 1)).toEqual(want);
      expect(Array.from(r.data.subarray(0x1100 + off, 0x1110 + off))).toEqual(want);
      expect(r.data[0x10ff + off]).toBe(r.input[0x10ff + off]); // nothing outside the 16 bytes
      expect(r.data[0x1110 + off]).toBe(r.input[0x1110 + off]);
    }
  });

  it('faults with #PF and writes nothing when a misaligned 16-byte store runs into an unmapped page', () => {
    const end = DATA + BigInt(NATIVE_DATA_SIZE);
    const r = runUser('pcmpeqb xmm0, xmm0\nmovdqu [rdi], xmm0', end - 5n);
    expect(r.fault).toMatchObject({ vector: 14 });
    expect(Array.from(r.data.subarray(NATIVE_DATA_SIZE - 5))).toEqual([0, 0, 0, 0, 0]);
  });

  it('keeps #GP(0) for a misaligned MOVDQA and FXSAVE', () => {
    expect(runUser('movdqa xmm0, [rdi+4]').fault).toMatchObject({ vector: 13, errorCode: 0 });
    expect(runUser('fxsave [rdi+8]').fault).toMatchObject({ vector: 13, errorCode: 0 });
    expect(runUser('fxsave [rdi+16]').fault).toBeNull();
  });
});

/**
 * Long mode, CPL 0: a #AC handler (vector 17) that records its error code (R15), the faulting
 * RIP (R13) and marks R12 = 17, and a #GP handler that marks R12 = 13; then `body`.
 */
function kernel(body: string): string {
  return `
      mov rsp, 0x60000
      mov ax, 0x40
      ltr ax
      mov qword [0x5000 + 4], 0x80000
      lidt [idtr]
      gate 17, ac_handler, 0x8e00, 0x10
      gate 13, gp_handler, 0x8e00, 0x10
      xor r12, r12
      ${body}
    ac_handler:
      pop r15
      mov r13, [rsp]
      mov r12, 17
      hlt
    gp_handler:
      pop r15
      mov r12, 13
      hlt`;
}

const SET_AM = 'mov rax, cr0\nbts eax, 18\nmov cr0, rax';

describe('alignment checking as the system sees it', () => {
  it('applies at CPL 3 only, after IRETQ loads EFLAGS.AC, and is delivered as #AC(0)', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, kernel(`
      ${SET_AM}
      pushfq
      bts qword [rsp], 18
      popfq
      mov rbx, [0x10001]          ; CPL 0: never checked
      mov [0x10003], ebx
      lea r14, [rel fault]
      to_user64 user, 0x40202
    user:
      mov ebx, [0x20004]          ; aligned: fine
    fault:
      mov rcx, [0x20001]
      hlt`), 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg64(cpu, 12)).toBe(17n);
    expect(reg64(cpu, 15)).toBe(0n);
    expect(reg64(cpu, 13)).toBe(reg64(cpu, 14)); // at the misaligned load
  });

  it('does not apply with CR0.AM clear, nor after MOV CR0 clears it', () => {
    for (const setup of ['', `${SET_AM}\nbtr eax, 18\nmov cr0, rax`]) {
      const cpu = systemMachine('long');
      loadProgram(cpu, kernel(`
        ${setup}
        to_user64 user, 0x40202
      user:
        mov rcx, [0x20001]
        push rcx                  ; RSP stays aligned; the HLT's #GP ends the test
        hlt`), 64);
      expect(cpu.run(500)).toBe(STOP_HALT);
      expect(reg64(cpu, 12)).toBe(13n);
    }
  });

  it('applies after SYSRET loads EFLAGS.AC from R11', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, kernel(`
      ${SET_AM}
      mov ecx, 0xc0000081         ; STAR: SYSRET CS 0x33, SS 0x2b
      xor eax, eax
      mov edx, 0x00230010
      wrmsr
      mov r11, 0x40202
      lea rcx, [rel user]
      lea r14, [rel user]
      mov rsp, 0x70000
      o64 sysret
    user:
      mov word [0x20003], 1
      hlt`), 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg64(cpu, 12)).toBe(17n);
    expect(reg64(cpu, 13)).toBe(reg64(cpu, 14));
  });

  it('does not check supervisor accesses made at CPL 3 (a descriptor read from a misaligned GDT)', () => {
    const cpu = systemMachine('long');
    loadProgram(cpu, kernel(`
      ${SET_AM}
      mov rsi, 0x1000             ; move the GDT to an odd address
      mov rdi, 0x7001
      mov ecx, 0x70
      rep movsb
      lgdt [gdtr]
      lea r14, [rel fault]
      to_user64 user, 0x40202
    user:
      mov ax, 0x2b
      mov ds, ax                  ; reads the descriptor at 0x7001 + 0x28
      mov es, ax
    fault:
      mov eax, [0x20002]
      hlt
    gdtr:
      dw 0x6f
      dq 0x7001`), 64);
    expect(cpu.run(500)).toBe(STOP_HALT);
    expect(reg64(cpu, 12)).toBe(17n);
    expect(reg64(cpu, 13)).toBe(reg64(cpu, 14));
  });
});
