/*
 * big_bss: a static program whose image has a .bss of BSS_MIB MiB, for the tests of what
 * an exec brings in without a trapped call (docs/accounting.md, "Growth the kernel does
 * without a syscall"). The kernel maps the whole .bss at exec as private writable memory,
 * so it counts in statm's data at once, touched or not.
 *
 * It prints "bss BSS_MIB MiB" and then blocks reading stdin, so the container holds the
 * image until the test closes stdin; with an argument it execs that argv instead of
 * waiting (so a test can chain execs). A kernel that refuses the image (RLIMIT_DATA) kills
 * the process at exec, before main.
 */
#include <stdio.h>
#include <unistd.h>

#ifndef BSS_MIB
#error "build with -DBSS_MIB=N"
#endif

static char image[(unsigned long)BSS_MIB << 20];

int main(int argc, char **argv) {
  image[0] = 1; /* keep the array */
  printf("bss %d MiB\n", BSS_MIB);
  fflush(stdout);
  if (argc > 1) {
    execv(argv[1], argv + 1);
    perror("execv");
    return 127;
  }
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return image[0] == 1 ? 0 : 1;
}
