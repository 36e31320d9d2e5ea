#include "cli/app.h"

#include <fmt/format.h>

namespace vmc::cli {

int run(int, char**) {
  fmt::print(stderr, "vmcore-args: not built yet\n");
  return 1;
}

}  // namespace vmc::cli
