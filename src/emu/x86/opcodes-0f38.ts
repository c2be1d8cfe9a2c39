/**
 * The three-byte opcode maps 0F 38 and 0F 3A (legacy SSE encodings): Intel SDM Vol. 2,
 * Appendix A, Tables. Every 0F 3A instruction has an imm8.
 */
import type { OpcodeTable } from './opcode-table.ts';

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

export function defineThreeByteMaps(t: OpcodeTable): void {
  // SSSE3: MMX (NP) and XMM (66) forms.
  const ssse3 = ['pshufb', 'phaddw', 'phaddd', 'phaddsw', 'pmaddubsw', 'phsubw', 'phsubd', 'phsubsw',
    'psignb', 'psignw', 'psignd', 'pmulhrsw'];
  ssse3.forEach((name, i) => {
    t.def(`NP 0F 38 ${hex(i)}`, name, 'Pq,Qq');
    t.def(`66 0F 38 ${hex(i)}`, name, 'Vx,Wx');
  });
  ['pabsb', 'pabsw', 'pabsd'].forEach((name, i) => {
    t.def(`NP 0F 38 ${hex(0x1c + i)}`, name, 'Pq,Qq');
    t.def(`66 0F 38 ${hex(0x1c + i)}`, name, 'Vx,Wx');
  });
  // SSE4.1 / SSE4.2 (66 prefix).
  const sse4: [number, string, string][] = [
    [0x10, 'pblendvb', 'Vx,Wx,XMM0'], [0x14, 'blendvps', 'Vx,Wx,XMM0'], [0x15, 'blendvpd', 'Vx,Wx,XMM0'],
    [0x17, 'ptest', 'Vx,Wx'],
    [0x20, 'pmovsxbw', 'Vx,Wq'], [0x21, 'pmovsxbd', 'Vx,Wd'], [0x22, 'pmovsxbq', 'Vx,Ww'],
    [0x23, 'pmovsxwd', 'Vx,Wq'], [0x24, 'pmovsxwq', 'Vx,Wd'], [0x25, 'pmovsxdq', 'Vx,Wq'],
    [0x28, 'pmuldq', 'Vx,Wx'], [0x29, 'pcmpeqq', 'Vx,Wx'], [0x2a, 'movntdqa', 'Vx,Mx'], [0x2b, 'packusdw', 'Vx,Wx'],
    [0x30, 'pmovzxbw', 'Vx,Wq'], [0x31, 'pmovzxbd', 'Vx,Wd'], [0x32, 'pmovzxbq', 'Vx,Ww'],
    [0x33, 'pmovzxwd', 'Vx,Wq'], [0x34, 'pmovzxwq', 'Vx,Wd'], [0x35, 'pmovzxdq', 'Vx,Wq'],
    [0x37, 'pcmpgtq', 'Vx,Wx'], [0x38, 'pminsb', 'Vx,Wx'], [0x39, 'pminsd', 'Vx,Wx'], [0x3a, 'pminuw', 'Vx,Wx'],
    [0x3b, 'pminud', 'Vx,Wx'], [0x3c, 'pmaxsb', 'Vx,Wx'], [0x3d, 'pmaxsd', 'Vx,Wx'], [0x3e, 'pmaxuw', 'Vx,Wx'],
    [0x3f, 'pmaxud', 'Vx,Wx'], [0x40, 'pmulld', 'Vx,Wx'], [0x41, 'phminposuw', 'Vx,Wx'],
  ];
  for (const [op, name, operands] of sse4) t.def(`66 0F 38 ${hex(op)}`, name, operands);
  // Not advertised: VMX/INVPCID, SHA, AES, GFNI, MOVDIR*, ADX.
  const noimpl: [string, string, string][] = [
    ['66 0F 38 80 mem', 'invept', 'Gy,Mdq'], ['66 0F 38 81 mem', 'invvpid', 'Gy,Mdq'],
    ['66 0F 38 82 mem', 'invpcid', 'Gy,Mdq'],
    ['NP 0F 38 C8', 'sha1nexte', 'Vx,Wx'], ['NP 0F 38 C9', 'sha1msg1', 'Vx,Wx'], ['NP 0F 38 CA', 'sha1msg2', 'Vx,Wx'],
    ['NP 0F 38 CB', 'sha256rnds2', 'Vx,Wx,XMM0'], ['NP 0F 38 CC', 'sha256msg1', 'Vx,Wx'],
    ['NP 0F 38 CD', 'sha256msg2', 'Vx,Wx'], ['66 0F 38 CF', 'gf2p8mulb', 'Vx,Wx'],
    ['66 0F 38 DB', 'aesimc', 'Vx,Wx'], ['66 0F 38 DC', 'aesenc', 'Vx,Wx'], ['66 0F 38 DD', 'aesenclast', 'Vx,Wx'],
    ['66 0F 38 DE', 'aesdec', 'Vx,Wx'], ['66 0F 38 DF', 'aesdeclast', 'Vx,Wx'],
    ['66 0F 38 F6', 'adcx', 'Gy,Ey'], ['F3 0F 38 F6', 'adox', 'Gy,Ey'],
    ['66 0F 38 F8 mem', 'movdir64b', 'Gv,M'], ['NP 0F 38 F9 mem', 'movdiri', 'My,Gy'],
  ];
  for (const [enc, name, operands] of noimpl) t.def(enc, name, operands, 'noimpl');
  // MOVBE (not advertised) and CRC32 (SSE4.2) share F0/F1.
  t.def('NP 0F 38 F0 mem', 'movbe', 'Gv,Mv', 'noimpl');
  t.def('NP 0F 38 F1 mem', 'movbe', 'Mv,Gv', 'noimpl');
  t.def('66 0F 38 F0 mem', 'movbe', 'Gv,Mv', 'noimpl');
  t.def('66 0F 38 F1 mem', 'movbe', 'Mv,Gv', 'noimpl');
  t.def('F2 0F 38 F0', 'crc32', 'Gy,Eb');
  t.def('F2 0F 38 F1', 'crc32', 'Gy,Ev');

  // 0F 3A: every form takes an imm8.
  t.def('NP 0F 3A 0F', 'palignr', 'Pq,Qq,Ib');
  const map3a: [number, string, string, string][] = [
    [0x08, 'roundps', 'Vx,Wx,Ib', ''], [0x09, 'roundpd', 'Vx,Wx,Ib', ''], [0x0a, 'roundss', 'Vx,Wss,Ib', ''],
    [0x0b, 'roundsd', 'Vx,Wsd,Ib', ''], [0x0c, 'blendps', 'Vx,Wx,Ib', ''], [0x0d, 'blendpd', 'Vx,Wx,Ib', ''],
    [0x0e, 'pblendw', 'Vx,Wx,Ib', ''], [0x0f, 'palignr', 'Vx,Wx,Ib', ''],
    [0x14, 'pextrb', 'Ed,Vx,Ib', ''], [0x15, 'pextrw', 'Ed,Vx,Ib', ''], [0x16, 'pextrd', 'Ey,Vx,Ib', ''],
    [0x17, 'extractps', 'Ed,Vx,Ib', ''], [0x20, 'pinsrb', 'Vx,Ed,Ib', ''], [0x21, 'insertps', 'Vx,Wd,Ib', ''],
    [0x22, 'pinsrd', 'Vx,Ey,Ib', ''], [0x40, 'dpps', 'Vx,Wx,Ib', ''], [0x41, 'dppd', 'Vx,Wx,Ib', ''],
    [0x42, 'mpsadbw', 'Vx,Wx,Ib', ''], [0x44, 'pclmulqdq', 'Vx,Wx,Ib', 'noimpl'],
    [0x60, 'pcmpestrm', 'Vx,Wx,Ib', ''], [0x61, 'pcmpestri', 'Vx,Wx,Ib', ''], [0x62, 'pcmpistrm', 'Vx,Wx,Ib', ''],
    [0x63, 'pcmpistri', 'Vx,Wx,Ib', ''], [0xce, 'gf2p8affineqb', 'Vx,Wx,Ib', 'noimpl'],
    [0xcf, 'gf2p8affineinvqb', 'Vx,Wx,Ib', 'noimpl'], [0xdf, 'aeskeygenassist', 'Vx,Wx,Ib', 'noimpl'],
  ];
  for (const [op, name, operands, attrs] of map3a) t.def(`66 0F 3A ${hex(op)}`, name, operands, attrs);
  t.def('NP 0F 3A CC', 'sha1rnds4', 'Vx,Wx,Ib', 'noimpl');
}
