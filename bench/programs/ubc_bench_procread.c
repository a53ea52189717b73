/* ubc-bench-procread: what ubcd's kernel reads cost, measured from outside (diagnosis for
 * docs/performance.md). Times N iterations of each read ubcd makes on its decision paths
 * against a live container process and its cgroup.
 *
 * usage: ubc-bench-procread CGROUP_DIR PID N
 * prints one JSON object {name: median ns per operation} for:
 *   cgroup_procs   open + read + close CGROUP_DIR/cgroup.procs   (membership listing)
 *   cgroup_readdir opendir + readdir + closedir CGROUP_DIR       (child cgroups)
 *   statm_pread    pread of a kept /proc/PID/statm fd            (exact held, per process)
 *   statm_open     open + read + close /proc/PID/statm           (fork's caller data)
 *   status_open    open + read + close /proc/PID/status          (tgid of a new thread)
 *   syscall_open   open + read + close /proc/PID/syscall         (reservation progress)
 *   maps_open      open + read + close /proc/PID/maps            (brk, mprotect, MAP_FIXED)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ubc-bench-procread CGROUP_DIR PID N\n");
    return 2;
  }
  const char *cg = argv[1];
  int pid = atoi(argv[2]);
  int n = atoi(argv[3]);
  char p_procs[4096], p_statm[64], p_status[64], p_syscall[64], p_maps[64];
  snprintf(p_procs, sizeof p_procs, "%s/cgroup.procs", cg);
  snprintf(p_statm, sizeof p_statm, "/proc/%d/statm", pid);
  snprintf(p_status, sizeof p_status, "/proc/%d/status", pid);
  snprintf(p_syscall, sizeof p_syscall, "/proc/%d/syscall", pid);
  snprintf(p_maps, sizeof p_maps, "/proc/%d/maps", pid);
  int statm_fd = open(p_statm, O_RDONLY | O_CLOEXEC);
  if (statm_fd < 0) {
    perror(p_statm);
    return 1;
  }
  const char *names[] = {"cgroup_procs", "cgroup_readdir", "statm_pread", "statm_open",
                         "status_open",  "syscall_open",   "maps_open"};
  uint64_t *s = calloc((size_t)n, sizeof *s);
  printf("{");
  for (int w = 0; w < 7; w++) {
    for (int i = 0; i < n; i++) {
      uint64_t a = now_ns();
      switch (w) {
        case 0:
          read_file(p_procs);
          break;
        case 1: {
          DIR *d = opendir(cg);
          if (d) {
            while (readdir(d)) {
            }
            closedir(d);
          }
          break;
        }
        case 2:
          if (pread(statm_fd, buf, 255, 0) < 0) return 1;
          break;
        case 3:
          read_file(p_statm);
          break;
        case 4:
          read_file(p_status);
          break;
        case 5:
          read_file(p_syscall);
          break;
        case 6:
          read_file(p_maps);
          break;
      }
      s[i] = now_ns() - a;
    }
    qsort(s, (size_t)n, sizeof *s, cmp);
    printf("%s\"%s\":%llu", w ? "," : "", names[w], (unsigned long long)s[n / 2]);
  }
  printf("}\n");
  return 0;
}
