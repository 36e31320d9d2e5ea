/* Ground-truth logging for the user-space argument corpus
 * (tests/programs/args/make-corpus.sh).  Each logged function calls
 * TL_ENTER at entry with its arguments' true values and tl_leave() before
 * it returns; truth.py replays the log per thread (enter pushes a frame,
 * leave pops it), and the frames left when the process stops are the
 * ground truth of its core.  One line per record, written with one
 * write(2) on an O_APPEND descriptor, so lines of different threads never
 * interleave and nothing is buffered when the process crashes:
 *
 *   enter tid=T fn=F
 *   truth tid=T fn=F idx=I arg=NAME type="TYPE" size=S value=0xHEX [string="S"]
 *   leave tid=T fn=F
 *   park tid=T kind=K comm=C
 *   crash tid=T mode=M addr=0xHEX
 *
 * value is the argument's raw bits zero-extended from its size (an
 * aggregate's bytes read as one little-endian number, as in the kernel
 * corpus' truth.json).  The values are copied into an array by value:
 * no argument's address escapes, so logging does not force arguments into
 * memory at -O1 and above.
 */
#ifndef VMC_ARGS_TRUTHLOG_H
#define VMC_ARGS_TRUTHLOG_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))
#define NOIPA __attribute__((noipa))
#define USED __attribute__((used))
#define TL_UNUSED __attribute__((unused))
#if defined(__i386__)
#define REGPARM3 __attribute__((regparm(3)))
#else
#define REGPARM3
#endif

struct tl_arg {
  const char *name;
  const char *type;
  unsigned size;
  unsigned long long w[4]; /* little-endian words of the raw bits */
  const char *str;         /* for strings: the text, logged as string="…" */
};

static TL_UNUSED int tl_fd = 2;

/* Bytes [off, off+8) of an object of `size` bytes, zero beyond its end.
 * Always inlined so that the object's address never escapes. */
static inline __attribute__((always_inline)) unsigned long long tl_word(const void *p, unsigned size, unsigned off) {
  unsigned long long w = 0;
  if (off < size) memcpy(&w, (const char *)p + off, size - off < 8 ? size - off : 8);
  return w;
}

static inline __attribute__((always_inline)) unsigned long long tl_fbits(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
}

static inline __attribute__((always_inline)) unsigned long long tl_dbits(double d) {
  unsigned long long u;
  memcpy(&u, &d, 8);
  return u;
}

#define TL_INT(x, T) {#x, T, sizeof(x), {(unsigned long long)(x), 0, 0, 0}, 0}
#define TL_PTR(x, T) {#x, T, sizeof(x), {(unsigned long long)(uintptr_t)(x), 0, 0, 0}, 0}
#define TL_STR(x, T) {#x, T, sizeof(x), {(unsigned long long)(uintptr_t)(x), 0, 0, 0}, (x)}
#define TL_FLT(x, T) {#x, T, sizeof(x), {tl_fbits(x), 0, 0, 0}, 0}
#define TL_DBL(x, T) {#x, T, sizeof(x), {tl_dbits(x), 0, 0, 0}, 0}
#define TL_AGG(x, T)                                                                              \
  {#x, T, sizeof(x),                                                                              \
   {tl_word(&(x), sizeof(x), 0), tl_word(&(x), sizeof(x), 8), tl_word(&(x), sizeof(x), 16),       \
    tl_word(&(x), sizeof(x), 24)},                                                                \
   0}
/* At entry of function F: TL_ENTER(TL_INT(a, "int"), TL_PTR(p, "char *"), …); */
#define TL_ENTER(...)                                                          \
  do {                                                                         \
    const struct tl_arg tl_args_[] = {__VA_ARGS__};                            \
    tl_enter(__func__, (int)(sizeof tl_args_ / sizeof tl_args_[0]), tl_args_); \
  } while (0)
#define TL_ENTER0() tl_enter(__func__, 0, 0)
#define TL_LEAVE() tl_leave(__func__)

static TL_UNUSED long tl_tid(void) { return (long)gettid(); } /* glibc >= 2.30 */

static TL_UNUSED void tl_write(const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(tl_fd, buf, n);
    if (w <= 0) _exit(97);
    buf += w;
    n -= (size_t)w;
  }
}

/* Small cores: one malloc arena (no 64 MB reservation per thread) and
 * 256 KiB thread stacks (gcore writes every mapping whole). */
#include <malloc.h>
#include <pthread.h>
static TL_UNUSED void tl_create(pthread_t *t, void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  if (pthread_create(t, &attr, fn, arg)) _exit(96);
  pthread_attr_destroy(&attr);
}

static TL_UNUSED void tl_open(const char *path) {
  mallopt(M_ARENA_MAX, 1);
  tl_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (tl_fd < 0) {
    perror(path);
    _exit(98);
  }
}

static TL_UNUSED void tl_hex(char *out, size_t cap, const struct tl_arg *a) {
  unsigned size = a->size > 32 ? 32 : a->size;
  unsigned char b[32] = {0};
  for (unsigned i = 0; i < size; i++) b[i] = (unsigned char)(a->w[i / 8] >> (8 * (i % 8)));
  size_t k = 0;
  k += (size_t)snprintf(out + k, cap - k, "0x");
  int started = 0;
  for (unsigned i = size; i-- > 0;) {
    if (!started && b[i] == 0 && i > 0) continue;
    k += (size_t)snprintf(out + k, cap - k, started ? "%02x" : "%x", b[i]);
    started = 1;
  }
}

/* Not static-inline: one real function whose frames are short-lived. */
static TL_UNUSED NOIPA void tl_enter(const char *fn, int n, const struct tl_arg *args) {
  char line[512];
  long tid = tl_tid();
  int k = snprintf(line, sizeof line, "enter tid=%ld fn=%s\n", tid, fn);
  tl_write(line, (size_t)k);
  for (int i = 0; i < n; i++) {
    char hex[80];
    tl_hex(hex, sizeof hex, &args[i]);
    k = snprintf(line, sizeof line, "truth tid=%ld fn=%s idx=%d arg=%s type=\"%s\" size=%u value=%s", tid, fn, i,
                 args[i].name, args[i].type, args[i].size, hex);
    if (args[i].str) k += snprintf(line + k, sizeof line - (size_t)k, " string=\"%.60s\"", args[i].str);
    if (k > (int)sizeof line - 2) k = (int)sizeof line - 2;
    line[k++] = '\n';
    tl_write(line, (size_t)k);
  }
}

static TL_UNUSED NOIPA void tl_leave(const char *fn) {
  char line[160];
  int k = snprintf(line, sizeof line, "leave tid=%ld fn=%s\n", tl_tid(), fn);
  tl_write(line, (size_t)k);
}

static TL_UNUSED NOIPA void tl_note(const char *what, const char *rest) {
  char line[256];
  int k = snprintf(line, sizeof line, "%s tid=%ld %s\n", what, tl_tid(), rest);
  tl_write(line, (size_t)k);
}

/* Waits until thread `tid` sleeps in the kernel (state S in
 * /proc/self/task/TID/stat), at most ~5 s; returns 0 when it does. */
static TL_UNUSED int tl_wait_sleeping(long tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  for (int i = 0; i < 5000; i++) {
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n > 0) {
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'S') return 0;
      }
    }
    usleep(1000);
  }
  return -1;
}

#endif
