/* User-space argument corpus (make-corpus.sh), second program: aggregates
 * and calling conventions, values the compiler cannot fold (they come from
 * volatile globals), arguments passed down unchanged through several frames
 * (entry values that nest), arguments dead after their first use, and
 * static functions (which gcc -m32 -O1+ may switch to register passing on
 * its own) next to global cdecl, regparm(3) and noipa ones.
 *
 * pass_2 → lib_relay → lib_inner (both in libchain.so) → calc_caller (called
 * back through a pointer) → calc_args → pass_3: the chain crosses into a
 * shared library and back, and calc_args gets arguments computed by narrow
 * arithmetic (shifts, divisions, comparisons) that must be recovered as
 * entry values.
 *
 *   aggregates MODE TRUTHLOG   MODE: segv  pass_4 stores through its argument
 *                                    call  call_through calls its function-pointer argument (bad)
 *                                    fpe   leaf_div divides by its zero argument (SIGFPE, a leaf)
 *
 * One worker thread (args-poll) parks in poll() under poll_outer → poll_park.
 */
#include "truthlog.h"

#include <poll.h>
#include <pthread.h>

#include "libchain.h"

enum sign { SIGN_NEG = -3, SIGN_ZERO = 0, SIGN_POS = 7 };

struct three {
  int x, y, z;
}; /* 12 bytes: two INTEGER eightbytes on x86-64 */
struct dpair {
  double d;
  long long n;
}; /* SSE + INTEGER on x86-64 */
struct fl2 {
  float a, b;
}; /* one SSE eightbyte */
struct bits {
  unsigned lo : 5;
  unsigned mid : 11;
  signed hi : 16;
}; /* 4 bytes, every bit a member's */
union word {
  unsigned long long u;
  double d;
  unsigned char b[8];
};

volatile unsigned long long seed = 0x0123456789abcdefULL;
volatile int zero;
volatile long sink;
static volatile int never;
static pthread_mutex_t tid_mu = PTHREAD_MUTEX_INITIALIZER;
static long parked_tid;
static int target_object = 0x7a7a;

typedef long (*binop_fn)(long, long);

static long op_add(long a, long b) { return a + b; }

/* ---- the worker: poll on a pipe nobody writes --------------------- */

static int poll_pipe[2];

NOINLINE int poll_park(struct pollfd *fds, nfds_t nfds, int timeout, union word w, binop_fn fn) {
  TL_ENTER(TL_PTR(fds, "struct pollfd *"), TL_INT(nfds, "nfds_t"), TL_INT(timeout, "int"), TL_AGG(w, "union word"),
           TL_PTR(fn, "binop_fn"));
  char rest[64];
  char comm[16] = "?";
  pthread_getname_np(pthread_self(), comm, sizeof comm);
  snprintf(rest, sizeof rest, "kind=poll comm=%s", comm);
  tl_note("park", rest);
  pthread_mutex_lock(&tid_mu);
  parked_tid = tl_tid();
  pthread_mutex_unlock(&tid_mu);
  int n = 0;
  while (!never) n = poll(fds, nfds, timeout);
  int r = n + (int)fn((long)w.b[3], timeout);
  TL_LEAVE();
  return r;
}

static long poll_outer(struct bits bf, enum sign sg, struct fl2 f2) {
  TL_ENTER(TL_AGG(bf, "struct bits"), TL_INT(sg, "enum sign"), TL_AGG(f2, "struct fl2"));
  struct pollfd p = {poll_pipe[0], POLLIN, 0};
  union word w;
  w.u = seed ^ 0xffff;
  long r = poll_park(&p, 1, -1, w, op_add);
  r += bf.lo + bf.mid + bf.hi + sg + (long)(f2.a * f2.b);
  TL_LEAVE();
  return r;
}

static void *worker_poll(void *arg) {
  pthread_setname_np(pthread_self(), "args-poll");
  TL_ENTER(TL_PTR(arg, "void *"));
  struct bits bf = {0x1f, 0x5a5, -2};
  struct fl2 f2 = {1.5f, -0.25f};
  long r = poll_outer(bf, SIGN_NEG, f2);
  sink += r;
  TL_LEAVE();
  return 0;
}

/* ---- main: pass-through chain ---------------------------------------- */

/* A leaf: its caller logs its truth. */
NOINLINE int leaf_div(int num, int den, int bias) { return num / den + bias; }

static NOINLINE long call_through(binop_fn fn, long a, long b) {
  TL_ENTER(TL_PTR(fn, "binop_fn"), TL_INT(a, "long"), TL_INT(b, "long"));
  long r = fn(a, b);
  r += a ^ b;
  TL_LEAVE();
  return r;
}

/* addr, key and seedv come down unchanged from pass_1. */
static NOINLINE long pass_4(int *addr, unsigned long long key, long seedv, enum mode mode) {
  TL_ENTER(TL_PTR(addr, "int *"), TL_INT(key, "unsigned long long"), TL_INT(seedv, "long"), TL_INT(mode, "enum mode"));
  char rest[64];
  snprintf(rest, sizeof rest, "mode=%d addr=%#lx", (int)mode, (unsigned long)(uintptr_t)addr);
  tl_note("crash", rest);
  long r = 0;
  if (mode == MODE_SEGV) {
    *(volatile int *)addr = (int)key;
  } else if (mode == MODE_CALL) {
    r = call_through((binop_fn)(uintptr_t)addr, seedv, (long)key);
  } else {
    int num = (int)seedv, den = zero, bias = (int)(key & 0xff);
    struct tl_arg la[] = {TL_INT(num, "int"), TL_INT(den, "int"), TL_INT(bias, "int")};
    tl_enter("leaf_div", 3, la);
    r = leaf_div(num, den, bias);
  }
  r += (long)key + seedv + mode;
  TL_LEAVE();
  return r;
}

REGPARM3 NOINLINE long pass_3(long seedv, int *addr, unsigned long long key, enum mode mode) {
  TL_ENTER(TL_INT(seedv, "long"), TL_PTR(addr, "int *"), TL_INT(key, "unsigned long long"), TL_INT(mode, "enum mode"));
  long r = pass_4(addr, key, seedv, mode);
  r ^= seedv; /* key and addr are dead after the call */
  TL_LEAVE();
  return r;
}

/* Arguments computed by narrow (8-, 16-, 32-bit) arithmetic from values the
 * caller keeps in callee-saved registers, and dead in here after the first
 * call: their values at the crash are entry values, i.e. the call site's
 * DW_AT_call_value expressions evaluated on the caller's registers. */
NOINLINE long calc_args(short s3, unsigned char lowb, _Bool lt, int q7, unsigned uq7, int m5, unsigned um5,
                        signed char sc, long neg, const struct chainp *c) {
  TL_ENTER(TL_INT(s3, "short"), TL_INT(lowb, "unsigned char"), TL_INT(lt, "_Bool"), TL_INT(q7, "int"),
           TL_INT(uq7, "unsigned int"), TL_INT(m5, "int"), TL_INT(um5, "unsigned int"), TL_INT(sc, "signed char"),
           TL_INT(neg, "long"), TL_PTR(c, "const struct chainp *"));
  long r = pass_3(c->seedv, c->addr, c->key, c->mode);
  TL_LEAVE();
  return r + 1;
}

NOINLINE long calc_caller(long v, unsigned u, int w, const struct chainp *c) {
  TL_ENTER(TL_INT(v, "long"), TL_INT(u, "unsigned int"), TL_INT(w, "int"), TL_PTR(c, "const struct chainp *"));
  long r = calc_args((short)(v >> 3), (unsigned char)(u + (unsigned)w), v < w, w / 7, u / 7, w % 5, u % 5,
                     (signed char)(w >> 4), -v, c);
  r += v ^ (long)u ^ w;
  TL_LEAVE();
  return r;
}

long pass_2(unsigned long long key, long seedv, int *addr, enum mode mode, struct three t) {
  TL_ENTER(TL_INT(key, "unsigned long long"), TL_INT(seedv, "long"), TL_PTR(addr, "int *"),
           TL_INT(mode, "enum mode"), TL_AGG(t, "struct three"));
  struct chainp c = {seedv, addr, key, mode};
  long r = lib_relay(&c, -(long)(seed & 0xf) - 5, 0xfffffff0u ^ (unsigned)(seed & 0xf), -1000 - (int)(seed & 7),
                     calc_caller);
  r += t.x * t.y - t.z;
  TL_LEAVE();
  return r;
}

NOIPA long pass_1(int *addr, unsigned long long key, long seedv, enum mode mode, struct dpair dp, enum sign sg) {
  TL_ENTER(TL_PTR(addr, "int *"), TL_INT(key, "unsigned long long"), TL_INT(seedv, "long"),
           TL_INT(mode, "enum mode"), TL_AGG(dp, "struct dpair"), TL_INT(sg, "enum sign"));
  struct three t = {(int)seedv, -(int)(key >> 40), 0x333};
  long r = pass_2(key, seedv, addr, mode, t);
  r += (long)dp.d + (long)dp.n + sg;
  TL_LEAVE();
  return r;
}

static NOINLINE long chain_top(enum mode mode, const char *why, const int *target, long unused) {
  TL_ENTER(TL_INT(mode, "enum mode"), TL_STR(why, "const char *"), TL_PTR(target, "const int *"),
           TL_INT(unused, "long"));
  unsigned long long key = seed;
  long seedv = (long)(seed >> 3);
  int *addr = mode == MODE_SEGV ? (int *)(uintptr_t)(0x2000 + (key & 0xff0))
              : mode == MODE_CALL ? (int *)(uintptr_t)0x3330
                                  : (int *)&target_object;
  struct dpair dp = {-2.5, (long long)key};
  long r = pass_1(addr, key, seedv, mode, dp, SIGN_POS);
  r += *target + why[0];
  TL_LEAVE();
  return r;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s segv|call|fpe TRUTHLOG\n", argv[0]);
    return 2;
  }
  tl_open(argv[2]);
  lib_log_to(tl_fd);
  TL_ENTER(TL_INT(argc, "int"), TL_PTR(argv, "char **"));
  alarm(60); /* never outlive a stuck gdb */
  enum mode mode = !strcmp(argv[1], "segv") ? MODE_SEGV : !strcmp(argv[1], "call") ? MODE_CALL : MODE_FPE;
  if (pipe(poll_pipe)) return 3;
  pthread_t t;
  tl_create(&t, worker_poll, 0);
  long tid = 0;
  for (int k = 0; k < 5000 && !tid; k++) {
    pthread_mutex_lock(&tid_mu);
    tid = parked_tid;
    pthread_mutex_unlock(&tid_mu);
    if (!tid) usleep(1000);
  }
  if (!tid || tl_wait_sleeping(tid)) {
    fprintf(stderr, "worker did not park\n");
    return 4;
  }
  long r = chain_top(mode, argv[1], &target_object, (long)seed * 5);
  sink += r;
  TL_LEAVE();
  return (int)(sink & 1);
}
