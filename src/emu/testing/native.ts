/**
 * The native side of the differential CPU tests: runs x86-64 machine code on the host CPU (Linux,
 * user mode, 64-bit or 32-bit compatibility mode) from a given state and reports the final state
 * or the fault. The emulator
 * runs the same bytes from the same state; the tests compare the two.
 *
 * `native-harness.c` (next to this file) is compiled with gcc on first use and cached under
 * `node_modules/.cache/virtlite/` by a hash of its source and build flags; all cases of a
 * `runNative` call run in one harness process.
 *
 * Machine, identical for every case (see the top of native-harness.c):
 * - code window: NATIVE_CODE_ADDR, NATIVE_CODE_SIZE bytes, RWX. Filled with 0xCC (int3), the
 *   case's code at its start, followed by a 6-byte `jmp [rip+disp32]` through an aligned pointer
 *   in the window's last 8 bytes to the harness's exit routine (changes no register or flag).
 *   The case ends when RIP reaches the end of its bytes.
 * - 32-bit cases (`bits: 32`): the code runs in compatibility mode with CS = 0x23 (__USER32_CS)
 *   and DS = ES = SS = 0x2b (__USER_DS), as an IA32 process on a 64-bit kernel. The harness
 *   loads the registers and flags exactly as for 64-bit code (all 64 bits of every GPR; 32-bit
 *   code sees only the low halves of RAX..RDI, and the CPU keeps what it does not write), then
 *   far-jumps to the code; after the code comes a 7-byte `ljmp 0x33:landing` back to a 64-bit
 *   landing pad near the end of the code window that holds the exit jump (neither changes a
 *   register or a flag). The final state is reported as for 64-bit code (RSP from ESP, etc.).
 * - data window: NATIVE_DATA_ADDR, NATIVE_DATA_SIZE bytes, RW, no execute. All zero, then the
 *   case's data copied to its start. Everything else around both windows is unmapped.
 * - The x87/MMX/SSE state is loaded with FXRSTOR from the case's state (x87 defaults to the
 *   FNINIT state) and reported with FXSAVE; on AVX hosts the upper YMM halves are zeroed before
 *   each case and not reported. The code must not make system calls.
 *
 * Wire protocol (stdin -> harness -> stdout), all integers little-endian:
 *   request header  u32 magic 0x324E4C56 ("VLN2"), u32 case count, u32 timeout ms, u32 0
 *   request case    u32 code_len, u32 data_len, u64 gpr[16] (SDM order), u64 rflags,
 *                   u32 bits, u32 0, u8 fx[512] (an FXSAVE64 image)       (664 bytes)
 *                   then code_len code bytes, data_len data bytes
 *                   bits: 64 (or 0) for 64-bit code, 32 for compatibility mode
 *   response header u32 magic 0x32524C56 ("VLR2"), u32 case count
 *   response case   u32 signal (0 none, else the Linux signal number; 14 = SIGALRM = timeout),
 *                   i32 vector (REG_TRAPNO, -1 if none), u64 error code (REG_ERR),
 *                   u64 rip (absolute), u64 si_addr, i32 si_code, u32 0,
 *                   u64 gpr[16], u64 rflags, u32 data_len, u32 0, u8 fx[512]   (696 bytes)
 *                   then data_len bytes: the final data window with trailing zeros trimmed.
 *
 * Fault conventions observed on Linux 6.18 (AMD Zen 4 host; native.test.ts checks those marked *):
 * - #DE (div by 0, idiv overflow)*: SIGFPE, vector 0, RIP at the div, si_code FPE_INTDIV.
 * - #UD (ud2)*: SIGILL, vector 6, RIP at the instruction.
 * - #BP (int3 / `cd 03`)*: SIGTRAP, vector 3, a trap: RIP is *after* the instruction (offset 1
 *   for 0xCC, 2 for cd 03), error 0, si_code SI_KERNEL. Running off into the 0xCC filler of the
 *   code window looks the same.
 * - #DB from EFLAGS.TF*: SIGTRAP, vector 1, RIP after the instruction that followed the popf.
 *   `int1` (f1): SIGTRAP, vector 1, RIP at the instruction.
 * - #PF*: SIGSEGV, vector 14, RIP at the instruction, `address` = CR2, error code with U/S (4)
 *   always set: read of unmapped memory 4, write 6, fetch from unmapped memory 0x14, fetch from
 *   the (present, NX) data window 0x15. Canonical kernel-half addresses report P as well (read
 *   5, write 7, fetch 0x15), as the kernel forces it there. A fetch fault has RIP = the target.
 * - #GP*: SIGSEGV, vector 13, `address` 0, si_code SI_KERNEL. Non-canonical data address: error
 *   0. `jmp` to a non-canonical address: error 0, RIP at the jmp (not the target). `hlt`: error 0.
 *   `int n` without a user gate: error (n << 3) | 2 (IDT).
 * - #XM (unmasked SSE exception): SIGFPE, vector 19, si_code e.g. FPE_FLTINV, MXCSR with the flag.
 * - #SS* (non-canonical address through RSP/RBP): SIGBUS, vector 12, error 0.
 * - #AC* (EFLAGS.AC set by the code, then a misaligned access): SIGBUS, vector 17, error 0.
 * - The RFLAGS reported at a fault is the kernel's EFLAGS image: it carries RF (bit 16) for
 *   faults (#DE #UD #PF #GP #SS #AC), not for traps (#BP, #DB). Mask RF when comparing.
 * - TIMEOUT: vector -1, error 0, the registers and RIP where SIGALRM interrupted the loop.
 * - 32-bit code (compatibility mode) also has segmentation: an access that crosses the 4 GiB
 *   limit of the flat segments is #SS(0) through SS (ESP/EBP) and #GP(0) otherwise; an access
 *   through a null DS/ES/FS/GS (FS and GS are null in this 64-bit process) is #GP(0); segment
 *   loads check Linux's GDT (#GP(selector)). A near branch with a 16-bit operand size (66)
 *   truncates EIP to 16 bits, so a taken one faults fetching below 64 KiB (#PF, RIP = target).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Guest-visible state the differential tests compare. All 64-bit values are unsigned bigint. */
export interface X86UserState {
  /** RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15 — SDM register-number order, 16 entries. */
  gpr: bigint[];
  /**
   * RFLAGS. On input only CF PF AF ZF SF DF OF (bits 0,2,4,6,7,10,11) are honoured; others are
   * forced to the architectural defaults (bit 1 set, IF set). On output: what `pushfq` shows at
   * the end of the code, or on a fault the EFLAGS image the kernel saved (which may include RF,
   * bit 16, see NativeFault).
   */
  rflags: bigint;
  /** XMM0..XMM15, 16 bytes each (256 bytes total). */
  xmm: Uint8Array;
  /** MXCSR (on input, use 0x1f80 unless testing MXCSR; reserved bits make runNative throw). */
  mxcsr: number;
  /** x87 and MMX state; on input, undefined means the FNINIT state. Always set on output. */
  x87?: X87UserState;
}

/** The x87 part of an FXSAVE image (Intel SDM Vol. 1, Table 10-2). */
export interface X87UserState {
  /** Control word (FNINIT: 0x37f). */
  fcw: number;
  /** Status word, TOP in bits 11-13. */
  fsw: number;
  /** Abridged tag byte: bit i set when physical register R_i is not empty. */
  ftw: number;
  /**
   * ST(0)..ST(7), 10 bytes each: the 64-bit significand, then the sign and exponent (80 bytes).
   * ST(i) is physical register (TOP + i) mod 8; MMi is the significand of R_i.
   */
  st: Uint8Array;
}

/** The FNINIT state. */
export function x87Init(): X87UserState {
  return { fcw: 0x37f, fsw: 0, ftw: 0, st: new Uint8Array(80) };
}

/** FXSAVE image offsets (64-bit format). */
const FX_FCW = 0;
const FX_FSW = 2;
const FX_FTW = 4;
const FX_MXCSR = 24;
const FX_ST = 32;
const FX_XMM = 160;

/** Builds the FXSAVE image of a state (FOP, FIP and FDP zero). */
export function toFxImage(s: X86UserState): Uint8Array {
  const fx = new Uint8Array(512);
  const dv = new DataView(fx.buffer);
  const x = s.x87 ?? x87Init();
  dv.setUint16(FX_FCW, x.fcw, true);
  dv.setUint16(FX_FSW, x.fsw, true);
  fx[FX_FTW] = x.ftw;
  dv.setUint32(FX_MXCSR, s.mxcsr >>> 0, true);
  for (let i = 0; i < 8; i++) fx.set(x.st.subarray(i * 10, i * 10 + 10), FX_ST + i * 16);
  fx.set(s.xmm, FX_XMM);
  return fx;
}

/** The x87, MXCSR and XMM parts of an FXSAVE image. */
export function fromFxImage(fx: Uint8Array): { xmm: Uint8Array; mxcsr: number; x87: X87UserState } {
  const dv = new DataView(fx.buffer, fx.byteOffset, fx.byteLength);
  const st = new Uint8Array(80);
  for (let i = 0; i < 8; i++) st.set(fx.subarray(FX_ST + i * 16, FX_ST + i * 16 + 10), i * 10);
  return {
    xmm: new Uint8Array(fx.subarray(FX_XMM, FX_XMM + 256)),
    mxcsr: dv.getUint32(FX_MXCSR, true),
    x87: { fcw: dv.getUint16(FX_FCW, true), fsw: dv.getUint16(FX_FSW, true), ftw: fx[FX_FTW]!, st },
  };
}


/** Fixed address where the code is placed. */
export const NATIVE_CODE_ADDR = 0x2000_0000n;
/** Size of the code window; a case's code may be up to NATIVE_CODE_MAX bytes long. */
export const NATIVE_CODE_SIZE = 0x1_0000;
/** Longest code a case may have (6 bytes for the exit jump, 8 for its pointer at the end). */
export const NATIVE_CODE_MAX = NATIVE_CODE_SIZE - 14;
/**
 * Longest code of a 32-bit case: the 64-bit landing pad (6-byte jump, 2 bytes of padding) sits in
 * front of the 8-byte pointer, and the code is followed by the 7-byte far jump to it.
 */
export const NATIVE_CODE32_MAX = NATIVE_CODE_SIZE - 16 - 7;
/** Code segment selectors of Linux x86-64 user mode: 32-bit (compatibility mode) and 64-bit. */
export const NATIVE_USER32_CS = 0x23;
export const NATIVE_USER_CS = 0x33;
/** The user data segment selector (SS; also DS and ES in 32-bit cases). */
export const NATIVE_USER_DS = 0x2b;
/** Fixed address of the read/write data window (below 2^31, so 32-bit addressing reaches it). */
export const NATIVE_DATA_ADDR = 0x1000_0000n;
/** Size of the data window. */
export const NATIVE_DATA_SIZE = 0x1_0000;
/** Default per-case time limit before a case is reported as TIMEOUT. */
export const NATIVE_DEFAULT_TIMEOUT_MS = 1000;

export interface NativeCase {
  /** The instruction bytes; execution ends when RIP reaches the end of these bytes. */
  code: Uint8Array;
  state: X86UserState;
  /** Initial content of the data window (length <= NATIVE_DATA_SIZE; rest zero). */
  data: Uint8Array;
  /**
   * Code size: 64 (default) runs 64-bit code; 32 runs 32-bit code in compatibility mode
   * (CS = NATIVE_USER32_CS), code length <= NATIVE_CODE32_MAX.
   */
  bits?: 32 | 64;
}

export type NativeSignal = 'SIGSEGV' | 'SIGBUS' | 'SIGFPE' | 'SIGILL' | 'SIGTRAP' | 'TIMEOUT';

export interface NativeFault {
  signal: NativeSignal;
  /**
   * x86 exception vector from the kernel's trap number (uc_mcontext REG_TRAPNO): 0 #DE, 3 #BP,
   * 6 #UD, 12 #SS, 13 #GP, 14 #PF, ...; -1 for TIMEOUT.
   */
  vector: number;
  /** REG_ERR (0 for TIMEOUT). For #PF the kernel always adds the U/S bit (4). */
  errorCode: number;
  /**
   * RIP at the fault, as an offset from NATIVE_CODE_ADDR (negative if RIP is below it). For a
   * fault (#DE #UD #GP #PF #SS ...) RIP is the faulting instruction; for a trap (int3 -> #BP)
   * it is the instruction after it (one past the 0xCC). For TIMEOUT, wherever the timer hit.
   */
  ripOffset: number;
  /** Absolute RIP at the fault. */
  rip: bigint;
  /**
   * si_addr from the siginfo: for #PF the faulting linear address (CR2); for #GP and #SS 0; for
   * SIGFPE/SIGILL the faulting instruction; for SIGTRAP whatever the kernel reports. 0 for TIMEOUT.
   */
  address: bigint;
  /** si_code from the siginfo, e.g. SEGV_MAPERR 1, SEGV_ACCERR 2, SI_KERNEL 0x80, FPE_INTDIV 1. */
  siCode: number;
}

export interface NativeResult {
  /** Final state (at a fault: the registers the kernel reported in the signal context). */
  state: X86UserState;
  /**
   * Final content of the data window, trimmed: its length is max(input data length, one past
   * the last non-zero byte of the window). Every byte of the window beyond `data.length` is
   * zero. Use nativeDataWindow() for all NATIVE_DATA_SIZE bytes.
   */
  data: Uint8Array;
  fault: NativeFault | null;
}

export interface NativeOptions {
  /** Per-case time limit in ms before the case is reported as TIMEOUT (default 1000). */
  timeoutMs?: number;
}

const HARNESS_SOURCE = fileURLToPath(new URL('./native-harness.c', import.meta.url));
const CFLAGS = ['-O2', '-fno-stack-protector', '-fcf-protection=none', '-Wall', '-Wextra'];
const REQ_MAGIC = 0x324e4c56;
const RES_MAGIC = 0x32524c56;
const CASE_FIXED = 664;
const RESULT_FIXED = 696;
const MASK64 = (1n << 64n) - 1n;
const SIGNALS: Record<number, NativeSignal> = {
  4: 'SIGILL',
  5: 'SIGTRAP',
  7: 'SIGBUS',
  8: 'SIGFPE',
  11: 'SIGSEGV',
  14: 'TIMEOUT',
};

let available: boolean | undefined;
let harnessPath: string | undefined;

/** True when the host is x86-64 Linux and gcc is available. */
export function nativeAvailable(): boolean {
  if (available === undefined) {
    available =
      process.platform === 'linux' &&
      process.arch === 'x64' &&
      spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
  }
  return available;
}

/** Why nativeAvailable() is false (for skip messages), or null. */
export function nativeUnavailableReason(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `the native harness needs x86-64 Linux (this is ${process.platform}/${process.arch})`;
  }
  if (!nativeAvailable()) return 'gcc is not installed (scripts/install-test-deps.sh installs it)';
  return null;
}

function cacheDir(): string {
  // src/emu/testing -> repository root
  const root = join(dirname(HARNESS_SOURCE), '..', '..', '..');
  const nodeModules = join(root, 'node_modules');
  return existsSync(nodeModules)
    ? join(nodeModules, '.cache', 'virtlite')
    : join(tmpdir(), 'virtlite-cache');
}

/** Compiles the harness if no binary for this source and these flags is cached; returns its path. */
export function buildNativeHarness(): string {
  if (harnessPath && existsSync(harnessPath)) return harnessPath;
  const reason = nativeUnavailableReason();
  if (reason) throw new Error(`native harness unavailable: ${reason}`);
  const source = readFileSync(HARNESS_SOURCE);
  const hash = createHash('sha256').update(source).update(CFLAGS.join(' ')).digest('hex').slice(0, 16);
  const dir = cacheDir();
  const bin = join(dir, `native-harness-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    // Build to a private name and rename: concurrent test workers may build at the same time.
    const tmp = `${bin}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const r = spawnSync('gcc', [...CFLAGS, '-o', tmp, HARNESS_SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`building the native harness failed:\n${r.stderr}${r.error ? String(r.error) : ''}`);
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, bin);
  }
  harnessPath = bin;
  return bin;
}

function u64(v: bigint, what: string): bigint {
  if (v < 0n || v > MASK64) throw new RangeError(`${what} = ${v} is not an unsigned 64-bit value`);
  return v;
}

function encode(cases: readonly NativeCase[], timeoutMs: number): Uint8Array {
  let size = 16;
  for (const c of cases) size += CASE_FIXED + c.code.length + c.data.length;
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, REQ_MAGIC, true);
  dv.setUint32(4, cases.length, true);
  dv.setUint32(8, timeoutMs, true);
  let p = 16;
  cases.forEach((c, i) => {
    const s = c.state;
    const bits = c.bits ?? 64;
    if (bits !== 32 && bits !== 64) throw new RangeError(`case ${i}: bits must be 32 or 64, not ${String(bits)}`);
    const max = bits === 32 ? NATIVE_CODE32_MAX : NATIVE_CODE_MAX;
    if (c.code.length > max) throw new RangeError(`case ${i}: code longer than ${max} bytes`);
    if (c.data.length > NATIVE_DATA_SIZE) throw new RangeError(`case ${i}: data longer than ${NATIVE_DATA_SIZE} bytes`);
    if (s.gpr.length !== 16) throw new RangeError(`case ${i}: gpr must have 16 entries, not ${s.gpr.length}`);
    if (s.xmm.length !== 256) throw new RangeError(`case ${i}: xmm must be 256 bytes, not ${s.xmm.length}`);
    if (!Number.isInteger(s.mxcsr) || s.mxcsr < 0 || s.mxcsr > 0xffff_ffff) {
      throw new RangeError(`case ${i}: mxcsr ${s.mxcsr} is not a 32-bit value`);
    }
    dv.setUint32(p, c.code.length, true);
    dv.setUint32(p + 4, c.data.length, true);
    for (let r = 0; r < 16; r++) dv.setBigUint64(p + 8 + r * 8, u64(s.gpr[r]!, `case ${i}: gpr[${r}]`), true);
    dv.setBigUint64(p + 136, u64(s.rflags, `case ${i}: rflags`), true);
    dv.setUint32(p + 144, bits, true);
    if (s.x87 && s.x87.st.length !== 80) throw new RangeError(`case ${i}: x87.st must be 80 bytes`);
    buf.set(toFxImage(s), p + 152);
    p += CASE_FIXED;
    buf.set(c.code, p);
    p += c.code.length;
    buf.set(c.data, p);
    p += c.data.length;
  });
  return buf;
}

function decode(out: Buffer, cases: readonly NativeCase[]): NativeResult[] {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (out.length < 8 || dv.getUint32(0, true) !== RES_MAGIC || dv.getUint32(4, true) !== cases.length) {
    throw new Error(`native harness: malformed response (${out.length} bytes)`);
  }
  const results: NativeResult[] = [];
  let p = 8;
  for (const c of cases) {
    if (p + RESULT_FIXED > out.length) throw new Error('native harness: truncated response');
    const sig = dv.getUint32(p, true);
    const gpr: bigint[] = [];
    for (let r = 0; r < 16; r++) gpr.push(dv.getBigUint64(p + 40 + r * 8, true));
    const rflags = dv.getBigUint64(p + 168, true);
    const dataLen = dv.getUint32(p + 176, true);
    const { xmm, mxcsr, x87 } = fromFxImage(out.subarray(p + 184, p + 696));
    if (p + RESULT_FIXED + dataLen > out.length) throw new Error('native harness: truncated response');
    const data = new Uint8Array(Math.max(dataLen, c.data.length));
    data.set(out.subarray(p + RESULT_FIXED, p + RESULT_FIXED + dataLen));
    let fault: NativeFault | null = null;
    if (sig !== 0) {
      const signal = SIGNALS[sig];
      if (!signal) throw new Error(`native harness: unexpected signal ${sig}`);
      const rip = dv.getBigUint64(p + 16, true);
      fault = {
        signal,
        vector: dv.getInt32(p + 4, true),
        errorCode: Number(dv.getBigUint64(p + 8, true) & 0xffff_ffffn),
        ripOffset: Number(BigInt.asIntN(64, rip - NATIVE_CODE_ADDR)),
        rip,
        address: dv.getBigUint64(p + 24, true),
        siCode: dv.getInt32(p + 32, true),
      };
    }
    results.push({ state: { gpr, rflags, xmm, mxcsr, x87 }, data, fault });
    p += RESULT_FIXED + dataLen;
  }
  if (p !== out.length) throw new Error('native harness: trailing bytes in response');
  return results;
}

/**
 * Runs all cases natively in ONE harness process (building it if needed) and returns the results
 * in order. Throws if the harness is unavailable or rejects the request.
 */
export function runNative(cases: readonly NativeCase[], options: NativeOptions = {}): NativeResult[] {
  const timeoutMs = options.timeoutMs ?? NATIVE_DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`timeoutMs ${timeoutMs} must be a positive integer`);
  if (cases.length === 0) return [];
  const bin = buildNativeHarness();
  const input = encode(cases, timeoutMs);
  let out: Buffer;
  try {
    out = execFileSync(bin, [], {
      input,
      maxBuffer: 2 ** 31 - 1,
      // Every case is bounded by its timer; this only catches a wedged harness.
      timeout: 30_000 + cases.length * (timeoutMs + 10),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { status?: number | null; signal?: string | null; stderr?: Buffer | string };
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    throw new Error(
      `native harness failed (status ${err.status ?? '-'}, signal ${err.signal ?? '-'})${stderr ? `: ${stderr}` : ''}`,
      { cause: e },
    );
  }
  return decode(out, cases);
}

/** The whole data window (NATIVE_DATA_SIZE bytes) of a result: `data` followed by zeros. */
export function nativeDataWindow(data: Uint8Array): Uint8Array {
  const win = new Uint8Array(NATIVE_DATA_SIZE);
  win.set(data);
  return win;
}

/** A state with every register, flag and XMM byte zero, MXCSR 0x1f80 and x87 as after FNINIT. */
export function zeroState(): X86UserState {
  return { gpr: new Array<bigint>(16).fill(0n), rflags: 0n, xmm: new Uint8Array(256), mxcsr: 0x1f80, x87: x87Init() };
}
