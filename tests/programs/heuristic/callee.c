/* The callee of the heuristic test: built with var-tracking, so its
 * parameters' locations after the call to puts() are DW_OP_entry_value of
 * their argument registers. It then faults. */
#include <stdio.h>

volatile long sink;

__attribute__((noinline)) long callee(long a, long b) {
  sink = a + b;
  puts("callee: about to fault");
  *(volatile int *)16 = 1;
  return sink;
}
