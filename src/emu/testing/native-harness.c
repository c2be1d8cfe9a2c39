/*
 * native-harness.c: the native side of virtlite's differential CPU tests.
 *
 * Runs x86-64 machine code on the host CPU (Linux, user mode, 64-bit, or 32-bit compatibility
 * mode) from a given register, flag, x87/MMX/SSE (an FXSAVE image) and memory state, and reports
 * the final state or the fault. native.ts builds this
 * file with `gcc -O2 -fno-stack-protector -fcf-protection=none` and drives it; the emulator runs
 * the same bytes from the same state and the tests compare the two.
 *
 * Machine (identical for every case):
 *   code window  0x20000000, 64 KiB, RWX. Before each case it is filled with 0xCC (int3), the
 *                case's code is copied to its start, the absolute address of vl_exit is stored in
 *                the window's last 8 bytes, and the exit jump `FF 25 <disp32>` (jmp [rip+disp32]
 *                to that aligned slot, 6 bytes) is appended at code+len, so the case ends when
 *                RIP reaches the end of its bytes. That jump changes no register and no flag, and
 *                its load is aligned (the code may leave EFLAGS.AC set). Max code length:
 *                65536 - 14.
 *                32-bit cases (compatibility mode, CS = 0x23 __USER32_CS): the appended exit is
 *                `EA <CODE_ADDR+LANDING> 33 00` (ljmp 0x33:landing, 7 bytes, 32-bit code) to a
 *                64-bit landing pad at offset LANDING = 65536 - 16, `FF 25 02 00 00 00` (the same
 *                jmp [rip+disp32] through the slot). A far jump changes no register or flag and
 *                its descriptor load is a supervisor access (no #AC). Max code length:
 *                65536 - 16 - 7.
 *   data window  0x10000000, 64 KiB, RW (not executable). Before each case it is all zero, then
 *                the case's data is copied to its start. Tests use it as the stack, too.
 *   Everything else near those windows is unmapped. 32-bit cases enter the code with a far jump
 *   (`ljmp *` through an m16:32 pointer, 0x23:CODE_ADDR) after the registers and flags are
 *   loaded, with DS = ES = 0x2b (__USER_DS, as in an IA32 process; SS is 0x2b already); the
 *   upper halves of RAX..RDI and R8..R15 are loaded and reported as for 64-bit cases (32-bit code
 *   cannot see them; the CPU keeps what it does not write). DS and ES are put back to the host's
 *   selectors after every case. Before each case the x87/MMX state is reset
 *   (fninit) and, on AVX hosts, YMM0-15 are zeroed (vzeroall) before XMM0-15 are loaded, so the
 *   upper YMM halves start at zero; neither is part of the reported state. The code must not make
 *   system calls (an exit would end the whole batch).
 *
 * Wire protocol, all integers little-endian.
 *   stdin:  header  u32 magic 0x324E4C56 ("VLN2"), u32 case_count, u32 timeout_ms, u32 0
 *           case    u32 code_len, u32 data_len,
 *                   u64 gpr[16] (RAX RCX RDX RBX RSP RBP RSI RDI R8..R15),
 *                   u64 rflags, u32 bits, u32 0, u8 fx[512] (FXSAVE64 image), -> 664 bytes
 *                   u8 code[code_len], u8 data[data_len]
 *   stdout: header  u32 magic 0x32524C56 ("VLR2"), u32 case_count
 *           result  u32 signal (0: none; else the Linux signal number; 14 SIGALRM = timeout),
 *                   i32 vector (REG_TRAPNO; -1 without a fault and for a timeout),
 *                   u64 error_code (REG_ERR), u64 rip (absolute), u64 si_addr, i32 si_code, u32 0,
 *                   u64 gpr[16], u64 rflags, u32 data_len, u32 0, u8 fx[512], -> 696 bytes
 *                   u8 data[data_len]
 *           The FXSAVE image (Intel SDM Vol. 1, 10.5.1, 64-bit format) carries FCW FSW FTW
 *           (abridged) FOP FIP FDP MXCSR, ST0-7 (at 32 + 16 i) and XMM0-15 (at 160 + 16 i). On
 *           input the MXCSR_MASK field is ignored; reserved MXCSR bits are refused.
 *           The data is the final window with trailing zero bytes trimmed: data_len is one past
 *           the last non-zero byte (all bytes beyond it are zero).
 *           bits: the code size, 64 (or 0, the value of the field before it existed) for 64-bit
 *           code, 32 for 32-bit compatibility-mode code; other values are malformed.
 *   A malformed request is reported on stderr with exit status 2 before any case runs and
 *   before anything is written to stdout; other harness failures exit with status 3.
 *
 * RFLAGS on input: only CF PF AF ZF SF DF OF (mask 0xCD5) are taken; bit 1 and IF are set, all
 * others clear. On output: pushfq at the exit jump, or EFLAGS from the signal context on a fault
 * (that image may carry RF, bit 16).
 *
 * Faults: SIGSEGV SIGBUS SIGFPE SIGILL SIGTRAP run a handler on an alternate stack (the guest RSP
 * may be garbage) that records the signal, trap number, error code, RIP, GPRs, EFLAGS, XMM and
 * MXCSR from the ucontext and siglongjmps back to the case loop. A per-case ITIMER_REAL (timeout_ms)
 * raises SIGALRM for infinite loops: reported as signal 14 with the registers at that moment.
 *
 * The guest may clobber FS/GS (glibc keeps TLS and the setjmp pointer guard behind FS): both
 * selectors and bases are put back before any libc code runs after the guest.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x20000000UL
#define CODE_SIZE 0x10000UL
#define DATA_ADDR 0x10000000UL
#define DATA_SIZE 0x10000UL
#define EXIT_JUMP_LEN 6
#define EXIT_SLOT (CODE_SIZE - 8) /* offset of the aligned vl_exit pointer */
#define EXIT_FAR_LEN 7            /* 32-bit cases: ljmp 0x33:landing (EA ptr16:32) */
#define LANDING (CODE_SIZE - 16)  /* 32-bit cases: 64-bit landing pad, jmp [rip+2] to the slot */
#define USER32_CS 0x23
#define USER_DS 0x2b
#define USER_CS 0x33
#define FLAGS_IN_MASK 0xCD5UL /* CF PF AF ZF SF DF OF */
#define FLAGS_FIXED 0x202UL   /* bit 1, IF */

#define REQ_MAGIC 0x324E4C56u
#define RES_MAGIC 0x32524C56u
#define CASE_FIXED 664
#define RESULT_FIXED 696
#define FX_MXCSR 24

/* The asm below uses these offsets: keep them in sync. */
struct vl_state {
  uint64_t gpr[16];                    /* 0   */
  uint64_t rflags;                     /* 128 */
  uint64_t pad;                        /* 136 */
  uint8_t fx[512] __attribute__((aligned(16))); /* 144: FXSAVE64 image */
};
_Static_assert(offsetof(struct vl_state, rflags) == 128, "layout");
_Static_assert(offsetof(struct vl_state, fx) == 144, "layout");

/* Shared with the asm (non-static so that the names survive). */
__attribute__((used, aligned(64))) struct vl_state vl_in;
__attribute__((used, aligned(64))) struct vl_state vl_out;
__attribute__((used)) uint64_t vl_host_rsp;
__attribute__((used)) uint32_t vl_host_mxcsr;
__attribute__((used)) uint16_t vl_host_fcw;
__attribute__((used)) uint64_t vl_code_entry = CODE_ADDR; /* CODE_ADDR, or vl_enter32 */
/* m16:32 far pointer for the jump into 32-bit code: offset, then selector. */
__attribute__((used, aligned(8))) struct __attribute__((packed)) {
  uint32_t offset;
  uint16_t selector;
} vl_far32 = {(uint32_t)CODE_ADDR, USER32_CS};
__attribute__((used)) volatile uint32_t vl_in_guest;
__attribute__((used, aligned(64))) uint8_t vl_priv_stack[4096];
__attribute__((used)) uint32_t vl_have_avx; /* vl_enter zeroes YMM0-15 (vzeroall) when set */

void vl_enter(void);
void vl_enter32(void);
void vl_exit(void);

/*
 * vl_enter: called from C. Saves the host's callee-saved registers, RFLAGS, RSP, MXCSR and x87
 * control word, loads the case state from vl_in (FXRSTOR, then GPRs) and jumps to the code. Only `mov`/`lea`/`jmp`
 * follow the popfq, so the loaded flags reach the code unchanged.
 * vl_exit: reached by the jump appended to the code. Stores RAX, then RSP, then switches to the
 * private stack with lea (no flag change) and captures RFLAGS with pushfq before anything else
 * can touch the flags, then the other registers and the FXSAVE image; restores the host and returns
 * from vl_enter.
 * vl_enter32: for 32-bit cases vl_code_entry points here instead of at the code: the far jump
 * through vl_far32 switches to compatibility mode (CS 0x23) and lands on the code without
 * touching a register, a flag or the stack.
 */
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl vl_enter\n"
    ".type vl_enter, @function\n"
    "vl_enter:\n"
    "  push rbx\n"
    "  push rbp\n"
    "  push r12\n"
    "  push r13\n"
    "  push r14\n"
    "  push r15\n"
    "  pushfq\n"
    "  mov [rip+vl_host_rsp], rsp\n"
    "  stmxcsr DWORD PTR [rip+vl_host_mxcsr]\n"
    "  fnstcw WORD PTR [rip+vl_host_fcw]\n"
    "  cmp DWORD PTR [rip+vl_have_avx], 0\n"
    "  je 1f\n"
    "  vzeroall\n"
    "1:\n"
    "  fxrstor64 [rip+vl_in+144]\n"
    "  lea rsp, [rip+vl_priv_stack+4096]\n"
    "  push QWORD PTR [rip+vl_in+128]\n"
    "  popfq\n"
    "  mov rax, [rip+vl_in+0*8]\n"
    "  mov rcx, [rip+vl_in+1*8]\n"
    "  mov rdx, [rip+vl_in+2*8]\n"
    "  mov rbx, [rip+vl_in+3*8]\n"
    "  mov rbp, [rip+vl_in+5*8]\n"
    "  mov rsi, [rip+vl_in+6*8]\n"
    "  mov rdi, [rip+vl_in+7*8]\n"
    "  mov r8, [rip+vl_in+8*8]\n"
    "  mov r9, [rip+vl_in+9*8]\n"
    "  mov r10, [rip+vl_in+10*8]\n"
    "  mov r11, [rip+vl_in+11*8]\n"
    "  mov r12, [rip+vl_in+12*8]\n"
    "  mov r13, [rip+vl_in+13*8]\n"
    "  mov r14, [rip+vl_in+14*8]\n"
    "  mov r15, [rip+vl_in+15*8]\n"
    "  mov rsp, [rip+vl_in+4*8]\n"
    "  jmp QWORD PTR [rip+vl_code_entry]\n"
    ".size vl_enter, .-vl_enter\n"
    "\n"
    ".globl vl_enter32\n"
    ".type vl_enter32, @function\n"
    "vl_enter32:\n"
    "  jmp FWORD PTR [rip+vl_far32]\n"
    ".size vl_enter32, .-vl_enter32\n"
    "\n"
    ".globl vl_exit\n"
    ".type vl_exit, @function\n"
    "vl_exit:\n"
    "  mov [rip+vl_out+0*8], rax\n"
    "  mov [rip+vl_out+4*8], rsp\n"
    "  lea rsp, [rip+vl_priv_stack+4096]\n"
    "  pushfq\n"
    "  pop QWORD PTR [rip+vl_out+128]\n"
    "  mov [rip+vl_out+1*8], rcx\n"
    "  mov [rip+vl_out+2*8], rdx\n"
    "  mov [rip+vl_out+3*8], rbx\n"
    "  mov [rip+vl_out+5*8], rbp\n"
    "  mov [rip+vl_out+6*8], rsi\n"
    "  mov [rip+vl_out+7*8], rdi\n"
    "  mov [rip+vl_out+8*8], r8\n"
    "  mov [rip+vl_out+9*8], r9\n"
    "  mov [rip+vl_out+10*8], r10\n"
    "  mov [rip+vl_out+11*8], r11\n"
    "  mov [rip+vl_out+12*8], r12\n"
    "  mov [rip+vl_out+13*8], r13\n"
    "  mov [rip+vl_out+14*8], r14\n"
    "  mov [rip+vl_out+15*8], r15\n"
    "  fxsave64 [rip+vl_out+144]\n"
    "  mov DWORD PTR [rip+vl_in_guest], 0\n"
    "  mov rsp, [rip+vl_host_rsp]\n"
    "  fninit\n"
    "  fldcw WORD PTR [rip+vl_host_fcw]\n"
    "  ldmxcsr DWORD PTR [rip+vl_host_mxcsr]\n"
    "  popfq\n"
    "  pop r15\n"
    "  pop r14\n"
    "  pop r13\n"
    "  pop r12\n"
    "  pop rbp\n"
    "  pop rbx\n"
    "  ret\n"
    ".size vl_exit, .-vl_exit\n"
    ".att_syntax prefix\n");

/* ---------------------------------------------------------------------------------------------
 * Host FS/GS: restored without libc (no TLS access may happen before this).
 * ------------------------------------------------------------------------------------------- */

static int have_fsgsbase;
static uint64_t host_fs_base, host_gs_base;
static uint16_t host_fs_sel, host_gs_sel, host_ds_sel, host_es_sel;

static inline long raw_syscall2(long n, long a, long b) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}

static inline void restore_host_segments(void) {
  uint16_t fs_sel, gs_sel, ds_sel, es_sel;
  /* DS and ES: 32-bit cases run with __USER_DS, and the code may load them (64-bit mode ignores
   * them, but the next case should start from the same selectors). */
  __asm__ volatile("mov %%ds, %0" : "=r"(ds_sel));
  __asm__ volatile("mov %%es, %0" : "=r"(es_sel));
  if (ds_sel != host_ds_sel) __asm__ volatile("mov %0, %%ds" : : "r"(host_ds_sel));
  if (es_sel != host_es_sel) __asm__ volatile("mov %0, %%es" : : "r"(host_es_sel));
  __asm__ volatile("mov %%fs, %0" : "=r"(fs_sel));
  __asm__ volatile("mov %%gs, %0" : "=r"(gs_sel));
  if (fs_sel != host_fs_sel) __asm__ volatile("mov %0, %%fs" : : "r"(host_fs_sel));
  if (gs_sel != host_gs_sel) __asm__ volatile("mov %0, %%gs" : : "r"(host_gs_sel));
  if (have_fsgsbase) {
    uint64_t fs, gs;
    __asm__ volatile("rdfsbase %0" : "=r"(fs));
    __asm__ volatile("rdgsbase %0" : "=r"(gs));
    if (fs != host_fs_base) __asm__ volatile("wrfsbase %0" : : "r"(host_fs_base) : "memory");
    if (gs != host_gs_base) __asm__ volatile("wrgsbase %0" : : "r"(host_gs_base) : "memory");
  } else {
    raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)host_fs_base);
    raw_syscall2(SYS_arch_prctl, ARCH_SET_GS, (long)host_gs_base);
  }
}

static void save_host_segments(void) {
  __asm__ volatile("mov %%ds, %0" : "=r"(host_ds_sel));
  __asm__ volatile("mov %%es, %0" : "=r"(host_es_sel));
  __asm__ volatile("mov %%fs, %0" : "=r"(host_fs_sel));
  __asm__ volatile("mov %%gs, %0" : "=r"(host_gs_sel));
  raw_syscall2(SYS_arch_prctl, ARCH_GET_FS, (long)&host_fs_base);
  raw_syscall2(SYS_arch_prctl, ARCH_GET_GS, (long)&host_gs_base);
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
  have_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
}

/* ---------------------------------------------------------------------------------------------
 * Faults and timeouts
 * ------------------------------------------------------------------------------------------- */

static sigjmp_buf case_jmp;
static uint32_t fault_signal;
static int32_t fault_vector;
static uint64_t fault_error, fault_rip, fault_addr;
static int32_t fault_code;

static const int sdm_to_greg[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                    REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                    REG_R12, REG_R13, REG_R14, REG_R15};

/*
 * The kernel clears DF and TF for a signal handler but not AC, which the guest may have set
 * (alignment checks would then hit the harness): vl_signal_entry clears it before on_signal.
 */
void vl_signal_entry(int sig, siginfo_t *si, void *ucv);
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl vl_signal_entry\n"
    ".type vl_signal_entry, @function\n"
    "vl_signal_entry:\n"
    "  pushfq\n"
    "  and DWORD PTR [rsp], ~0x40000\n"
    "  popfq\n"
    "  jmp on_signal\n"
    ".size vl_signal_entry, .-vl_signal_entry\n"
    ".att_syntax prefix\n");

__attribute__((used)) void on_signal(int sig, siginfo_t *si, void *ucv) {
  restore_host_segments();
  if (!vl_in_guest) {
    if (sig == SIGALRM) return; /* the case finished just before the timer fired */
    /* A fault in the harness itself: die with it rather than misreport it. */
    signal(sig, SIG_DFL);
    return;
  }
  vl_in_guest = 0;
  ucontext_t *uc = ucv;
  const greg_t *g = uc->uc_mcontext.gregs;
  for (int i = 0; i < 16; i++) vl_out.gpr[i] = (uint64_t)g[sdm_to_greg[i]];
  vl_out.rflags = (uint64_t)g[REG_EFL];
  const struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
  /* The signal frame's FP state starts with the FXSAVE image (struct _libc_fpstate). */
  if (fp) memcpy(vl_out.fx, fp, 512);
  else memset(vl_out.fx, 0, 512);
  fault_signal = (uint32_t)sig;
  fault_vector = sig == SIGALRM ? -1 : (int32_t)g[REG_TRAPNO];
  fault_error = sig == SIGALRM ? 0 : (uint64_t)g[REG_ERR];
  fault_rip = (uint64_t)g[REG_RIP];
  fault_addr = sig == SIGALRM ? 0 : (uint64_t)(uintptr_t)si->si_addr;
  fault_code = si->si_code;
  siglongjmp(case_jmp, 1);
}

static void install_handlers(void) {
  static uint8_t altstack[256 * 1024] __attribute__((aligned(64)));
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    perror("native-harness: sigaltstack");
    exit(3);
  }
  const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = vl_signal_entry;
    /* SA_NODEFER: the signal stays unblocked, so leaving with siglongjmp needs no mask restore. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sigs[i], &sa, NULL) != 0) {
      perror("native-harness: sigaction");
      exit(3);
    }
  }
}

static void set_timer(uint32_t ms) {
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = ms / 1000;
  it.it_value.tv_usec = (ms % 1000) * 1000;
  setitimer(ITIMER_REAL, &it, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Memory windows
 * ------------------------------------------------------------------------------------------- */

static uint8_t *code_win, *data_win;

static uint8_t *map_fixed(uint64_t addr, size_t size, int prot, const char *what) {
  void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != addr) {
    fprintf(stderr, "native-harness: cannot map the %s window at 0x%llx\n", what,
            (unsigned long long)addr);
    exit(3);
  }
  return p;
}

static uint32_t host_mxcsr_mask(void) {
  static uint8_t area[512] __attribute__((aligned(16)));
  __asm__ volatile("fxsave %0" : "=m"(area));
  uint32_t mask;
  memcpy(&mask, area + 28, 4);
  return mask ? mask : 0xFFBF;
}

/* ---------------------------------------------------------------------------------------------
 * Case loop
 * ------------------------------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static void put(const void *p, size_t n) {
  if (fwrite(p, 1, n, stdout) != n) {
    perror("native-harness: write");
    exit(3);
  }
}
static void put32(uint32_t v) { put(&v, 4); }
static void put64(uint64_t v) { put(&v, 8); }

static size_t data_extent(void) {
  /* One past the last non-zero byte of the data window. */
  const uint64_t *w = (const uint64_t *)data_win;
  size_t n = DATA_SIZE / 8;
  while (n > 0 && w[n - 1] == 0) n--;
  if (n == 0) return 0;
  uint64_t last = w[n - 1];
  size_t bytes = 8;
  while ((last >> ((bytes - 1) * 8)) == 0) bytes--;
  return (n - 1) * 8 + bytes;
}

/*
 * Runs one case whose state is in vl_in (code of `bits` bits: 64 or 32); leaves the final state
 * in vl_out and fault_*.
 */
static __attribute__((noinline)) void run_case(uint32_t timeout_ms, uint32_t bits) {
  fault_signal = 0;
  fault_vector = -1;
  fault_error = 0;
  fault_rip = 0;
  fault_addr = 0;
  fault_code = 0;
  if (sigsetjmp(case_jmp, 0) == 0) {
    if (bits == 32) {
      /* An IA32 process runs with DS = ES = __USER_DS; restore_host_segments() undoes this. */
      __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"((uint32_t)USER_DS));
      vl_code_entry = (uint64_t)(uintptr_t)&vl_enter32;
    } else {
      vl_code_entry = CODE_ADDR;
    }
    set_timer(timeout_ms);
    vl_in_guest = 1;
    vl_enter();
    restore_host_segments();
    set_timer(0);
  } else {
    set_timer(0);
  }
}

static uint8_t *read_all(FILE *f, size_t *len) {
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      cap *= 2;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) return NULL;
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  *len = n;
  return buf;
}

static void die_input(const char *msg, uint32_t index) {
  fprintf(stderr, "native-harness: bad request: %s (case %u)\n", msg, index);
  exit(2);
}

int main(void) {
  size_t in_len;
  uint8_t *in = read_all(stdin, &in_len);
  if (!in) {
    fprintf(stderr, "native-harness: out of memory reading stdin\n");
    return 3;
  }
  if (in_len < 16 || rd32(in) != REQ_MAGIC) die_input("missing header or wrong magic", 0);
  const uint32_t count = rd32(in + 4), timeout_ms = rd32(in + 8);
  const uint32_t mxcsr_mask = host_mxcsr_mask();

  /* Validate everything before running anything. */
  size_t pos = 16;
  for (uint32_t i = 0; i < count; i++) {
    if (in_len - pos < CASE_FIXED) die_input("truncated case header", i);
    uint32_t code_len = rd32(in + pos), data_len = rd32(in + pos + 4);
    uint32_t bits = rd32(in + pos + 144), mxcsr = rd32(in + pos + 152 + FX_MXCSR);
    if (bits != 0 && bits != 32 && bits != 64) die_input("bits must be 0, 32 or 64", i);
    if (code_len > (bits == 32 ? LANDING - EXIT_FAR_LEN : EXIT_SLOT - EXIT_JUMP_LEN)) die_input("code too long", i);
    if (data_len > DATA_SIZE) die_input("data too long", i);
    if (mxcsr & ~mxcsr_mask) die_input("MXCSR has reserved bits set", i);
    pos += CASE_FIXED;
    if (in_len - pos < (size_t)code_len + data_len) die_input("truncated code or data", i);
    pos += (size_t)code_len + data_len;
  }
  if (pos != in_len) die_input("trailing bytes after the last case", count);
  static char out_buf[1 << 20];
  setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);

  code_win = map_fixed(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, "code");
  data_win = map_fixed(DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE, "data");
  save_host_segments();
  install_handlers();
  __builtin_cpu_init();
  vl_have_avx = __builtin_cpu_supports("avx") ? 1 : 0;

  const uint64_t exit_addr = (uint64_t)(uintptr_t)&vl_exit;

  put32(RES_MAGIC);
  put32(count);
  size_t dirty = 0; /* bytes [dirty, DATA_SIZE) of the data window are known to be zero */
  pos = 16;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *c = in + pos;
    uint32_t code_len = rd32(c), data_len = rd32(c + 4);
    memcpy(vl_in.gpr, c + 8, 128);
    memcpy(&vl_in.rflags, c + 136, 8);
    vl_in.rflags = (vl_in.rflags & FLAGS_IN_MASK) | FLAGS_FIXED;
    const uint32_t bits = rd32(c + 144) == 32 ? 32 : 64;
    memcpy(vl_in.fx, c + 152, 512);
    const uint8_t *code = c + CASE_FIXED, *data = code + code_len;
    pos += CASE_FIXED + (size_t)code_len + data_len;

    memset(code_win, 0xCC, CODE_SIZE);
    memcpy(code_win, code, code_len);
    /* 64-bit: the exit jump right after the code; 32-bit: a far jump to a 64-bit landing pad
     * holding the same exit jump. */
    const uint32_t jump_at = bits == 32 ? LANDING : code_len;
    if (bits == 32) {
      const uint32_t landing = (uint32_t)(CODE_ADDR + LANDING);
      const uint16_t sel = USER_CS;
      code_win[code_len] = 0xEA; /* ljmp 0x33:landing (ptr16:32) */
      memcpy(code_win + code_len + 1, &landing, 4);
      memcpy(code_win + code_len + 5, &sel, 2);
    }
    const int32_t disp = (int32_t)(EXIT_SLOT - (jump_at + EXIT_JUMP_LEN));
    code_win[jump_at] = 0xFF; /* jmp [rip+disp32] */
    code_win[jump_at + 1] = 0x25;
    memcpy(code_win + jump_at + 2, &disp, 4);
    memcpy(code_win + EXIT_SLOT, &exit_addr, 8);
    memset(data_win, 0, dirty);
    memcpy(data_win, data, data_len);

    run_case(timeout_ms, bits);

    dirty = data_extent();
    put32(fault_signal);
    put32((uint32_t)fault_vector);
    put64(fault_error);
    put64(fault_rip);
    put64(fault_addr);
    put32((uint32_t)fault_code);
    put32(0);
    put(vl_out.gpr, 128);
    put64(vl_out.rflags);
    put32((uint32_t)dirty);
    put32(0);
    put(vl_out.fx, 512);
    put(data_win, dirty);
  }
  if (fflush(stdout) != 0) {
    perror("native-harness: write");
    return 3;
  }
  return 0;
}
