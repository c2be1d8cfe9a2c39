import { describe, expect, it } from 'vitest';
import {
  BASE_RIP, DECODE_NEED_MORE, DECODE_OK, DECODE_TOO_LONG, DECODE_UD, Insn, PREFIX_LOCK, SEG_FS, SEG_GS, decode,
} from './decoder.ts';
import { formatInsn } from './disasm.ts';
import { OPCODES } from './opcodes.ts';

function dec(hex: string, mode: 16 | 32 | 64 = 64): Insn {
  const bytes = Uint8Array.from(hex.split(' ').map((h) => Number.parseInt(h, 16)));
  const d = new Insn();
  decode(bytes, 0, bytes.length, mode, d);
  return d;
}

describe('decoder', () => {
  it('decodes ModRM, SIB, displacement and REX extensions', () => {
    // mov r9, qword ptr [r12+r13*8-0x10]
    const d = dec('4f 8b 4c ec f0');
    expect(d.status).toBe(DECODE_OK);
    expect(d.length).toBe(5);
    expect(d.op?.mnemonic).toBe('mov');
    expect([d.opsize, d.reg, d.base, d.index, d.scale, d.disp]).toEqual([8, 9, 12, 13, 3, -0x10]);
    expect(formatInsn(d, 0n)).toBe('mov r9,qword ptr [r12+r13*8-0x10]');
  });

  it('decodes RIP-relative addressing and 64-bit immediates', () => {
    const lea = dec('48 8d 05 f9 ff ff ff'); // lea rax, [rip-7]
    expect([lea.base, lea.disp, lea.length]).toEqual([BASE_RIP, -7, 7]);
    const movabs = dec('48 b8 88 77 66 55 44 33 22 11');
    expect([movabs.imm >>> 0, movabs.immHi >>> 0, movabs.length]).toEqual([0x55667788, 0x11223344, 10]);
    const movmoffs = dec('48 a1 08 07 06 05 04 03 02 01'); // mov rax, [moffs64]
    expect([movmoffs.length, movmoffs.immHi]).toEqual([10, 0x01020304]);
  });

  it('treats F2/F3 as mandatory prefixes: no fallback to the NP or 66 form (#UD, as the host does)', () => {
    expect(dec('f3 0f 74 c1').status).toBe(DECODE_UD); // pcmpeqb mm has no F3 form
    expect(dec('f2 0f fc c1').status).toBe(DECODE_UD);
    expect(dec('66 f3 0f d7 c1').status).toBe(DECODE_UD); // pmovmskb: NP and 66 forms only
    expect(dec('66 f3 0f b8 c1').op?.mnemonic).toBe('popcnt'); // an F3 form with 66: 16-bit popcnt
    expect(dec('f3 0f af c1').op?.mnemonic).toBe('imul'); // prefix-agnostic entries ignore REP
    expect(dec('f3 c3').op?.mnemonic).toBe('ret');
  });

  it('applies operand-size rules: 66, REX.W, default-64 and forced-64 operations', () => {
    expect(dec('66 50').opsize).toBe(2); // push ax
    expect(dec('50').opsize).toBe(8); // push rax (d64)
    expect(dec('41 50').reg).toBe(0); // push r8: register from the opcode, not ModRM
    expect(dec('66 e8 00 00 00 00').length).toBe(6); // Intel: rel32 even with 66 in 64-bit mode
    expect(dec('66 e8 00 00', 32).length).toBe(4); // rel16 in 32-bit mode
    expect(dec('66 48 05 01 00 00 00').opsize).toBe(8); // REX.W beats 66
    expect(dec('40 8e d8').opsize).toBe(4); // mov ds, eax: REX.W ignored anyway
  });

  it('uses the last of REX and legacy prefixes as the hardware does', () => {
    const d = dec('48 66 01 c0'); // REX before 66 is ignored: add ax, ax
    expect(d.rex).toBe(0);
    expect(d.opsize).toBe(2);
    expect(formatInsn(dec('40 88 e0'), 0n)).toBe('mov al,spl'); // REX turns AH..BH into SPL..DIL
    expect(formatInsn(dec('88 e0'), 0n)).toBe('mov al,ah');
  });

  it('tracks segment overrides (ignored CS/DS/ES/SS in 64-bit mode)', () => {
    expect(dec('64 8b 00').seg).toBe(SEG_FS);
    expect(dec('65 8b 00').seg).toBe(SEG_GS);
    expect(dec('2e 8b 00').seg).toBe(-1);
    expect(dec('2e 8b 00', 32).seg).toBe(1);
  });

  it('selects SSE forms by mandatory prefix', () => {
    expect(dec('0f 58 c1').op?.mnemonic).toBe('addps');
    expect(dec('66 0f 58 c1').op?.mnemonic).toBe('addpd');
    expect(dec('f3 0f 58 c1').op?.mnemonic).toBe('addss');
    expect(dec('f2 0f 58 c1').op?.mnemonic).toBe('addsd');
    expect(dec('66 f3 0f b8 c1').op?.mnemonic).toBe('popcnt'); // F3 mandatory, 66 = operand size
    expect(dec('66 f3 0f b8 c1').opsize).toBe(2);
    expect(dec('f3 0f bc c1').op?.mnemonic).toBe('tzcnt');
    expect(dec('f3 0f 1e fa').op?.mnemonic).toBe('endbr64');
    expect(dec('f3 0f 1e c8').op?.mnemonic).toBe('nop'); // other F3 0F 1E forms stay hint NOPs
  });

  it('decodes 16-bit addressing', () => {
    const d = dec('8b 42 10', 16); // mov ax, [bp+si+0x10]
    expect([d.base, d.index, d.disp, d.opsize, d.adsize]).toEqual([5, 6, 0x10, 2, 2]);
    expect(dec('8b 06 34 12', 16).disp).toBe(0x1234); // [disp16]
    expect(dec('67 8b 04 24', 16).length).toBe(4); // 32-bit addressing with a SIB in 16-bit code
  });

  it('raises #UD for invalid encodings, modes and LOCK uses, with the length still known', () => {
    expect(dec('06').status).toBe(DECODE_UD); // push es: invalid in 64-bit mode
    expect(dec('06', 32).status).toBe(DECODE_OK);
    expect(dec('0f 05', 32).status).toBe(DECODE_UD); // syscall outside 64-bit mode (Intel)
    const lockReg = dec('f0 01 c0'); // lock add eax, eax: no memory operand
    expect([lockReg.status, lockReg.prefixes & PREFIX_LOCK, lockReg.length]).toEqual([DECODE_UD, PREFIX_LOCK, 3]);
    expect(dec('f0 01 00').status).toBe(DECODE_OK);
    expect(dec('f0 8b 00').status).toBe(DECODE_UD); // mov cannot be locked
    expect(dec('0f 0b').status).toBe(DECODE_OK); // ud2 decodes; executing it raises #UD
    const vex = dec('c5 f8 77'); // vzeroupper: AVX is not advertised
    expect([vex.status, vex.length]).toEqual([DECODE_UD, 3]);
    expect(dec('c4 00', 32).op?.mnemonic).toBe('les'); // mod != 3: LES, not VEX, outside 64-bit mode
  });

  it('reports a window that ends inside the instruction, and over-long instructions', () => {
    expect(dec('48 8b').status).toBe(DECODE_NEED_MORE);
    expect(dec('48 8b 04').status).toBe(DECODE_NEED_MORE); // SIB missing
    expect(dec('66 66 66 66 66 66 66 66 66 66 66 66 66 66 01 c0').status).toBe(DECODE_TOO_LONG);
    const fifteen = dec('66 66 66 66 66 66 66 66 66 66 66 66 66 01 c0');
    expect([fifteen.status, fifteen.length]).toEqual([DECODE_OK, 15]);
  });

  it('ignores mod for MOV to and from control registers', () => {
    const d = dec('0f 20 44'); // mod = 1, but no displacement follows
    expect([d.length, d.reg, d.rm]).toEqual([3, 0, 4]);
    expect(formatInsn(d, 0n)).toBe('mov rsp,cr0');
  });

  it('has a consistent table: every entry has a mnemonic, no slot disagrees with itself', () => {
    expect(OPCODES.all.length).toBeGreaterThan(900);
    for (const op of OPCODES.all) expect(op.mnemonic).toMatch(/^[a-z0-9]+$/);
  });
});
