/**
 * The two-byte opcode map (0F xx): Intel SDM Vol. 2, Appendix A, Table A-3, and the groups of
 * Table A-6. SSE encodings are split by mandatory prefix (NP, 66, F3, F2).
 * Instructions marked `noimpl` are decoded for their length and name only (VMX, SVM, SGX,
 * XSAVE, 3DNow!, ...): executing them raises #UD, as CPUID does not advertise them.
 */
import type { OpcodeTable } from './opcode-table.ts';
import { CONDITIONS } from './opcodes-1.ts';

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** An MMX instruction (NP, Pq,Qq) and its SSE2 twin (66, Vx,Wx). */
function mmxSse(t: OpcodeTable, op: number, name: string): void {
  t.def(`NP 0F ${hex(op)}`, name, 'Pq,Qq');
  t.def(`66 0F ${hex(op)}`, name, 'Vx,Wx');
}

/** A packed/scalar SSE arithmetic quartet: ps (NP), pd (66), ss (F3), sd (F2). */
function fourWay(t: OpcodeTable, op: number, name: string, skip = ''): void {
  if (!skip.includes('ps')) t.def(`NP 0F ${hex(op)}`, `${name}ps`, 'Vx,Wx');
  if (!skip.includes('pd')) t.def(`66 0F ${hex(op)}`, `${name}pd`, 'Vx,Wx');
  if (!skip.includes('ss')) t.def(`F3 0F ${hex(op)}`, `${name}ss`, 'Vx,Wss');
  if (!skip.includes('sd')) t.def(`F2 0F ${hex(op)}`, `${name}sd`, 'Vx,Wsd');
}

export function defineTwoByteMap(t: OpcodeTable): void {
  // 0F 00: group 6; 0F 01: group 7 (descriptor tables and many exact encodings).
  t.def('0F 00 /0', 'sldt', 'Ew');
  t.def('0F 00 /1', 'str', 'Ew');
  t.def('0F 00 /2', 'lldt', 'Ew', 'priv');
  t.def('0F 00 /3', 'ltr', 'Ew', 'priv');
  t.def('0F 00 /4', 'verr', 'Ew');
  t.def('0F 00 /5', 'verw', 'Ew');
  t.def('0F 01 /0 mem', 'sgdt', 'Ms');
  t.def('0F 01 /1 mem', 'sidt', 'Ms');
  t.def('0F 01 /2 mem', 'lgdt', 'Ms', 'priv');
  t.def('0F 01 /3 mem', 'lidt', 'Ms', 'priv');
  t.def('0F 01 /4', 'smsw', 'Ew');
  t.def('0F 01 /6', 'lmsw', 'Ew', 'priv');
  t.def('0F 01 /7 mem', 'invlpg', 'Mb', 'priv');
  const group7: [string, string, string][] = [
    ['C1', 'vmcall', 'noimpl'], ['C2', 'vmlaunch', 'noimpl'], ['C3', 'vmresume', 'noimpl'], ['C4', 'vmxoff', 'noimpl'],
    ['C8', 'monitor', 'noimpl'], ['C9', 'mwait', 'noimpl'], ['CA', 'clac', 'noimpl'], ['CB', 'stac', 'noimpl'],
    ['CF', 'encls', 'noimpl'], ['D0', 'xgetbv', 'noimpl'], ['D1', 'xsetbv', 'noimpl'], ['D4', 'vmfunc', 'noimpl'],
    ['D5', 'xend', 'noimpl'], ['D6', 'xtest', 'noimpl'], ['D7', 'enclu', 'noimpl'], ['D8', 'vmrun', 'noimpl'],
    ['D9', 'vmmcall', 'noimpl'], ['DA', 'vmload', 'noimpl'], ['DB', 'vmsave', 'noimpl'], ['DC', 'stgi', 'noimpl'],
    ['DD', 'clgi', 'noimpl'], ['DE', 'skinit', 'noimpl'], ['DF', 'invlpga', 'noimpl'], ['E8', 'serialize', 'noimpl'],
    ['EE', 'rdpkru', 'noimpl'], ['EF', 'wrpkru', 'noimpl'], ['F8', 'swapgs', 'o64 priv'], ['F9', 'rdtscp', ''],
    ['FA', 'monitorx', 'noimpl'], ['FB', 'mwaitx', 'noimpl'], ['FC', 'clzero', 'noimpl'],
  ];
  for (const [modrm, name, attrs] of group7) t.def(`0F 01 ${modrm}`, name, '', attrs);
  t.def('0F 02', 'lar', 'Gv,Ew');
  t.def('0F 03', 'lsl', 'Gv,Ew');
  t.def('0F 05', 'syscall', '', 'o64 jmp');
  t.def('0F 06', 'clts', '', 'priv');
  t.def('0F 07', 'sysret', '', 'o64 priv jmp');
  t.def('0F 08', 'invd', '', 'priv');
  t.def('0F 09', 'wbinvd', '', 'priv');
  t.def('0F 0B', 'ud2', '', 'jmp');
  t.def('0F 0D /1', 'prefetchw', 'Mb');
  for (const r of [0, 2, 3, 4, 5, 6, 7]) t.def(`0F 0D /${r}`, 'prefetch', 'Mb');
  t.def('0F 0E', 'femms', '', 'noimpl');
  t.def('0F 0F', '3dnow', 'Pq,Qq,Ib', 'noimpl'); // the trailing byte selects the operation
  // 0F 10-17: SSE moves.
  t.def('NP 0F 10', 'movups', 'Vx,Wx');
  t.def('66 0F 10', 'movupd', 'Vx,Wx');
  t.def('F3 0F 10', 'movss', 'Vx,Wss');
  t.def('F2 0F 10', 'movsd', 'Vx,Wsd');
  t.def('NP 0F 11', 'movups', 'Wx,Vx');
  t.def('66 0F 11', 'movupd', 'Wx,Vx');
  t.def('F3 0F 11', 'movss', 'Wss,Vx');
  t.def('F2 0F 11', 'movsd', 'Wsd,Vx');
  t.def('NP 0F 12 mem', 'movlps', 'Vx,Mq');
  t.def('NP 0F 12 reg', 'movhlps', 'Vx,Ux');
  t.def('66 0F 12 mem', 'movlpd', 'Vx,Mq');
  t.def('F3 0F 12', 'movsldup', 'Vx,Wx');
  t.def('F2 0F 12', 'movddup', 'Vx,Wsd');
  t.def('NP 0F 13 mem', 'movlps', 'Mq,Vx');
  t.def('66 0F 13 mem', 'movlpd', 'Mq,Vx');
  t.def('NP 0F 14', 'unpcklps', 'Vx,Wx');
  t.def('66 0F 14', 'unpcklpd', 'Vx,Wx');
  t.def('NP 0F 15', 'unpckhps', 'Vx,Wx');
  t.def('66 0F 15', 'unpckhpd', 'Vx,Wx');
  t.def('NP 0F 16 mem', 'movhps', 'Vx,Mq');
  t.def('NP 0F 16 reg', 'movlhps', 'Vx,Ux');
  t.def('66 0F 16 mem', 'movhpd', 'Vx,Mq');
  t.def('F3 0F 16', 'movshdup', 'Vx,Wx');
  t.def('NP 0F 17 mem', 'movhps', 'Mq,Vx');
  t.def('66 0F 17 mem', 'movhpd', 'Mq,Vx');
  // 0F 18-1F: prefetch hints and hint NOPs (reserved-NOP space, all with ModRM).
  ['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2'].forEach((n, r) => t.def(`0F 18 /${r} mem`, n, 'Mb'));
  for (let r = 4; r < 8; r++) t.def(`0F 18 /${r}`, 'nop', 'Ev');
  for (let r = 0; r < 4; r++) t.def(`0F 18 /${r} reg`, 'nop', 'Ev');
  for (const op of [0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f]) t.def(`0F ${hex(op)}`, 'nop', 'Ev');
  t.def('F3 0F 1E FA', 'endbr64', '');
  t.def('F3 0F 1E FB', 'endbr32', '');
  // 0F 20-23: moves to and from control and debug registers (mod is ignored).
  t.def('0F 20', 'mov', 'Ry,Cy', 'f64 priv modreg');
  t.def('0F 21', 'mov', 'Ry,Dy', 'f64 priv modreg');
  t.def('0F 22', 'mov', 'Cy,Ry', 'f64 priv jmp modreg');
  t.def('0F 23', 'mov', 'Dy,Ry', 'f64 priv modreg');
  // The 386/486 test registers: gone since the Pentium (#UD), decoded for their length.
  t.def('0F 24', 'mov', 'Rd,Td', 'i64 noimpl modreg');
  t.def('0F 26', 'mov', 'Td,Rd', 'i64 noimpl modreg');
  // 0F 28-2F: aligned moves, conversions, compares.
  t.def('NP 0F 28', 'movaps', 'Vx,Wx');
  t.def('66 0F 28', 'movapd', 'Vx,Wx');
  t.def('NP 0F 29', 'movaps', 'Wx,Vx');
  t.def('66 0F 29', 'movapd', 'Wx,Vx');
  t.def('NP 0F 2A', 'cvtpi2ps', 'Vx,Qq');
  t.def('66 0F 2A', 'cvtpi2pd', 'Vx,Qq');
  t.def('F3 0F 2A', 'cvtsi2ss', 'Vx,Ey');
  t.def('F2 0F 2A', 'cvtsi2sd', 'Vx,Ey');
  t.def('NP 0F 2B mem', 'movntps', 'Mx,Vx');
  t.def('66 0F 2B mem', 'movntpd', 'Mx,Vx');
  t.def('NP 0F 2C', 'cvttps2pi', 'Pq,Wq');
  t.def('66 0F 2C', 'cvttpd2pi', 'Pq,Wx');
  t.def('F3 0F 2C', 'cvttss2si', 'Gy,Wss');
  t.def('F2 0F 2C', 'cvttsd2si', 'Gy,Wsd');
  t.def('NP 0F 2D', 'cvtps2pi', 'Pq,Wq');
  t.def('66 0F 2D', 'cvtpd2pi', 'Pq,Wx');
  t.def('F3 0F 2D', 'cvtss2si', 'Gy,Wss');
  t.def('F2 0F 2D', 'cvtsd2si', 'Gy,Wsd');
  t.def('NP 0F 2E', 'ucomiss', 'Vx,Wss');
  t.def('66 0F 2E', 'ucomisd', 'Vx,Wsd');
  t.def('NP 0F 2F', 'comiss', 'Vx,Wss');
  t.def('66 0F 2F', 'comisd', 'Vx,Wsd');
  // 0F 30-37: MSRs, time stamp, fast system calls.
  t.def('0F 30', 'wrmsr', '', 'priv');
  t.def('0F 31', 'rdtsc', '');
  t.def('0F 32', 'rdmsr', '', 'priv');
  t.def('0F 33', 'rdpmc', '', 'noimpl');
  t.def('0F 34', 'sysenter', '', 'jmp');
  t.def('0F 35', 'sysexit', '', 'priv jmp');
  t.def('0F 37', 'getsec', '', 'noimpl');
  CONDITIONS.forEach((cc, i) => t.def(`0F ${hex(0x40 + i)}`, `cmov${cc}`, 'Gv,Ev'));
  // 0F 50-5F: SSE arithmetic and conversions.
  t.def('NP 0F 50 reg', 'movmskps', 'Gy,Ux');
  t.def('66 0F 50 reg', 'movmskpd', 'Gy,Ux');
  fourWay(t, 0x51, 'sqrt');
  fourWay(t, 0x52, 'rsqrt', 'pd sd');
  fourWay(t, 0x53, 'rcp', 'pd sd');
  fourWay(t, 0x54, 'and', 'ss sd');
  fourWay(t, 0x55, 'andn', 'ss sd');
  fourWay(t, 0x56, 'or', 'ss sd');
  fourWay(t, 0x57, 'xor', 'ss sd');
  fourWay(t, 0x58, 'add');
  fourWay(t, 0x59, 'mul');
  t.def('NP 0F 5A', 'cvtps2pd', 'Vx,Wq');
  t.def('66 0F 5A', 'cvtpd2ps', 'Vx,Wx');
  t.def('F3 0F 5A', 'cvtss2sd', 'Vx,Wss');
  t.def('F2 0F 5A', 'cvtsd2ss', 'Vx,Wsd');
  t.def('NP 0F 5B', 'cvtdq2ps', 'Vx,Wx');
  t.def('66 0F 5B', 'cvtps2dq', 'Vx,Wx');
  t.def('F3 0F 5B', 'cvttps2dq', 'Vx,Wx');
  fourWay(t, 0x5c, 'sub');
  fourWay(t, 0x5d, 'min');
  fourWay(t, 0x5e, 'div');
  fourWay(t, 0x5f, 'max');
  // 0F 60-7F: MMX and SSE2 integer.
  const row6 = ['punpcklbw', 'punpcklwd', 'punpckldq', 'packsswb', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd', 'packuswb',
    'punpckhbw', 'punpckhwd', 'punpckhdq', 'packssdw'];
  row6.forEach((name, i) => mmxSse(t, 0x60 + i, name));
  t.def('66 0F 6C', 'punpcklqdq', 'Vx,Wx');
  t.def('66 0F 6D', 'punpckhqdq', 'Vx,Wx');
  t.def('NP 0F 6E', 'movd', 'Pq,Ey'); // MOVQ with REX.W
  t.def('66 0F 6E', 'movd', 'Vx,Ey');
  t.def('NP 0F 6F', 'movq', 'Pq,Qq');
  t.def('66 0F 6F', 'movdqa', 'Vx,Wx');
  t.def('F3 0F 6F', 'movdqu', 'Vx,Wx');
  t.def('NP 0F 70', 'pshufw', 'Pq,Qq,Ib');
  t.def('66 0F 70', 'pshufd', 'Vx,Wx,Ib');
  t.def('F3 0F 70', 'pshufhw', 'Vx,Wx,Ib');
  t.def('F2 0F 70', 'pshuflw', 'Vx,Wx,Ib');
  const shiftImm: [number, number, string][] = [
    [0x71, 2, 'psrlw'], [0x71, 4, 'psraw'], [0x71, 6, 'psllw'],
    [0x72, 2, 'psrld'], [0x72, 4, 'psrad'], [0x72, 6, 'pslld'],
    [0x73, 2, 'psrlq'], [0x73, 6, 'psllq'],
  ];
  for (const [op, r, name] of shiftImm) {
    t.def(`NP 0F ${hex(op)} /${r} reg`, name, 'Nq,Ib');
    t.def(`66 0F ${hex(op)} /${r} reg`, name, 'Ux,Ib');
  }
  t.def('66 0F 73 /3 reg', 'psrldq', 'Ux,Ib');
  t.def('66 0F 73 /7 reg', 'pslldq', 'Ux,Ib');
  mmxSse(t, 0x74, 'pcmpeqb');
  mmxSse(t, 0x75, 'pcmpeqw');
  mmxSse(t, 0x76, 'pcmpeqd');
  t.def('NP 0F 77', 'emms', '');
  t.def('NP 0F 78', 'vmread', 'Ey,Gy', 'noimpl');
  t.def('66 0F 78 /0 reg', 'extrq', 'Ux,Ib,Ib', 'noimpl');
  t.def('F2 0F 78 reg', 'insertq', 'Vx,Ux,Ib,Ib', 'noimpl');
  t.def('NP 0F 79', 'vmwrite', 'Gy,Ey', 'noimpl');
  t.def('66 0F 79 reg', 'extrq', 'Vx,Ux', 'noimpl');
  t.def('F2 0F 79 reg', 'insertq', 'Vx,Ux', 'noimpl');
  t.def('66 0F 7C', 'haddpd', 'Vx,Wx');
  t.def('F2 0F 7C', 'haddps', 'Vx,Wx');
  t.def('66 0F 7D', 'hsubpd', 'Vx,Wx');
  t.def('F2 0F 7D', 'hsubps', 'Vx,Wx');
  t.def('NP 0F 7E', 'movd', 'Ey,Pq'); // MOVQ with REX.W
  t.def('66 0F 7E', 'movd', 'Ey,Vx');
  t.def('F3 0F 7E', 'movq', 'Vx,Wq');
  t.def('NP 0F 7F', 'movq', 'Qq,Pq');
  t.def('66 0F 7F', 'movdqa', 'Wx,Vx');
  t.def('F3 0F 7F', 'movdqu', 'Wx,Vx');
  // 0F 80-AF: branches, SETcc, segment pushes, bit tests, double shifts.
  CONDITIONS.forEach((cc, i) => t.def(`0F ${hex(0x80 + i)}`, `j${cc}`, 'Jz', 'f64 jmp'));
  CONDITIONS.forEach((cc, i) => t.def(`0F ${hex(0x90 + i)}`, `set${cc}`, 'Eb'));
  t.def('0F A0', 'push', 'FS', 'd64');
  t.def('0F A1', 'pop', 'FS', 'd64');
  t.def('0F A2', 'cpuid', '');
  t.def('0F A3', 'bt', 'Ev,Gv');
  t.def('0F A4', 'shld', 'Ev,Gv,Ib');
  t.def('0F A5', 'shld', 'Ev,Gv,CL');
  // VIA PadLock (0F A6 / 0F A7 with exact ModRM bytes): decoded for their length only.
  const padlock: [string, string][] = [
    ['A6 C0', 'montmul'], ['A6 C8', 'xsha1'], ['A6 D0', 'xsha256'], ['A7 C0', 'xstore'], ['A7 C8', 'xcryptecb'],
    ['A7 D0', 'xcryptcbc'], ['A7 D8', 'xcryptctr'], ['A7 E0', 'xcryptcfb'], ['A7 E8', 'xcryptofb'],
  ];
  for (const [enc, name] of padlock) t.def(`0F ${enc}`, name, '', 'noimpl');
  t.def('0F A8', 'push', 'GS', 'd64');
  t.def('0F A9', 'pop', 'GS', 'd64');
  t.def('0F AA', 'rsm', '', 'noimpl');
  t.def('0F AB', 'bts', 'Ev,Gv', 'lock');
  t.def('0F AC', 'shrd', 'Ev,Gv,Ib');
  t.def('0F AD', 'shrd', 'Ev,Gv,CL');
  // 0F AE: group 15 (FXSAVE, MXCSR, XSAVE, fences, FS/GS base).
  t.def('NP 0F AE /0 mem', 'fxsave', 'Me');
  t.def('NP 0F AE /1 mem', 'fxrstor', 'Me');
  t.def('NP 0F AE /2 mem', 'ldmxcsr', 'Md');
  t.def('NP 0F AE /3 mem', 'stmxcsr', 'Md');
  t.def('NP 0F AE /4 mem', 'xsave', 'Me', 'noimpl');
  t.def('NP 0F AE /5 mem', 'xrstor', 'Me', 'noimpl');
  t.def('NP 0F AE /6 mem', 'xsaveopt', 'Me', 'noimpl');
  t.def('NP 0F AE /7 mem', 'clflush', 'Mb');
  t.def('NP 0F AE /5 reg', 'lfence', '');
  t.def('NP 0F AE /6 reg', 'mfence', '');
  t.def('NP 0F AE /7 reg', 'sfence', '');
  t.def('66 0F AE /6 mem', 'clwb', 'Mb', 'noimpl');
  t.def('66 0F AE /7 mem', 'clflushopt', 'Mb', 'noimpl');
  ['rdfsbase', 'rdgsbase', 'wrfsbase', 'wrgsbase'].forEach((n, r) => t.def(`F3 0F AE /${r} reg`, n, 'Ry', 'o64 noimpl'));
  t.def('0F AF', 'imul', 'Gv,Ev');
  t.def('0F B0', 'cmpxchg', 'Eb,Gb', 'lock');
  t.def('0F B1', 'cmpxchg', 'Ev,Gv', 'lock');
  t.def('0F B2 mem', 'lss', 'Gv,Mp');
  t.def('0F B3', 'btr', 'Ev,Gv', 'lock');
  t.def('0F B4 mem', 'lfs', 'Gv,Mp');
  t.def('0F B5 mem', 'lgs', 'Gv,Mp');
  t.def('0F B6', 'movzx', 'Gv,Eb');
  t.def('0F B7', 'movzx', 'Gv,Ew');
  t.def('F3 0F B8', 'popcnt', 'Gv,Ev');
  t.def('0F B9', 'ud1', 'Gv,Ev', 'jmp');
  ['bt', 'bts', 'btr', 'btc'].forEach((n, i) => t.def(`0F BA /${i + 4}`, n, 'Ev,Ib', n === 'bt' ? '' : 'lock'));
  t.def('0F BB', 'btc', 'Ev,Gv', 'lock');
  t.def('0F BC', 'bsf', 'Gv,Ev');
  // TZCNT/LZCNT (BMI1/LZCNT) are not advertised: like every CPU without them we execute F3 0F
  // BC/BD as BSF/BSR with an ignored REP prefix (Linux and compilers emit "rep bsf" on purpose).
  t.def('F3 0F BC', 'tzcnt', 'Gv,Ev');
  t.def('0F BD', 'bsr', 'Gv,Ev');
  t.def('F3 0F BD', 'lzcnt', 'Gv,Ev');
  t.def('0F BE', 'movsx', 'Gv,Eb');
  t.def('0F BF', 'movsx', 'Gv,Ew');
  // 0F C0-CF.
  t.def('0F C0', 'xadd', 'Eb,Gb', 'lock');
  t.def('0F C1', 'xadd', 'Ev,Gv', 'lock');
  t.def('NP 0F C2', 'cmpps', 'Vx,Wx,Ib');
  t.def('66 0F C2', 'cmppd', 'Vx,Wx,Ib');
  t.def('F3 0F C2', 'cmpss', 'Vx,Wss,Ib');
  t.def('F2 0F C2', 'cmpsd', 'Vx,Wsd,Ib');
  t.def('NP 0F C3 mem', 'movnti', 'My,Gy');
  t.def('NP 0F C4', 'pinsrw', 'Pq,Ew,Ib');
  t.def('66 0F C4', 'pinsrw', 'Vx,Ew,Ib');
  t.def('NP 0F C5 reg', 'pextrw', 'Gd,Nq,Ib');
  t.def('66 0F C5 reg', 'pextrw', 'Gd,Ux,Ib');
  t.def('NP 0F C6', 'shufps', 'Vx,Wx,Ib');
  t.def('66 0F C6', 'shufpd', 'Vx,Wx,Ib');
  t.def('0F C7 /1 mem', 'cmpxchg8b', 'Mq', 'lock'); // CMPXCHG16B with REX.W
  t.def('0F C7 /3 mem', 'xrstors', 'Me', 'noimpl');
  t.def('0F C7 /4 mem', 'xsavec', 'Me', 'noimpl');
  t.def('0F C7 /5 mem', 'xsaves', 'Me', 'noimpl');
  t.def('NP 0F C7 /6 mem', 'vmptrld', 'Mq', 'noimpl');
  t.def('66 0F C7 /6 mem', 'vmclear', 'Mq', 'noimpl');
  t.def('F3 0F C7 /6 mem', 'vmxon', 'Mq', 'noimpl');
  t.def('NP 0F C7 /7 mem', 'vmptrst', 'Mq', 'noimpl');
  t.def('0F C7 /6 reg', 'rdrand', 'Rv', 'noimpl');
  t.def('NP 0F C7 /7 reg', 'rdseed', 'Rv', 'noimpl');
  t.def('F3 0F C7 /7 reg', 'rdpid', 'Ry', 'noimpl');
  t.def('0F C8+r', 'bswap', 'Zy');
  // 0F D0-FF: SSE2 integer and the rest.
  t.def('66 0F D0', 'addsubpd', 'Vx,Wx');
  t.def('F2 0F D0', 'addsubps', 'Vx,Wx');
  const rowD = ['psrlw', 'psrld', 'psrlq', 'paddq', 'pmullw'];
  rowD.forEach((name, i) => mmxSse(t, 0xd1 + i, name));
  t.def('66 0F D6', 'movq', 'Wq,Vx');
  t.def('F3 0F D6 reg', 'movq2dq', 'Vx,Nq');
  t.def('F2 0F D6 reg', 'movdq2q', 'Pq,Ux');
  t.def('NP 0F D7 reg', 'pmovmskb', 'Gd,Nq');
  t.def('66 0F D7 reg', 'pmovmskb', 'Gd,Ux');
  const rowDE = ['psubusb', 'psubusw', 'pminub', 'pand', 'paddusb', 'paddusw', 'pmaxub', 'pandn',
    'pavgb', 'psraw', 'psrad', 'pavgw', 'pmulhuw', 'pmulhw'];
  rowDE.forEach((name, i) => mmxSse(t, 0xd8 + i, name));
  t.def('66 0F E6', 'cvttpd2dq', 'Vx,Wx');
  t.def('F3 0F E6', 'cvtdq2pd', 'Vx,Wq');
  t.def('F2 0F E6', 'cvtpd2dq', 'Vx,Wx');
  t.def('NP 0F E7 mem', 'movntq', 'Mq,Pq');
  t.def('66 0F E7 mem', 'movntdq', 'Mx,Vx');
  const rowE8 = ['psubsb', 'psubsw', 'pminsw', 'por', 'paddsb', 'paddsw', 'pmaxsw', 'pxor'];
  rowE8.forEach((name, i) => mmxSse(t, 0xe8 + i, name));
  t.def('F2 0F F0 mem', 'lddqu', 'Vx,Mx');
  const rowF = ['psllw', 'pslld', 'psllq', 'pmuludq', 'pmaddwd', 'psadbw'];
  rowF.forEach((name, i) => mmxSse(t, 0xf1 + i, name));
  t.def('NP 0F F7 reg', 'maskmovq', 'Pq,Nq');
  t.def('66 0F F7 reg', 'maskmovdqu', 'Vx,Ux');
  const rowF8 = ['psubb', 'psubw', 'psubd', 'psubq', 'paddb', 'paddw', 'paddd'];
  rowF8.forEach((name, i) => mmxSse(t, 0xf8 + i, name));
  t.def('0F FF', 'ud0', 'Gv,Ev', 'jmp');
}
