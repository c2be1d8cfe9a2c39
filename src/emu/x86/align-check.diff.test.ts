import { describe, expect, it } from 'vitest';
import { NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, nativeAvailable, zeroState } from '../testing/native.ts';
import { assemble } from './testing/asm.ts';
import { Rng, differential, type DiffCase } from './testing/differential.ts';

// Alignment checking (#AC, SDM Vol. 3A 6.15) against the host CPU. Linux runs user space with
// CR0.AM set, so code that sets EFLAGS.AC (pushf; or [rsp], AC; popf) gets #AC (SIGBUS, vector
// 17) for misaligned data accesses; the emulator's harness sets CR0.AM the same way. Every probe
// runs with AC set and clear, at aligned and misaligned offsets, and the final AC flag is
// compared too. Not compared (vendor differences; the emulator follows Intel's SDM): 16-byte
// SSE operands (AMD checks MOVUPS/MOVDQU; Intel never raises #AC for them) and FXSAVE/FXRSTOR
// misaligned by less than 16 (#GP here; AMD raises #AC for some misalignments).

const DATA = NATIVE_DATA_ADDR;
const AC = 0x4_0000;
const FLAGS = 0xcd5 | AC;

interface Probe {
  /** nasm source; rdi and rsi point at 0x1000 and 0x2000 into the data window, rsp at 0x8000. */
  src: string;
  /** Offsets substituted for OFF in `src`. */
  offsets: readonly number[];
  bits?: 32 | 64;
  /**
   * Bytes of the x87 image at rdi+OFF (or rsi+OFF) to zero afterwards with byte stores: FCS,
   * FDS and the reserved halves differ between the emulator and AMD hosts (not compared here).
   */
  wipe?: number;
  wipeRsi?: boolean;
}

const ALL8 = [0, 1, 2, 3, 4, 5, 6, 7];

const PROBES: readonly Probe[] = [
  // Loads and stores of every size.
  { src: 'mov al, [rdi+OFF]', offsets: [1] },
  { src: 'mov ax, [rdi+OFF]', offsets: ALL8 },
  { src: 'mov eax, [rdi+OFF]', offsets: ALL8 },
  { src: 'mov rax, [rdi+OFF]', offsets: ALL8 },
  { src: 'mov [rdi+OFF], bl', offsets: [3] },
  { src: 'mov [rdi+OFF], bx', offsets: ALL8 },
  { src: 'mov [rdi+OFF], ebx', offsets: ALL8 },
  { src: 'mov [rdi+OFF], rbx', offsets: ALL8 },
  { src: 'mov qword [rdi+OFF], -1', offsets: [0, 4] },
  { src: 'movzx eax, word [rdi+OFF]', offsets: [0, 1] },
  { src: 'movsxd rax, dword [rdi+OFF]', offsets: [0, 2] },
  // Read-modify-write and locked operations.
  { src: 'add [rdi+OFF], bx', offsets: [0, 1] },
  { src: 'add [rdi+OFF], ebx', offsets: [0, 2] },
  { src: 'add [rdi+OFF], rbx', offsets: [0, 4] },
  { src: 'lock xadd [rdi+OFF], ecx', offsets: [0, 1] },
  { src: 'xchg [rdi+OFF], rcx', offsets: [0, 4] },
  { src: 'cmpxchg [rdi+OFF], cx', offsets: [0, 1] },
  { src: 'cmpxchg8b [rdi+OFF]', offsets: [0, 4] },
  { src: 'cmpxchg16b [rdi+OFF]', offsets: [0, 8] },
  { src: 'mov eax, 35\nbts [rdi+OFF], eax', offsets: [0, 2] },
  { src: 'mov eax, 19\nbt word [rdi+OFF], ax', offsets: [0, 1] },
  { src: 'crc32 rax, qword [rdi+OFF]', offsets: [0, 4] },
  { src: 'movnti [rdi+OFF], rax', offsets: [0, 4] },
  { src: 'inc word [rdi+OFF]', offsets: [0, 1] },
  // Stack accesses with a misaligned RSP.
  { src: 'sub rsp, OFF\npush rax\npop rbx', offsets: ALL8 },
  { src: 'sub rsp, OFF\npush ax\npop bx', offsets: [0, 1, 2] },
  { src: 'sub rsp, OFF\ncall next\nnext: pop rbx', offsets: [0, 4] },
  { src: 'sub rsp, OFF\npush qword [rdi]\npop qword [rdi+8]', offsets: [0, 2] },
  { src: 'sub rsp, OFF\nmov rbp, rsp\nenter 16, 1\nleave', offsets: [0, 4] },
  { src: 'sub rsp, OFF\npush fs\npop rax', offsets: [0, 4] },
  { src: 'add rsp, OFF\npop rax', offsets: [0, 4] },
  // Segment loads: a selector is 2 bytes, a far pointer's offset part its own size.
  { src: 'mov ds, [rdi+OFF]', offsets: [0, 1] },
  { src: 'lfs eax, [rdi+OFF]', offsets: [0, 2, 4] },
  { src: 'lgs ax, [rdi+OFF]', offsets: [0, 1, 2] },
  // Strings: each element checked, the first misaligned one faults before anything changes.
  { src: 'add rdi, OFF\nadd rsi, OFF\nmovsw', offsets: [0, 1] },
  { src: 'add rdi, OFF\nmovsd', offsets: [0, 1, 2] },
  { src: 'add rsi, OFF\nmovsq', offsets: [0, 4] },
  { src: 'add rdi, OFF\nmov ecx, 9\nrep movsq', offsets: [0, 4] },
  { src: 'add rsi, OFF\nmov ecx, 9\nrep movsd', offsets: [0, 2] },
  { src: 'add rdi, OFF\nmov ecx, 300\nrep stosw', offsets: [0, 1] },
  { src: 'add rdi, OFF\nmov ecx, 300\nstd\nrep stosd\ncld', offsets: [0, 1] },
  { src: 'add rsi, OFF\nmov ecx, 5\nrep lodsq', offsets: [0, 2] },
  { src: 'add rdi, OFF\nmov ecx, 5\nrepe scasd', offsets: [0, 3] },
  { src: 'add rsi, OFF\nmov ecx, 5\nrepe cmpsw', offsets: [0, 1] },
  { src: 'add rdi, OFF\nmov ecx, 7\nrep movsb', offsets: [1] },
  // x87: 80-bit values need 8, the environment and FSAVE images 4 (2 with a 16-bit operand size).
  { src: 'fld dword [rdi+OFF]', offsets: [0, 2] },
  { src: 'fld qword [rdi+OFF]', offsets: [0, 4] },
  { src: 'fld tword [rdi+OFF]', offsets: [0, 2, 4, 8] },
  { src: 'fldpi\nfstp tword [rdi+OFF]', offsets: [0, 4, 8] },
  { src: 'fild word [rdi+OFF]', offsets: [0, 1] },
  { src: 'fldpi\nfistp qword [rdi+OFF]', offsets: [0, 4] },
  { src: 'fldz\nfbstp [rdi+OFF]', offsets: [0, 2, 8] },
  { src: 'fnstcw [rdi+OFF]', offsets: [0, 1] },
  { src: 'fnstsw [rdi+OFF]', offsets: [0, 1] },
  { src: 'fnstenv [rdi+OFF]', offsets: [0, 2, 4], wipe: 28 },
  { src: 'o16 fnstenv [rdi+OFF]', offsets: [0, 1, 2], wipe: 14 },
  { src: 'fnstenv [rsi]\nmov dword [rsi+16], 0\nmov dword [rsi+24], 0\nfldenv [rsi+OFF]', offsets: [0, 2], wipe: 28, wipeRsi: true },
  { src: 'fldpi\nfld1\nfnsave [rdi+OFF]', offsets: [0, 2, 4], wipe: 108 },
  { src: 'fldpi\nfld1\no16 fnsave [rdi+OFF]', offsets: [0, 1, 2], wipe: 94 },
  { src: 'fldpi\nfldl2e\nfnsave [rdi+OFF]\nfrstor [rdi+OFF]', offsets: [4], wipe: 108 },
  // MMX and SSE operands of 8 bytes or less; the aligned 16-byte forms' #GP comes first.
  { src: 'movq mm0, [rdi+OFF]\nemms', offsets: [0, 4] },
  { src: 'movd xmm0, [rdi+OFF]', offsets: [0, 1] },
  { src: 'movsd xmm0, [rdi+OFF]', offsets: [0, 4] },
  { src: 'movss [rdi+OFF], xmm0', offsets: [0, 2] },
  { src: 'movhps xmm0, [rdi+OFF]', offsets: [0, 4] },
  { src: 'pinsrw xmm0, [rdi+OFF], 1', offsets: [0, 1] },
  { src: 'pextrd [rdi+OFF], xmm0, 1', offsets: [0, 1] },
  { src: 'pmovzxbw xmm0, [rdi+OFF]', offsets: [0, 4] },
  { src: 'cvtsi2sd xmm0, qword [rdi+OFF]', offsets: [0, 4] },
  { src: 'ldmxcsr [rdi+OFF]', offsets: [0, 2] },
  { src: 'movdqa xmm0, [rdi+OFF]', offsets: [0, 4, 8] },
  { src: 'paddb xmm0, [rdi+OFF]', offsets: [8] },
  // #AC comes before #PF: a misaligned access to an unmapped page.
  { src: 'mov rax, [rdi+OFF-0x3000]', offsets: [0, 1] },
  { src: 'mov [rdi+OFF-0x3000], eax', offsets: [0, 2] },
  { src: 'add [rdi+OFF-0x3000], eax', offsets: [0, 1] }, // read-modify-write: probed as a write
  { src: 'lock cmpxchg [rdi+OFF-0x3000], cx', offsets: [1] },
  { src: 'cmpxchg8b [rdi+OFF-0x3000]', offsets: [4] },
  { src: 'fldpi\nfstp tword [rdi+OFF-0x3000]', offsets: [0, 4] },
  { src: 'fnstenv [rdi+OFF-0x3000]', offsets: [0, 2] },
  { src: 'o16 fnsave [rdi+OFF-0x3000]', offsets: [1] },
  // CLAC and STAC: SMAP is not advertised, so they are #UD (at CPL 3 on the host as well).
  { src: 'clac', offsets: [0] },
  { src: 'stac', offsets: [0] },
  // 32-bit code (compatibility mode).
  { src: 'mov eax, [edi+OFF]', offsets: [0, 2], bits: 32 },
  { src: 'mov [edi+OFF], bx', offsets: [0, 1], bits: 32 },
  { src: 'sub esp, OFF\npush eax\npop ebx', offsets: [0, 2], bits: 32 },
  { src: 'sub esp, OFF\npush word 7\npop bx', offsets: [0, 1], bits: 32 },
  { src: 'add edi, OFF\nmov ecx, 4\nrep stosd', offsets: [0, 1], bits: 32 },
  { src: 'fnsave [edi+OFF]', offsets: [0, 2, 4], bits: 32, wipe: 108 },
];

function setAc(bits: 32 | 64): string {
  return bits === 64 ? 'pushfq\nor dword [rsp], 0x40000\npopfq' : 'pushfd\nor dword [esp], 0x40000\npopfd';
}

function makeCase(rng: Rng, src: string, bits: 32 | 64, ac: boolean): DiffCase {
  const body = `bits ${bits}\n${ac ? setAc(bits) : ''}\n${src}`;
  const code = assemble(body, Number(NATIVE_CODE_ADDR));
  const state = zeroState();
  for (let r = 0; r < 16; r++) state.gpr[r] = rng.value();
  state.gpr[4] = DATA + 0x8000n;
  state.gpr[5] = DATA + 0x7000n;
  state.gpr[6] = DATA + 0x2000n;
  state.gpr[7] = DATA + 0x1000n;
  state.rflags = BigInt(rng.u32() & 0x8d5); // not DF
  const data = rng.bytes(0x3000);
  // Selectors the segment-load probes may find: null (0) or __USER_DS (0x2b) in the first words.
  for (const at of [0x1000, 0x1002, 0x1004, 0x1006, 0x1008]) data[at] = data[at + 1] = 0;
  data[0x1004] = 0x2b;
  return { code, what: `${ac ? '[AC] ' : ''}${src.replace(/\n/g, '; ')}`, state, data, bits, flagMask: FLAGS };
}

function cases(seed: number): DiffCase[] {
  const rng = new Rng(seed);
  const out: DiffCase[] = [];
  for (const p of PROBES) {
    for (const off of p.offsets) {
      let src = p.src.replace(/OFF/g, String(off));
      if (p.wipe !== undefined) {
        const [di, cx, ax] = p.bits === 32 ? ['edi', 'ecx', 'eax'] : ['rdi', 'rcx', 'rax'];
        const base = p.wipeRsi ? di.replace('d', 's') : di;
        src += `\nlea ${di}, [${base}+${p.wipeRsi ? 0 : off}]\nxor ${ax}, ${ax}\nmov ${cx}, ${p.wipe}\nrep stosb`;
      }
      for (const ac of [true, false]) out.push(makeCase(rng, src, p.bits ?? 64, ac));
    }
  }
  return out;
}

describe.runIf(nativeAvailable())('alignment checking agrees with the host CPU', () => {
  it('faults (#AC) on exactly the misaligned accesses the host faults on, with EFLAGS.AC set', () => {
    expect(differential(cases(17))).toEqual([]);
  });

  it('clearing AC with POPF (and a 16-bit POPF, which cannot reach it) behaves as on the host', () => {
    const rng = new Rng(5);
    const list = [
      'pushfq\nand dword [rsp], ~0x40000\npopfq\nmov eax, [rdi+1]',
      'pushfq\npop rax\npush ax\npopf\nmov eax, [rdi+1]',
      'pushfq\npop rax\nbtr eax, 18\npush rax\npopfq\nmov rax, [rdi+2]',
    ].map((src) => makeCase(rng, src, 64, true));
    expect(differential(list)).toEqual([]);
  });
});
