/* The caller of the heuristic test: built with -fno-var-tracking, so it
 * has no DW_TAG_call_site to prove callee's entry values. It keeps k in a
 * callee-saved register and moves it into rdi just before the call. */
#include <stdio.h>

long callee(long a, long b);

__attribute__((noinline)) long caller(long x) {
  long k = x * 3;
  puts("caller");
  long r = callee(k, k + 1);
  return r + k;
}

int main(int argc, char **argv) {
  (void)argv;
  printf("truth a=%ld b=%ld\n", (long)(argc + 41) * 3, (long)(argc + 41) * 3 + 1);
  fflush(stdout);
  return (int)caller(argc + 41);
}
