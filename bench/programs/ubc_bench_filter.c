/* ubc-bench-filter: cost of ubc's production seccomp filter on memory calls it does NOT trap.
 *
 * The filter is the one ubc-hook emits (runtime-hook output, see docs/performance.md):
 * default ALLOW; NOTIFY for mmap with PROT_WRITE and MAP_PRIVATE, mmap of writable
 * MAP_SHARED|MAP_ANONYMOUS, mprotect with PROT_WRITE, brk(!=0), mremap, clone without
 * CLONE_VM, fork, execve, execveat; ERRNO(ENOSYS) for clone3; for x86-64, x86 and x32 like runc
 * compiles it. A NOTIFY filter needs a listener: libseccomp creates one at load and this process
 * keeps it open (nothing that is measured traps, so no responder is needed).
 *
 * usage: ubc-bench-filter ROUNDS N
 * Runs ROUNDS rounds; each round forks one child without a filter, one with the production
 * filter, one with an allow-everything filter (the fixed cost of any seccomp filter) and one
 * with a single argument rule on mmap (the fixed cost of a filter the kernel's action cache
 * cannot skip for mmap: what the production filter's length adds is filtered / one_rule), in
 * rotating order, each timing N iterations of each workload; prints one JSON object:
 * {"workloads": {NAME: {"bare": [ns/op per round], "filtered": [...], "allow_only": [...],
 *  "one_rule": [...]}}}.
 * Workloads (64 KiB, every page touched):
 *   mmap_ro      mmap PROT_READ MAP_PRIVATE|MAP_ANONYMOUS, read-touch, munmap
 *   mmap_shared  mmap PROT_READ|PROT_WRITE MAP_SHARED of a file, write-touch, munmap
 *   munmap       the munmap calls of mmap_ro alone (timed around munmap)
 *   mmap_ro_call / mmap_shared_call  the mmap calls of those loops alone (timed around mmap)
 *   mmap_ro_notouch / mmap_shared_notouch  the pairs without touching (the anchors' method)
 *   mmap_rw_bare mmap PROT_READ|PROT_WRITE MAP_PRIVATE|MAP_ANONYMOUS, touch, munmap
 *                (only meaningful "bare": it would trap under the filter; never run there)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64 * 1024)
#define NW 8

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Default ALLOW, for x86-64, x86 and x32 like runc compiles a profile. */
static scmp_filter_ctx new_filter(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return NULL;
  seccomp_arch_add(ctx, SCMP_ARCH_X86);
  seccomp_arch_add(ctx, SCMP_ARCH_X32);
  return ctx;
}

/* The production filter's first rule: NOTIFY for mmap with PROT_WRITE and MAP_PRIVATE. */
static int add_mmap_private_rule(scmp_filter_ctx ctx) {
  return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mmap), 2,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE),
                          SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_PRIVATE, MAP_PRIVATE));
}

/* A NOTIFY filter needs a listener: ctx and its fd stay open for the life of the process. */
static int load_with_listener(scmp_filter_ctx ctx) {
  if (seccomp_load(ctx) != 0) {
    fprintf(stderr, "seccomp_load failed\n");
    return -1;
  }
  if (seccomp_notify_fd(ctx) < 0) {
    fprintf(stderr, "no notify fd\n");
    return -1;
  }
  return 0;
}

/* A filter that allows everything: the fixed cost of having any seccomp filter. */
static int install_allow_filter(void) {
  scmp_filter_ctx ctx = new_filter();
  if (!ctx) return -1;
  /* one rule so that libseccomp emits a real program (never matches here) */
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0) return -1;
  return seccomp_load(ctx) == 0 ? 0 : -1;
}

/* The production filter's first rule alone. No measured call matches it. */
static int install_one_rule_filter(void) {
  scmp_filter_ctx ctx = new_filter();
  if (!ctx || add_mmap_private_rule(ctx) != 0) return -1;
  return load_with_listener(ctx);
}

static int install_production_filter(void) {
  scmp_filter_ctx ctx = new_filter();
  if (!ctx) return -1;
  int rc = add_mmap_private_rule(ctx);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mmap), 2,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE),
                         SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_PRIVATE | MAP_ANONYMOUS, MAP_ANONYMOUS));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(brk), 1, SCMP_A0(SCMP_CMP_NE, 0));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mremap), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, 0x100 /* CLONE_VM */, 0));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(fork), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execve), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execveat), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc != 0) {
    fprintf(stderr, "rule_add failed\n");
    return -1;
  }
  return load_with_listener(ctx);
}

static double run_workload(int w, long n, int fd) {
  volatile unsigned long sum = 0;
  uint64_t total = 0, t0 = now_ns();
  for (long i = 0; i < n; i++) {
    char *p;
    switch (w) {
      case 0:
      case 2:
      case 4: {
        uint64_t a0 = now_ns();
        p = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (w == 4) total += now_ns() - a0;
        if (p == MAP_FAILED) return -1;
        for (int off = 0; off < SIZE; off += 4096) sum += ((volatile char *)p)[off];
        if (w == 2) {
          uint64_t a = now_ns();
          munmap(p, SIZE);
          total += now_ns() - a;
        } else {
          munmap(p, SIZE);
        }
        break;
      }
      case 1:
      case 5: {
        uint64_t a0 = now_ns();
        p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (w == 5) total += now_ns() - a0;
        if (p == MAP_FAILED) return -1;
        for (int off = 0; off < SIZE; off += 4096) p[off] = (char)i;
        munmap(p, SIZE);
        break;
      }
      case 6:
        p = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        munmap(p, SIZE);
        break;
      case 7:
        p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return -1;
        munmap(p, SIZE);
        break;
      case 3:
        p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        for (int off = 0; off < SIZE; off += 4096) p[off] = (char)i;
        munmap(p, SIZE);
        break;
    }
  }
  if (w == 0 || w == 1 || w == 3 || w == 6 || w == 7) total = now_ns() - t0;
  return (double)total / (double)n;
}

static const char *names[] = {"mmap_ro",         "mmap_shared",        "munmap",
                              "mmap_rw_bare",    "mmap_ro_call",       "mmap_shared_call",
                              "mmap_ro_notouch", "mmap_shared_notouch"};

/* Runs every workload in a child (filtered or not) and returns ns/op through a pipe. */
static int child_round(int filtered, long n, int fd, double out[NW]) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (filtered == 1 && install_production_filter() != 0) _exit(2);
    if (filtered == 2 && install_allow_filter() != 0) _exit(2);
    if (filtered == 3 && install_one_rule_filter() != 0) _exit(2);
    double r[NW] = {0};
    for (int w = 0; w < NW; w++) {
      if ((filtered == 1 || filtered == 3) && w == 3) continue; /* would trap: no responder */
      run_workload(w, n / 10 + 1, fd);                          /* warm-up */
      r[w] = run_workload(w, n, fd);
    }
    if (write(p[1], r, sizeof r) != (ssize_t)sizeof r) _exit(3);
    _exit(0);
  }
  close(p[1]);
  ssize_t got = read(p[0], out, sizeof(double) * NW);
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  return got == (ssize_t)(sizeof(double) * NW) && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ubc-bench-filter ROUNDS N\n");
    return 2;
  }
  int rounds = atoi(argv[1]);
  long n = atol(argv[2]);
  char path[] = "/tmp/ubc-bench-filter-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, SIZE) != 0) {
    perror("tmpfile");
    return 1;
  }
  unlink(path);
  enum { kModes = 4 };
  double res[kModes][64][NW];
  if (rounds > 64) rounds = 64;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < kModes; k++) {
      int mode = (k + r) % kModes; /* rotate which goes first */
      if (child_round(mode, n, fd, res[mode][r]) != 0) {
        fprintf(stderr, "round %d (mode %d) failed\n", r, mode);
        return 1;
      }
    }
  }
  printf("{\"n\":%ld,\"rounds\":%d,\"workloads\":{", n, rounds);
  for (int w = 0; w < NW; w++) {
    static const char *modes[] = {"bare", "filtered", "allow_only", "one_rule"};
    printf("%s\"%s\":{", w ? "," : "", names[w]);
    for (int m = 0; m < kModes; m++) {
      printf("%s\"%s\":[", m ? "," : "", modes[m]);
      for (int r = 0; r < rounds; r++) printf("%s%.1f", r ? "," : "", res[m][r][w]);
      printf("]");
    }
    printf("}");
  }
  printf("}}\n");
  return 0;
}
