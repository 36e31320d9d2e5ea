/* The shared library of the aggregates program (make-corpus.sh builds it as
 * libchain.so with the same flags, -fPIC): a piece of the main chain that
 * runs in another ELF module, with its own load bias. */
#ifndef VMC_ARGS_LIBCHAIN_H
#define VMC_ARGS_LIBCHAIN_H

enum mode { MODE_SEGV = 1, MODE_CALL = 2, MODE_FPE = 3 };

struct chainp {
  long seedv;
  int *addr;
  unsigned long long key;
  enum mode mode;
};

typedef long (*calc_fn)(long v, unsigned u, int w, const struct chainp *c);

/* The library's truth lines go to the program's truth log. */
void lib_log_to(int fd);
/* Calls cb(v, u, w, c) through lib_inner. */
long lib_relay(const struct chainp *c, long v, unsigned u, int w, calc_fn cb);

#endif
