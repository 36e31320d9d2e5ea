/* libchain.so for aggregates.c (see libchain.h): lib_relay → lib_inner,
 * which passes the address of a static object of the library (its DWARF
 * location and call-site values are DW_OP_addr constants that need the
 * library's load bias) and calls back into the program through a function
 * pointer. */
#include "truthlog.h"

#include "libchain.h"

struct lib_obj {
  long id;
  const char *name;
};

static struct lib_obj lib_static = {0x11b, "lib-static"};

void lib_log_to(int fd) { tl_fd = fd; }

static NOINLINE long lib_inner(struct lib_obj *lo, const char *what, long v, unsigned u, int w,
                               const struct chainp *c, calc_fn cb) {
  TL_ENTER(TL_PTR(lo, "struct lib_obj *"), TL_STR(what, "const char *"), TL_INT(v, "long"),
           TL_INT(u, "unsigned int"), TL_INT(w, "int"), TL_PTR(c, "const struct chainp *"), TL_PTR(cb, "calc_fn"));
  long r = cb(v, u, w, c);
  r += lo->id + what[0] + (long)c->key;
  TL_LEAVE();
  return r;
}

long lib_relay(const struct chainp *c, long v, unsigned u, int w, calc_fn cb) {
  TL_ENTER(TL_PTR(c, "const struct chainp *"), TL_INT(v, "long"), TL_INT(u, "unsigned int"), TL_INT(w, "int"),
           TL_PTR(cb, "calc_fn"));
  long r = lib_inner(&lib_static, "from-lib", v, u, w, c, cb);
  r ^= (long)c->seedv + w;
  TL_LEAVE();
  return r;
}
