/**
 * Interpreter throughput on guest-code workloads (MIPS). Each workload is a 64-bit loop run in
 * long mode with paging on, as a kernel would run it. Printed, never asserted.
 */
import { Cpu } from '../src/emu/x86/cpu.ts';
import { CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE } from '../src/emu/x86/mmu.ts';
import { ATTR_DB, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_SS, setSegment } from '../src/emu/x86/system.ts';
import { assemble } from '../src/emu/x86/testing/asm.ts';
import { CR0, CR3, CR4, EFER, RAM_OFFSET } from '../src/emu/state-layout.ts';

const RAM = 16 << 20;
const CODE = 0x100000;

function machine(source: string): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const dv = cpu.dv;
  const q = (at: number, lo: number) => dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
  q(0x2000, 0x3000 | 7);
  q(0x3000, 0x4000 | 7);
  for (let i = 0; i < 8; i++) q(0x4000 + i * 8, (i << 21) | 0x87);
  const i32 = cpu.i32;
  i32[CR3 >> 2] = 0x2000;
  i32[CR4 >> 2] = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  i32[EFER >> 2] = EFER_LME | EFER_LMA | EFER_NXE;
  i32[CR0 >> 2] = CR0_PE | CR0_PG | CR0_MP | CR0_NE;
  setSegment(cpu, SEG_CS, 0x10, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_L);
  setSegment(cpu, SEG_SS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB);
  cpu.cpl = 0;
  cpu.u8.set(assemble(`bits 64\n${source}`, CODE), RAM_OFFSET + CODE);
  cpu.rip = BigInt(CODE);
  cpu.set64(4, 0x80000, 0);
  return cpu;
}

export const WORKLOADS: Record<string, string> = {
  alu: `
    mov rcx, 0x7fffffff
  top:
    add rax, rbx
    xor rdx, rax
    sub rbx, 3
    and rdx, 0xffff
    or rsi, rdx
    inc rdi
    cmp rdi, rcx
    jne top
    hlt`,
  'loads/stores': `
    mov rcx, 0x7fffffff
    mov rsi, 0x200000
  top:
    mov rax, [rsi]
    add rax, 1
    mov [rsi + 8], rax
    mov edx, [rsi + 16]
    mov [rsi + 24], edx
    add rsi, 8
    and rsi, 0x20fff8
    dec rcx
    jnz top
    hlt`,
  // glibc's SSE2 idioms: strlen (pcmpeqb + pmovmskb + bsf over 16-byte blocks) on a 256-byte
  // string, then memcpy of 4 KiB with unaligned 16-byte loads and aligned stores.
  'sse2 strlen/memcpy': `
    mov rdi, 0x200000
    mov rcx, 4096 / 8
    mov rax, 0x4141414141414141
    rep stosq
    mov byte [0x200000 + 255], 0
  top:
    mov rsi, 0x200000
    pxor xmm0, xmm0
  scan:
    movdqa xmm1, [rsi]
    pcmpeqb xmm1, xmm0
    pmovmskb edx, xmm1
    add rsi, 16
    test edx, edx
    jz scan
    bsf edx, edx
    lea rax, [rsi + rdx - 16 - 0x200000]
    mov rsi, 0x200001
    mov rdi, 0x300000
    mov ecx, 4096 / 64
  copy:
    movdqu xmm0, [rsi]
    movdqu xmm1, [rsi + 16]
    movdqu xmm2, [rsi + 32]
    movdqu xmm3, [rsi + 48]
    movdqa [rdi], xmm0
    movdqa [rdi + 16], xmm1
    movdqa [rdi + 32], xmm2
    movdqa [rdi + 48], xmm3
    add rsi, 64
    add rdi, 64
    dec ecx
    jnz copy
    jmp top`,
  // Short string instructions as a kernel runs them (copy_page and memset use REP with large
  // counts; struct copies and compares are a few dozen bytes): each REP counts as one instruction.
  'string ops': `
    mov rbx, 0x7fffffff
  top:
    mov rsi, 0x200000
    mov rdi, 0x201000
    mov ecx, 8
    rep movsq
    mov ecx, 40
    mov al, 0x5a
    rep stosb
    mov rsi, 0x200000
    mov rdi, 0x200000
    mov ecx, 16
    repe cmpsb
    lodsq
    stosq
    movsb
    dec rbx
    jnz top
    hlt`,
  'branches/calls': `
    mov rcx, 0x7fffffff
  top:
    call f
    test rax, 1
    jz even
    inc rbx
  even:
    dec rcx
    jnz top
    hlt
  f:
    inc rax
    ret`,
};

/** Runs a workload for about `ms` milliseconds; returns millions of instructions per second. */
export function mips(source: string, ms = 1500): number {
  const cpu = machine(source);
  cpu.run(200_000); // warm up (decode cache, JIT of the interpreter itself)
  const start = performance.now();
  const before = cpu.instructions;
  let now = start;
  while (now - start < ms) {
    cpu.run(1_000_000);
    now = performance.now();
  }
  return (cpu.instructions - before) / ((now - start) * 1000);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  for (const [name, source] of Object.entries(WORKLOADS)) console.log(`${name.padEnd(16)} ${mips(source).toFixed(1)} MIPS`);
}
