#include "cli/app.h"

int main(int argc, char** argv) { return vmc::cli::run(argc, argv); }
