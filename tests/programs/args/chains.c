/* User-space argument corpus (make-corpus.sh): three worker threads parked
 * in chains of functions with known arguments, and the main thread going
 * down a chain of its own to a crash.
 *
 *   chains MODE TRUTHLOG     MODE: segv  crash_now stores through its argument addr
 *                                  leaf  leaf_fault (no calls, args live in registers) does
 *                                  abort crash_now calls abort()
 *                                  stop  crash_now calls args_stop_here (a gdb breakpoint)
 *
 * Worker threads:  args-cond   worker_cond → cond_outer → cond_mid (8 integers of every
 *                              width: two on the stack on x86-64) → park_cond → pthread_cond_wait
 *                  args-sleep  worker_sleep → rec ×5 (recursion) → park_sleep (structs by
 *                              value) → nanosleep
 *                  args-pipe   worker_pipe → pipe_outer (a 24/32-byte struct by value) →
 *                              park_read (regparm(3) on i386) → read on an empty pipe
 *                  args-mutex  worker_mutex → tail_a → tail_b, which tail-calls (at -O2) →
 *                              tail_c → abi_args (ms_abi on x86-64, fastcall on i386) →
 *                              va_args (variadic) → park_mutex → pthread_mutex_lock on a
 *                              mutex main holds
 *                  args-signal worker_sig → spin_outer → spin_leaf (a leaf spinning with its
 *                              arguments in caller-saved registers) interrupted by SIGUSR2,
 *                              whose handler on_sigusr2 → park_in_handler → read on a pipe
 * Main: main → start_chain (static, heap, stack objects) → many_args (13 arguments) →
 *       struct_args → float_args → rp_args (regparm(3) on i386) → cdecl_args (global) →
 *       inl_outer, inl_inner (plain static: inlined when the compiler likes) → crash_now.
 *
 * Every function logs its true arguments at entry (truthlog.h) and never
 * assigns to a parameter, so the value at entry is the value at the core.
 * Arguments are used again after the call down the chain, so compilers
 * keep many of them in callee-saved registers or stack slots.
 */
#include "truthlog.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

#if defined(__x86_64__)
#define OTHER_ABI __attribute__((ms_abi))
#define OTHER_ABI_NAME "ms_abi"
#elif defined(__i386__)
#define OTHER_ABI __attribute__((fastcall))
#define OTHER_ABI_NAME "fastcall"
#else
#define OTHER_ABI
#define OTHER_ABI_NAME "default"
#endif

enum color { RED = 1, GREEN = 2, BLUE = 0x40 };
enum mode { MODE_SEGV = 1, MODE_LEAF = 2, MODE_ABORT = 3, MODE_STOP = 4 };

struct obj {
  long id;
  const char *name;
  struct obj *next;
  unsigned char payload[24];
};
/* No padding anywhere: the raw bytes of these are exactly their members. */
struct small {
  unsigned int a;
  unsigned short b;
  unsigned char c;
  signed char d;
};
struct pair {
  unsigned long long lo, hi;
};
struct big {
  long a, b;
  int c[4];
};

static struct obj static_obj = {0x5a7a71c, "static", 0, {1, 2, 3}};
volatile long sink;
static volatile int never; /* nothing sets it: parked threads stay parked */

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t tid_mu = PTHREAD_MUTEX_INITIALIZER;
#define NWORKERS 5
static long parked_tid[NWORKERS];
static int pipe_fds[2];
static int sig_pipe[2];
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER; /* main holds it for ever */
static volatile long spin_count;

static void publish_parked(int slot, const char *kind) {
  char rest[96];
  char comm[16] = "?";
  pthread_getname_np(pthread_self(), comm, sizeof comm);
  snprintf(rest, sizeof rest, "kind=%s comm=%s", kind, comm);
  tl_note("park", rest);
  pthread_mutex_lock(&tid_mu);
  parked_tid[slot] = tl_tid();
  pthread_mutex_unlock(&tid_mu);
}

/* ---- worker 1: condition variable ---------------------------------- */

NOINLINE long park_cond(pthread_mutex_t *mu, pthread_cond_t *cv, unsigned depth, _Bool flag, enum color color) {
  TL_ENTER(TL_PTR(mu, "pthread_mutex_t *"), TL_PTR(cv, "pthread_cond_t *"), TL_INT(depth, "unsigned int"),
           TL_INT(flag, "_Bool"), TL_INT(color, "enum color"));
  pthread_mutex_lock(mu);
  publish_parked(0, "cond");
  while (!never) pthread_cond_wait(cv, mu);
  pthread_mutex_unlock(mu);
  long r = (long)depth * 3 + flag + color;
  TL_LEAVE();
  return r;
}

NOINLINE long cond_mid(unsigned char v_u8, signed char v_s8, unsigned short v_u16, short v_s16, unsigned v_u32,
                       int v_s32, unsigned long long v_u64, long long v_s64) {
  TL_ENTER(TL_INT(v_u8, "unsigned char"), TL_INT(v_s8, "signed char"), TL_INT(v_u16, "unsigned short"),
           TL_INT(v_s16, "short"), TL_INT(v_u32, "unsigned int"), TL_INT(v_s32, "int"),
           TL_INT(v_u64, "unsigned long long"), TL_INT(v_s64, "long long"));
  long r = park_cond(&park_mu, &park_cv, v_u8 & 7, v_s8 < 0, BLUE);
  r += v_u16 * v_s16 + (long)(v_u32 ^ (unsigned)v_s32) + (long)(v_u64 >> 7) - (long)v_s64;
  TL_LEAVE();
  return r;
}

NOINLINE long cond_outer(struct obj *obj, unsigned long long cookie, const char *tag) {
  TL_ENTER(TL_PTR(obj, "struct obj *"), TL_INT(cookie, "unsigned long long"), TL_STR(tag, "const char *"));
  long r = cond_mid(0xa5, -5, 0xbeef, -1234, 0xdeadbeef, -100000, 0x1122334455667788ULL, -0x123456789abcdefLL);
  sink += r ^ (long)cookie ^ obj->id ^ tag[0];
  TL_LEAVE();
  return r;
}

static void *worker_cond(void *arg) {
  pthread_setname_np(pthread_self(), "args-cond");
  TL_ENTER(TL_PTR(arg, "void *"));
  struct obj *heap = malloc(sizeof *heap);
  memset(heap, 0, sizeof *heap);
  heap->id = (long)arg;
  long r = cond_outer(heap, 0xc0ffee0123456789ULL, "cond-park");
  sink += r;
  TL_LEAVE();
  return heap;
}

/* ---- worker 2: recursion, structs by value, nanosleep --------------- */

NOINLINE long park_sleep(unsigned long long ns, struct small sv, struct pair pr, const struct obj *o) {
  TL_ENTER(TL_INT(ns, "unsigned long long"), TL_AGG(sv, "struct small"), TL_AGG(pr, "struct pair"),
           TL_PTR(o, "const struct obj *"));
  struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
  publish_parked(1, "sleep");
  while (!never) nanosleep(&ts, 0);
  long r = (long)(sv.a + sv.b + sv.c + sv.d) + (long)(pr.lo ^ pr.hi) + o->id;
  TL_LEAVE();
  return r;
}

NOINLINE long rec(int depth, long acc, const char *tag, struct obj *o) {
  TL_ENTER(TL_INT(depth, "int"), TL_INT(acc, "long"), TL_STR(tag, "const char *"), TL_PTR(o, "struct obj *"));
  long r;
  if (depth == 0) {
    struct small sv = {0x11223344u, 0x5566, 0x77, -120};
    struct pair pr = {0xaaaaaaaa55555555ULL, (unsigned long long)acc << 8 | 0x12};
    r = park_sleep(3600ULL * 1000000000ULL, sv, pr, o);
  } else {
    r = rec(depth - 1, acc * 3 + depth, tag, o);
  }
  sink += r ^ acc ^ tag[depth & 3];
  r += depth;
  TL_LEAVE();
  return r;
}

static void *worker_sleep(void *arg) {
  pthread_setname_np(pthread_self(), "args-sleep");
  TL_ENTER(TL_PTR(arg, "void *"));
  long r = rec(4, 7, "recursion", (struct obj *)arg);
  sink += r;
  TL_LEAVE();
  return 0;
}

/* ---- worker 3: read on an empty pipe -------------------------------- */

REGPARM3 NOINLINE long park_read(int fd, void *buf, size_t len, long long neg64) {
  TL_ENTER(TL_INT(fd, "int"), TL_PTR(buf, "void *"), TL_INT(len, "size_t"), TL_INT(neg64, "long long"));
  publish_parked(2, "pipe");
  ssize_t n = 0;
  while (!never) n = read(fd, buf, len);
  long r = (long)n + (long)neg64 + fd;
  TL_LEAVE();
  return r;
}

NOINLINE long pipe_outer(struct big b, char c, _Bool yes, short s) {
  TL_ENTER(TL_AGG(b, "struct big"), TL_INT(c, "char"), TL_INT(yes, "_Bool"), TL_INT(s, "short"));
  char buf[64];
  long r = park_read(pipe_fds[0], buf, sizeof buf, -2 - (long long)b.a);
  r += b.b + b.c[0] + b.c[3] + c + yes + s + buf[0];
  TL_LEAVE();
  return r;
}

static void *worker_pipe(void *arg) {
  pthread_setname_np(pthread_self(), "args-pipe");
  TL_ENTER(TL_PTR(arg, "void *"));
  struct big b = {(long)arg, -77, {1, -2, 3, 0x7fffffff}};
  long r = pipe_outer(b, 'Q', 1, -300);
  sink += r;
  TL_LEAVE();
  return 0;
}

/* ---- worker 4: tail call, another ABI, varargs, a held mutex -------- */

NOINLINE long park_mutex(pthread_mutex_t *mu, int attempt) {
  TL_ENTER(TL_PTR(mu, "pthread_mutex_t *"), TL_INT(attempt, "int"));
  publish_parked(3, "mutex");
  pthread_mutex_lock(mu);
  long r = attempt;
  TL_LEAVE();
  return r;
}

NOINLINE long va_args(int n, const char *fmt, ...) {
  TL_ENTER(TL_INT(n, "int"), TL_STR(fmt, "const char *"));
  va_list ap;
  va_start(ap, fmt);
  long sum = 0;
  for (int i = 0; i < n; i++) sum += va_arg(ap, long);
  va_end(ap);
  long r = park_mutex(&held_mu, (int)(sum & 0xff));
  r += sum;
  TL_LEAVE();
  return r;
}

OTHER_ABI NOINLINE long abi_args(long x, int y, const char *abi, unsigned long long z) {
  TL_ENTER(TL_INT(x, "long"), TL_INT(y, "int"), TL_STR(abi, "const char *"), TL_INT(z, "unsigned long long"));
  long r = va_args(3, "%ld %ld %ld", x, (long)y, (long)(z >> 3));
  r += x - y + abi[0];
  TL_LEAVE();
  return r;
}

/* Uses its arguments only before its call: after it, their locations are
 * entry values, which the call site in tail_a (a call to tail_b) must not
 * provide, since tail_b reached tail_c by a tail call at -O2. */
NOINLINE long tail_c(long p, long q) {
  TL_ENTER(TL_INT(p, "long"), TL_INT(q, "long"));
  long r = abi_args(0x7e57, -9, OTHER_ABI_NAME, 0x0123456789abcdefULL);
  TL_LEAVE();
  return r + 1;
}

NOINLINE long tail_b(long x, long y) {
  TL_ENTER(TL_INT(x, "long"), TL_INT(y, "long"));
  long p = y * 5 + 1, q = x ^ 0x5a5a;
  TL_LEAVE();           /* tail_b leaves before its tail call */
  return tail_c(p, q);  /* a sibling call at -O2 and above */
}

NOINLINE long tail_a(long seed) {
  TL_ENTER(TL_INT(seed, "long"));
  long r = tail_b(0x1111, 0x2222);
  r += seed;
  TL_LEAVE();
  return r;
}

static void *worker_mutex(void *arg) {
  pthread_setname_np(pthread_self(), "args-mutex");
  TL_ENTER(TL_PTR(arg, "void *"));
  long r = tail_a((long)arg + 1);
  sink += r;
  TL_LEAVE();
  return 0;
}

/* ---- worker 5: a signal handler parked on top of an interrupted leaf -- */

NOINLINE long park_in_handler(int fd, int sig, const void *uc) {
  TL_ENTER(TL_INT(fd, "int"), TL_INT(sig, "int"), TL_PTR(uc, "const void *"));
  publish_parked(4, "signal");
  char c = 0;
  ssize_t n = 0;
  while (!never) n = read(fd, &c, 1);
  long r = n + c + sig;
  TL_LEAVE();
  return r;
}

static void on_sigusr2(int sig, siginfo_t *si, void *uc) {
  TL_ENTER(TL_INT(sig, "int"), TL_PTR(si, "siginfo_t *"), TL_PTR(uc, "void *"));
  long r = park_in_handler(sig_pipe[0], sig, uc);
  sink += r + si->si_signo;
  TL_LEAVE();
}

/* A leaf: no calls; its arguments stay in the argument registers while it
 * spins, until SIGUSR2 interrupts it (its caller logs its truth). */
NOINLINE long spin_leaf(long a, unsigned long b, const volatile int *stop) {
  long acc = 1;
  while (!*stop) {
    acc = acc * a + (long)b;
    spin_count++;
  }
  return acc;
}

NOINLINE long spin_outer(const char *tag, long k) {
  TL_ENTER(TL_STR(tag, "const char *"), TL_INT(k, "long"));
  long a = k * 7 + 3;
  unsigned long b = (unsigned long)k << 12 | 0x5;
  const volatile int *stop = &never;
  struct tl_arg la[] = {TL_INT(a, "long"), TL_INT(b, "unsigned long"), TL_PTR(stop, "const volatile int *")};
  tl_enter("spin_leaf", 3, la);
  long r = spin_leaf(a, b, stop);
  r += k + tag[0];
  TL_LEAVE();
  return r;
}

static void *worker_sig(void *arg) {
  pthread_setname_np(pthread_self(), "args-signal");
  TL_ENTER(TL_PTR(arg, "void *"));
  long r = spin_outer("spinning", (long)arg);
  sink += r;
  TL_LEAVE();
  return 0;
}

/* ---- main thread: a chain down to the crash ------------------------- */

USED NOIPA void args_stop_here(long why) {
  sink += why;
  __asm__ volatile("" ::: "memory");
}

/* A leaf: no calls at all, so its caller logs its truth. */
REGPARM3 NOINLINE void leaf_fault(unsigned long addr, int tag, unsigned long long cookie) {
  *(volatile unsigned long long *)addr = cookie + (unsigned long long)tag;
}

NOINLINE long crash_now(enum mode mode, unsigned long addr, int tag) {
  TL_ENTER(TL_INT(mode, "enum mode"), TL_INT(addr, "unsigned long"), TL_INT(tag, "int"));
  char rest[96];
  snprintf(rest, sizeof rest, "mode=%d addr=%#lx", (int)mode, addr);
  tl_note("crash", rest);
  if (mode == MODE_SEGV) {
    *(volatile int *)addr = tag;
  } else if (mode == MODE_LEAF) {
    unsigned long long cookie = 0xfeedface00000000ULL | (unsigned)tag;
    unsigned long leaf_addr = addr + 8;
    /* leaf_fault's own truth, logged here because it makes no calls. */
    struct tl_arg la[] = {TL_INT(leaf_addr, "unsigned long"), TL_INT(tag, "int"),
                          TL_INT(cookie, "unsigned long long")};
    la[0].name = "addr";
    la[2].name = "cookie";
    tl_enter("leaf_fault", 3, la);
    leaf_fault(leaf_addr, tag, cookie);
  } else if (mode == MODE_ABORT) {
    abort();
  } else {
    args_stop_here(tag);
  }
  long r = (long)addr + tag + mode;
  TL_LEAVE();
  return r;
}

static long inl_inner(unsigned long addr, int tag, enum mode mode) {
  TL_ENTER(TL_INT(addr, "unsigned long"), TL_INT(tag, "int"), TL_INT(mode, "enum mode"));
  long r = crash_now(mode, addr, tag);
  r ^= tag;
  TL_LEAVE();
  return r;
}

static long inl_outer(long x, unsigned long addr, enum mode mode) {
  TL_ENTER(TL_INT(x, "long"), TL_INT(addr, "unsigned long"), TL_INT(mode, "enum mode"));
  long r = inl_inner(addr, (int)(x & 0xffff), mode);
  r += x;
  TL_LEAVE();
  return r;
}

long cdecl_args(short s, unsigned char uc, long l, enum mode mode, unsigned long addr) {
  TL_ENTER(TL_INT(s, "short"), TL_INT(uc, "unsigned char"), TL_INT(l, "long"), TL_INT(mode, "enum mode"),
           TL_INT(addr, "unsigned long"));
  long r = inl_outer(l ^ 0x5171c, addr, mode);
  r += s * uc;
  TL_LEAVE();
  return r;
}

REGPARM3 NOINLINE long rp_args(int a, unsigned long long b, void *p, enum mode mode, unsigned long addr) {
  TL_ENTER(TL_INT(a, "int"), TL_INT(b, "unsigned long long"), TL_PTR(p, "void *"), TL_INT(mode, "enum mode"),
           TL_INT(addr, "unsigned long"));
  long r = cdecl_args((short)-a, (unsigned char)(b >> 56), (long)b, mode, addr);
  r += a + (long)(b & 0xff) + (long)(uintptr_t)p;
  TL_LEAVE();
  return r;
}

NOINLINE long float_args(double d, float f, int i, enum mode mode, unsigned long addr) {
  TL_ENTER(TL_DBL(d, "double"), TL_FLT(f, "float"), TL_INT(i, "int"), TL_INT(mode, "enum mode"),
           TL_INT(addr, "unsigned long"));
  long r = rp_args(-i, 0x8000000000000001ULL ^ (unsigned long long)i, &static_obj, mode, addr);
  r += (long)(d * 1e-300) + (long)f;
  TL_LEAVE();
  return r;
}

NOINLINE long struct_args(struct small sv, struct pair pr, struct big bg, const struct obj *o, enum mode mode,
                          unsigned long addr) {
  TL_ENTER(TL_AGG(sv, "struct small"), TL_AGG(pr, "struct pair"), TL_AGG(bg, "struct big"),
           TL_PTR(o, "const struct obj *"), TL_INT(mode, "enum mode"), TL_INT(addr, "unsigned long"));
  long r = float_args(-1.5e300, 3.25f, (int)(sv.a & 0xfff), mode, addr);
  r += (long)sv.b + (long)(pr.lo - pr.hi) + bg.a + bg.c[2] + o->id;
  TL_LEAVE();
  return r;
}

NOINLINE long many_args(unsigned char a1, signed char a2, unsigned short a3, short a4, unsigned a5, int a6,
                        unsigned long long a7, long long a8, _Bool a9, char a10, const char *a11, enum mode mode,
                        unsigned long addr) {
  TL_ENTER(TL_INT(a1, "unsigned char"), TL_INT(a2, "signed char"), TL_INT(a3, "unsigned short"),
           TL_INT(a4, "short"), TL_INT(a5, "unsigned int"), TL_INT(a6, "int"), TL_INT(a7, "unsigned long long"),
           TL_INT(a8, "long long"), TL_INT(a9, "_Bool"), TL_INT(a10, "char"), TL_STR(a11, "const char *"),
           TL_INT(mode, "enum mode"), TL_INT(addr, "unsigned long"));
  struct small sv = {0x11223344u ^ a5, 0x5566, a1, a2};
  struct pair pr = {a7, (unsigned long long)a8};
  struct big bg = {(long)a3, a4, {a6, 2, 3, a10}};
  long r = struct_args(sv, pr, bg, &static_obj, mode, addr);
  r += a1 + a2 + a3 + a4 + a9 + a10 + a11[0];
  TL_LEAVE();
  return r;
}

NOINLINE long start_chain(enum mode mode, const char *mode_name, struct obj *heap, struct obj *stk,
                          const struct obj *stat) {
  TL_ENTER(TL_INT(mode, "enum mode"), TL_STR(mode_name, "const char *"), TL_PTR(heap, "struct obj *"),
           TL_PTR(stk, "struct obj *"), TL_PTR(stat, "const struct obj *"));
  unsigned long addr = 0x1230 + 0x10 * (unsigned long)mode;
  long r = many_args(0xfe, -128, 0xffff, -32768, 0xfffffffeu, (int)0x80000000u, 0xfedcba9876543210ULL,
                     (long long)0x8000000000000000ULL, 1, 'Q', "many-args", mode, addr);
  r += heap->id + stk->id + stat->id + mode_name[0];
  TL_LEAVE();
  return r;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s segv|leaf|abort|stop TRUTHLOG\n", argv[0]);
    return 2;
  }
  tl_open(argv[2]);
  TL_ENTER(TL_INT(argc, "int"), TL_PTR(argv, "char **"));
  alarm(60); /* never outlive a stuck gdb */
  enum mode mode = !strcmp(argv[1], "segv")    ? MODE_SEGV
                   : !strcmp(argv[1], "leaf")  ? MODE_LEAF
                   : !strcmp(argv[1], "abort") ? MODE_ABORT
                                               : MODE_STOP;
  if (pipe(pipe_fds) || pipe(sig_pipe)) return 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigusr2;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &sa, 0);
  pthread_mutex_lock(&held_mu);
  pthread_t t[NWORKERS];
  tl_create(&t[0], worker_cond, (void *)0x1001);
  tl_create(&t[1], worker_sleep, &static_obj);
  tl_create(&t[2], worker_pipe, (void *)0x3003);
  tl_create(&t[3], worker_mutex, (void *)0x4004);
  tl_create(&t[4], worker_sig, (void *)0x55);
  /* The signal worker spins in spin_leaf until SIGUSR2 interrupts it. */
  for (int k = 0; k < 5000 && spin_count < 1000; k++) usleep(1000);
  if (spin_count < 1000) {
    fprintf(stderr, "the signal worker does not spin\n");
    return 4;
  }
  pthread_kill(t[4], SIGUSR2);
  for (int i = 0; i < NWORKERS; i++) {
    long tid = 0;
    for (int k = 0; k < 5000 && !tid; k++) {
      pthread_mutex_lock(&tid_mu);
      tid = parked_tid[i];
      pthread_mutex_unlock(&tid_mu);
      if (!tid) usleep(1000);
    }
    if (!tid || tl_wait_sleeping(tid)) {
      fprintf(stderr, "worker %d did not park\n", i);
      return 4;
    }
  }
  struct obj stack_obj = {0x57ac, "stack", &static_obj, {9}};
  struct obj *heap = malloc(sizeof *heap);
  memset(heap, 0, sizeof *heap);
  heap->id = 0x4ea9;
  heap->name = "heap";
  long r = start_chain(mode, argv[1], heap, &stack_obj, &static_obj);
  sink += r;
  TL_LEAVE();
  return (int)(sink & 1);
}
