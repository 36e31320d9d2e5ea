// The command-line front end: parses arguments, runs a command, maps
// errors to exit codes (see exit_codes.h).
#pragma once

namespace vmc::cli {

int run(int argc, char** argv);

}  // namespace vmc::cli
