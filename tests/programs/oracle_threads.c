/* A small multi-threaded program whose cores feed the unwinder's oracle
 * test (tests/unit/unwind_oracle_test.cc, cores made by make-cores.sh).
 *
 *   oracle_threads stop    main recurses, then calls vmc_stop_here()
 *                          (gdb breaks there and writes a core)
 *   oracle_threads segv    main recurses, then stores through NULL
 *   oracle_threads abort   main recurses, then calls abort()
 *   oracle_threads signal  main recurses, then raises SIGUSR1, whose handler
 *                          (on an alternate signal stack) calls vmc_stop_here()
 *
 * Three worker threads recurse to depths 3, 5 and 7 through a function
 * with eight arguments (two on the stack) and block in pause() inside libc.
 * noinline/noclone and work after each call keep every frame real.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static pthread_barrier_t ready;
volatile long sink;

NOINLINE void vmc_stop_here(long why) {
  sink += why;
  __asm__ volatile("" ::: "memory");
}

NOINLINE long park(long a, long b, long c, long d, long e, long f, long g, long h) {
  sink = a + b + c + d + e + f + g + h;
  pthread_barrier_wait(&ready);
  for (;;) pause();
  return sink;
}

static void on_signal(int sig) { vmc_stop_here(sig); }

NOINLINE long crash(long how, long depth) {
  if (how == 1) *(volatile long *)(long)sink = depth;  /* sink is 0: a NULL store */
  if (how == 2) abort();
  if (how == 3) {
    static char altstack[64 * 1024];
    stack_t ss = {0};
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    return sink + depth;
  }
  vmc_stop_here(depth);
  return sink + depth;
}

NOINLINE long many_args(long mode, long a, long b, long c, long d, long e, long f, long g) {
  long r;
  if (mode < 0)
    r = park(a, b, c, d, e, f, g, mode);
  else
    r = crash(mode, a + b + c + d + e + f + g);
  sink += r;
  return r + a;
}

NOINLINE long recurse(int n, long mode, long acc) {
  long r;
  if (n == 0)
    r = many_args(mode, acc, acc + 1, acc + 2, acc + 3, acc + 4, acc + 5, acc + 6);
  else
    r = recurse(n - 1, mode, acc * 3 + n);
  sink += r;
  return r + n;
}

static void *worker(void *arg) {
  long depth = (long)arg;
  return (void *)recurse((int)depth, -1, depth);
}

int main(int argc, char **argv) {
  long mode = 0;
  if (argc > 1 && strcmp(argv[1], "segv") == 0) mode = 1;
  if (argc > 1 && strcmp(argv[1], "abort") == 0) mode = 2;
  if (argc > 1 && strcmp(argv[1], "signal") == 0) mode = 3;
  enum { kThreads = 3 };
  pthread_t t[kThreads];
  pthread_attr_t attr;
  /* Small stacks keep the cores small. */
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  pthread_barrier_init(&ready, NULL, kThreads + 1);
  for (long i = 0; i < kThreads; ++i)
    if (pthread_create(&t[i], &attr, worker, (void *)(3 + 2 * i)) != 0) return 2;
  pthread_barrier_wait(&ready);
  sink = 0;
  return (int)recurse(4, mode, 1);
}
