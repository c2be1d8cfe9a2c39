/*
 * libc-test: a static glibc program for the guest (issue 5: "a static glibc program using SSE2
 * string functions works"). glibc picks its string functions by CPUID (SSE2 baseline, or the
 * SSSE3/SSE4.2/AVX2 variants when advertised); this program checks them against plain byte
 * loops over many lengths and alignments, and exercises SSE2 and x87 floating point through
 * printf and libm. It prints "libc-test: ok <checks>" and exits 0, or the first mismatch and 1.
 * Built by the tests with `gcc -static -O2` (guest/test-initrd.ts).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long checks;
static int failed;

#define CHECK(cond, ...)                                    \
  do {                                                      \
    checks++;                                               \
    if (!(cond) && !failed) {                               \
      failed = 1;                                           \
      printf("libc-test: FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                                  \
      printf("\n");                                         \
    }                                                       \
  } while (0)

/* Reference implementations the compiler must not replace with library calls. */
static size_t ref_strlen(const volatile char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
static int ref_memcmp(const volatile unsigned char *a, const volatile unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
static const volatile char *ref_strchr(const volatile char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return s;
    if (!*s) return 0;
  }
}
static int sign(int v) { return (v > 0) - (v < 0); }

static char buf_a[8192 + 64] __attribute__((aligned(64)));
static char buf_b[8192 + 64] __attribute__((aligned(64)));

int main(void) {
  unsigned seed = 12345;
#define RAND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
  for (size_t align = 0; align < 17; align++) {
    for (size_t len = 0; len < 300; len += (len < 70 ? 1 : 37)) {
      char *a = buf_a + align, *b = buf_b + (align * 7) % 17;
      for (size_t i = 0; i < len; i++) a[i] = (char)(1 + RAND() % 255);
      a[len] = 0;
      CHECK(strlen(a) == ref_strlen(a), "strlen align %zu len %zu: %zu", align, len, strlen(a));
      memcpy(b, a, len + 1);
      CHECK(ref_memcmp((unsigned char *)a, (unsigned char *)b, len + 1) == 0, "memcpy align %zu len %zu", align, len);
      CHECK(strcmp(a, b) == 0 && memcmp(a, b, len) == 0, "strcmp/memcmp equal align %zu len %zu", align, len);
      if (len > 0) {
        size_t at = RAND() % len;
        char c = a[at];
        CHECK(strchr(a, c) == (char *)ref_strchr(a, c), "strchr align %zu len %zu", align, len);
        CHECK(memchr(a, c, len) == (void *)ref_strchr(a, c), "memchr align %zu len %zu", align, len);
        b[at] = (char)(b[at] == 1 ? 2 : b[at] - 1);
        CHECK(sign(memcmp(a, b, len)) == ref_memcmp((unsigned char *)a, (unsigned char *)b, len),
              "memcmp differ align %zu len %zu at %zu", align, len, at);
        CHECK(sign(strcmp(a, b)) == sign(ref_memcmp((unsigned char *)a, (unsigned char *)b, len)),
              "strcmp differ align %zu len %zu at %zu", align, len, at);
      }
      memset(b, 'x', len);
      size_t xs = 0;
      for (size_t i = 0; i < len; i++) xs += ((volatile char *)b)[i] == 'x';
      CHECK(xs == len, "memset align %zu len %zu", align, len);
      CHECK(strrchr(a, 0) == a + len, "strrchr nul align %zu len %zu", align, len);
    }
  }
  /* Overlapping moves. */
  for (size_t i = 0; i < 4096; i++) buf_a[i] = (char)i;
  memmove(buf_a + 3, buf_a, 4000);
  size_t moved = 0;
  for (size_t i = 0; i < 4000; i++) moved += ((volatile char *)buf_a)[i + 3] == (char)i;
  CHECK(moved == 4000, "memmove");
  /* Floating point: SSE2 doubles, x87 long doubles, libm, printf rounding. */
  char text[128];
  double d = 1.0 / 3.0;
  snprintf(text, sizeof text, "%.17g %.3f %e", d, 2.0 / 3.0, 6.02214076e23);
  CHECK(strcmp(text, "0.33333333333333331 0.667 6.022141e+23") == 0, "printf doubles: %s", text);
  long double ld = 1.0L / 3.0L;
  snprintf(text, sizeof text, "%.20Lg", ld);
  CHECK(strcmp(text, "0.33333333333333333334") == 0, "printf long double: %s", text);
  CHECK(fabs(sqrt(2.0) - 1.4142135623730951) < 1e-16, "sqrt");
  CHECK(fabs(sin(1.0) - 0.8414709848078965) < 1e-15 && fabs(exp(1.0) - 2.718281828459045) < 1e-15, "sin/exp");
  CHECK(strtod("3.14159", 0) == 3.14159, "strtod");
  CHECK(atoi("-42") == -42 && strtoul("ffff", 0, 16) == 65535, "atoi/strtoul");
  if (failed) return 1;
  printf("libc-test: ok %lu checks\n", checks);
  return 0;
}
