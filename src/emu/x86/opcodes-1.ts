/**
 * The one-byte opcode map and the x87 escape (D8-DF): Intel SDM Vol. 2, Appendix A, Table A-2
 * and Tables. Prefix bytes (26 2E 36 3E 64 65 66 67 F0 F2 F3), REX (40-4F in
 * 64-bit mode) and the VEX/EVEX/XOP escapes (C4 C5 62 8F) are handled by the decoder.
 */
import type { OpcodeTable } from './opcode-table.ts';

export const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

export function defineOneByteMap(t: OpcodeTable): void {
  // 00-3F: the eight ALU operations in six forms each (ADD OR ADC SBB AND SUB XOR CMP).
  const alu = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
  alu.forEach((name, i) => {
    const b = i * 8;
    const lock = name === 'cmp' ? '' : 'lock';
    t.def(hex(b), name, 'Eb,Gb', lock);
    t.def(hex(b + 1), name, 'Ev,Gv', lock);
    t.def(hex(b + 2), name, 'Gb,Eb');
    t.def(hex(b + 3), name, 'Gv,Ev');
    t.def(hex(b + 4), name, 'AL,Ib');
    t.def(hex(b + 5), name, 'rAX,Iz');
  });
  t.def('06', 'push', 'ES', 'i64');
  t.def('07', 'pop', 'ES', 'i64');
  t.def('0E', 'push', 'CS', 'i64');
  t.def('16', 'push', 'SS', 'i64');
  t.def('17', 'pop', 'SS', 'i64');
  t.def('1E', 'push', 'DS', 'i64');
  t.def('1F', 'pop', 'DS', 'i64');
  t.def('27', 'daa', '', 'i64');
  t.def('2F', 'das', '', 'i64');
  t.def('37', 'aaa', '', 'i64');
  t.def('3F', 'aas', '', 'i64');
  // 40-4F are REX prefixes in 64-bit mode; INC/DEC elsewhere.
  t.def('40+r', 'inc', 'Zv', 'i64');
  t.def('48+r', 'dec', 'Zv', 'i64');
  t.def('50+r', 'push', 'Zv', 'd64');
  t.def('58+r', 'pop', 'Zv', 'd64');
  t.def('60', 'pusha', '', 'i64');
  t.def('61', 'popa', '', 'i64');
  t.def('62', 'bound', 'Gv,Ma', 'i64');
  t.def('63', 'arpl', 'Ew,Gw', 'i64');
  t.def('63', 'movsxd', 'Gv,Ed', 'o64');
  t.def('68', 'push', 'Iz', 'd64');
  t.def('69', 'imul', 'Gv,Ev,Iz');
  t.def('6A', 'push', 'Ib', 'd64');
  t.def('6B', 'imul', 'Gv,Ev,Ib');
  t.def('6C', 'ins', 'Yb,DX', 'rep');
  t.def('6D', 'ins', 'Yz,DX', 'rep');
  t.def('6E', 'outs', 'DX,Xb', 'rep');
  t.def('6F', 'outs', 'DX,Xz', 'rep');
  CONDITIONS.forEach((cc, i) => t.def(hex(0x70 + i), `j${cc}`, 'Jb', 'f64 jmp'));
  // 80-83: group 1, ALU with an immediate (82 is an alias of 80 outside 64-bit mode).
  alu.forEach((name, i) => {
    const lock = name === 'cmp' ? '' : 'lock';
    t.def(`80 /${i}`, name, 'Eb,Ib', lock);
    t.def(`81 /${i}`, name, 'Ev,Iz', lock);
    t.def(`82 /${i}`, name, 'Eb,Ib', `i64 ${lock}`);
    t.def(`83 /${i}`, name, 'Ev,Ib', lock);
  });
  t.def('84', 'test', 'Eb,Gb');
  t.def('85', 'test', 'Ev,Gv');
  t.def('86', 'xchg', 'Eb,Gb', 'lock');
  t.def('87', 'xchg', 'Ev,Gv', 'lock');
  t.def('88', 'mov', 'Eb,Gb');
  t.def('89', 'mov', 'Ev,Gv');
  t.def('8A', 'mov', 'Gb,Eb');
  t.def('8B', 'mov', 'Gv,Ev');
  t.def('8C', 'mov', 'Ev,Sw');
  t.def('8D', 'lea', 'Gv,M');
  t.def('8E', 'mov', 'Sw,Ew', 'wig');
  t.def('8F /0', 'pop', 'Ev', 'd64');
  // 90: NOP (PAUSE with F3; XCHG r8, rAX with REX.B: the handler checks).
  t.def('90', 'nop', '');
  for (let r = 1; r < 8; r++) t.def(hex(0x90 + r), 'xchg', `Zv,rAX`);
  t.def('98', 'cbw', ''); // CBW / CWDE / CDQE by operand size
  t.def('99', 'cwd', ''); // CWD / CDQ / CQO by operand size
  t.def('9A', 'callf', 'Ap', 'i64 jmp');
  t.def('9B', 'fwait', '');
  t.def('9C', 'pushf', '', 'd64');
  t.def('9D', 'popf', '', 'd64');
  t.def('9E', 'sahf', '');
  t.def('9F', 'lahf', '');
  t.def('A0', 'mov', 'AL,Ob');
  t.def('A1', 'mov', 'rAX,Ov');
  t.def('A2', 'mov', 'Ob,AL');
  t.def('A3', 'mov', 'Ov,rAX');
  t.def('A4', 'movs', 'Yb,Xb', 'rep');
  t.def('A5', 'movs', 'Yv,Xv', 'rep');
  t.def('A6', 'cmps', 'Xb,Yb', 'repe');
  t.def('A7', 'cmps', 'Xv,Yv', 'repe');
  t.def('A8', 'test', 'AL,Ib');
  t.def('A9', 'test', 'rAX,Iz');
  t.def('AA', 'stos', 'Yb,AL', 'rep');
  t.def('AB', 'stos', 'Yv,rAX', 'rep');
  t.def('AC', 'lods', 'AL,Xb', 'rep');
  t.def('AD', 'lods', 'rAX,Xv', 'rep');
  t.def('AE', 'scas', 'AL,Yb', 'repe');
  t.def('AF', 'scas', 'rAX,Yv', 'repe');
  t.def('B0+r', 'mov', 'Zb,Ib');
  t.def('B8+r', 'mov', 'Zv,Iv');
  // C0/C1, D0-D3: group 2, shifts and rotates (/6 is an undocumented alias of SHL).
  const shifts = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
  shifts.forEach((name, i) => {
    t.def(`C0 /${i}`, name, 'Eb,Ib');
    t.def(`C1 /${i}`, name, 'Ev,Ib');
    t.def(`D0 /${i}`, name, 'Eb,1');
    t.def(`D1 /${i}`, name, 'Ev,1');
    t.def(`D2 /${i}`, name, 'Eb,CL');
    t.def(`D3 /${i}`, name, 'Ev,CL');
  });
  t.def('C2', 'ret', 'Iw', 'f64 jmp');
  t.def('C3', 'ret', '', 'f64 jmp');
  t.def('C4', 'les', 'Gz,Mp', 'i64');
  t.def('C5', 'lds', 'Gz,Mp', 'i64');
  t.def('C6 /0', 'mov', 'Eb,Ib');
  t.def('C6 F8', 'xabort', 'Ib', 'noimpl');
  t.def('C7 /0', 'mov', 'Ev,Iz');
  t.def('C7 F8', 'xbegin', 'Jz', 'noimpl jmp');
  t.def('C8', 'enter', 'Iw,Ib', 'd64');
  t.def('C9', 'leave', '', 'd64');
  t.def('CA', 'retf', 'Iw', 'jmp');
  t.def('CB', 'retf', '', 'jmp');
  t.def('CC', 'int3', '', 'jmp');
  t.def('CD', 'int', 'Ib', 'jmp');
  t.def('CE', 'into', '', 'i64 jmp');
  t.def('CF', 'iret', '', 'jmp');
  t.def('D4', 'aam', 'Ib', 'i64');
  t.def('D5', 'aad', 'Ib', 'i64');
  t.def('D6', 'salc', '', 'i64');
  t.def('D7', 'xlat', '');
  defineX87(t);
  t.def('E0', 'loopne', 'Jb', 'f64 jmp');
  t.def('E1', 'loope', 'Jb', 'f64 jmp');
  t.def('E2', 'loop', 'Jb', 'f64 jmp');
  t.def('E3', 'jrcxz', 'Jb', 'f64 jmp'); // JCXZ / JECXZ / JRCXZ by address size
  t.def('E4', 'in', 'AL,Ib');
  t.def('E5', 'in', 'eAX,Ib');
  t.def('E6', 'out', 'Ib,AL');
  t.def('E7', 'out', 'Ib,eAX');
  t.def('E8', 'call', 'Jz', 'f64 jmp');
  t.def('E9', 'jmp', 'Jz', 'f64 jmp');
  t.def('EA', 'jmpf', 'Ap', 'i64 jmp');
  t.def('EB', 'jmp', 'Jb', 'f64 jmp');
  t.def('EC', 'in', 'AL,DX');
  t.def('ED', 'in', 'eAX,DX');
  t.def('EE', 'out', 'DX,AL');
  t.def('EF', 'out', 'DX,eAX');
  t.def('F1', 'int1', '', 'jmp');
  t.def('F4', 'hlt', '', 'priv jmp');
  t.def('F5', 'cmc', '');
  // F6/F7: group 3 (/1 is an undocumented alias of TEST).
  const grp3 = ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv'];
  grp3.forEach((name, i) => {
    const lock = name === 'not' || name === 'neg' ? 'lock' : '';
    t.def(`F6 /${i}`, name, i < 2 ? 'Eb,Ib' : 'Eb', lock);
    t.def(`F7 /${i}`, name, i < 2 ? 'Ev,Iz' : 'Ev', lock);
  });
  ['clc', 'stc', 'cli', 'sti', 'cld', 'std'].forEach((name, i) => t.def(hex(0xf8 + i), name, ''));
  t.def('FE /0', 'inc', 'Eb', 'lock');
  t.def('FE /1', 'dec', 'Eb', 'lock');
  t.def('FF /0', 'inc', 'Ev', 'lock');
  t.def('FF /1', 'dec', 'Ev', 'lock');
  t.def('FF /2', 'call', 'Ev', 'f64 jmp');
  t.def('FF /3 mem', 'callf', 'Mp', 'jmp');
  t.def('FF /4', 'jmp', 'Ev', 'f64 jmp');
  t.def('FF /5 mem', 'jmpf', 'Mp', 'jmp');
  t.def('FF /6', 'push', 'Ev', 'd64');
}

/** x87 (D8-DF): memory forms by ModRM.reg, register forms by reg and exact ModRM bytes. */
function defineX87(t: OpcodeTable): void {
  const arith = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
  const iarith = arith.map((n) => `fi${n.slice(1)}`);
  const mem: Record<string, (string | null)[]> = {
    D8: arith.map((n) => `${n} Md`),
    D9: ['fld Md', null, 'fst Md', 'fstp Md', 'fldenv Me', 'fldcw Mw', 'fnstenv Me', 'fnstcw Mw'],
    DA: iarith.map((n) => `${n} Md`),
    DB: ['fild Md', 'fisttp Md', 'fist Md', 'fistp Md', null, 'fld Mt', null, 'fstp Mt'],
    DC: arith.map((n) => `${n} Mq`),
    DD: ['fld Mq', 'fisttp Mq', 'fst Mq', 'fstp Mq', 'frstor Me', null, 'fnsave Me', 'fnstsw Mw'],
    DE: iarith.map((n) => `${n} Mw`),
    DF: ['fild Mw', 'fisttp Mw', 'fist Mw', 'fistp Mw', 'fbld Mt', 'fild Mq', 'fbstp Mt', 'fistp Mq'],
  };
  for (const [op, forms] of Object.entries(mem)) {
    forms.forEach((form, reg) => {
      if (!form) return;
      const [name, operand] = form.split(' ');
      t.def(`${op} /${reg} mem`, name!, operand!);
    });
  }
  // Register forms with ST(i) operands.
  const regForms: Record<string, (string | null)[]> = {
    D8: ['fadd ST,STi', 'fmul ST,STi', 'fcom STi', 'fcomp STi', 'fsub ST,STi', 'fsubr ST,STi', 'fdiv ST,STi', 'fdivr ST,STi'],
    D9: ['fld STi', 'fxch STi', null, null, null, null, null, null],
    DA: ['fcmovb ST,STi', 'fcmove ST,STi', 'fcmovbe ST,STi', 'fcmovu ST,STi', null, null, null, null],
    DB: ['fcmovnb ST,STi', 'fcmovne ST,STi', 'fcmovnbe ST,STi', 'fcmovnu ST,STi', null, 'fucomi ST,STi', 'fcomi ST,STi', null],
    DC: ['fadd STi,ST', 'fmul STi,ST', null, null, 'fsubr STi,ST', 'fsub STi,ST', 'fdivr STi,ST', 'fdiv STi,ST'],
    DD: ['ffree STi', null, 'fst STi', 'fstp STi', 'fucom STi', 'fucomp STi', null, null],
    DE: ['faddp STi,ST', 'fmulp STi,ST', null, null, 'fsubrp STi,ST', 'fsubp STi,ST', 'fdivrp STi,ST', 'fdivp STi,ST'],
    DF: [null, null, null, null, null, 'fucomip ST,STi', 'fcomip ST,STi', null],
  };
  for (const [op, forms] of Object.entries(regForms)) {
    forms.forEach((form, reg) => {
      if (!form) return;
      const [name, operands] = form.split(' ');
      t.def(`${op} /${reg} reg`, name!, operands!);
    });
  }
  // Exact encodings without operands.
  const exact: [string, string][] = [
    ['D9 D0', 'fnop'], ['D9 E0', 'fchs'], ['D9 E1', 'fabs'], ['D9 E4', 'ftst'], ['D9 E5', 'fxam'],
    ['D9 E8', 'fld1'], ['D9 E9', 'fldl2t'], ['D9 EA', 'fldl2e'], ['D9 EB', 'fldpi'], ['D9 EC', 'fldlg2'],
    ['D9 ED', 'fldln2'], ['D9 EE', 'fldz'], ['D9 F0', 'f2xm1'], ['D9 F1', 'fyl2x'], ['D9 F2', 'fptan'],
    ['D9 F3', 'fpatan'], ['D9 F4', 'fxtract'], ['D9 F5', 'fprem1'], ['D9 F6', 'fdecstp'], ['D9 F7', 'fincstp'],
    ['D9 F8', 'fprem'], ['D9 F9', 'fyl2xp1'], ['D9 FA', 'fsqrt'], ['D9 FB', 'fsincos'], ['D9 FC', 'frndint'],
    ['D9 FD', 'fscale'], ['D9 FE', 'fsin'], ['D9 FF', 'fcos'], ['DA E9', 'fucompp'], ['DB E2', 'fnclex'],
    ['DB E3', 'fninit'], ['DE D9', 'fcompp'],
  ];
  for (const [enc, name] of exact) t.def(enc, name, '');
  t.def('DF E0', 'fnstsw', 'AX');
}
