// ubc-bench-hello: a small dynamically linked C++ program (libstdc++, libm, libgcc_s,
// libc) whose start-up makes the loader's usual mmap/mprotect calls; the start-up
// benchmark execs it repeatedly.
#include <cmath>
#include <iostream>

int main(int argc, char** argv) {
  std::cout << "hello " << std::sqrt(static_cast<double>(argc + 1)) << ' ' << argv[0] << '\n';
  return 0;
}
