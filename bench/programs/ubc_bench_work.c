/* ubc-bench-work: the workload program of the benchmark suite (static; runs inside the
 * benchmark containers, with or without a seccomp filter and a supervisor).
 *
 * Line protocol like tests/programs/ubc_probe.c: one command per stdin line, exactly one
 * reply line per command ("ok JSON" or "err TEXT"), flushed at once. With arguments, the
 * arguments form the commands, one per argument (quote each command), run in order.
 *
 * Commands (SIZE: bytes or K/M/G suffix):
 *   echo TEXT                 -> ok TEXT
 *   mmap N SIZE [PAGES]       N x (mmap anon private RW SIZE, touch every page (or the first
 *                             PAGES pages), munmap);
 *                             -> ok {"ns_per_op", "call_ns": percentiles of the mmap call}
 *   fill PAGES                mmap + touch so that statm data reaches PAGES (kept)
 *   unfill                    releases the fill
 *   malloc N THREADS MMAPTHRESH   glibc malloc/free mix in a forked child; MMAPTHRESH 0 =
 *                             glibc defaults, else mallopt(M_MMAP_THRESHOLD, MMAPTHRESH)
 *                             -> ok {"ns_per_op"} (wall time / total ops)
 *   fork N SIZE               map+touch SIZE, then N x (fork, child _exit, waitpid)
 *                             -> ok {"ns_median" (fork to reaped), "fork_ns",
 *                                    "call_ns": percentiles of fork() returning in the parent}
 *   spawn N PATH              N x (fork, execv PATH, waitpid)  -> ok {"ns_median", ...}
 *   sysinfo N                 N x sysinfo(2)  -> ok {"ns_per_op", "call_ns": percentiles}
 *   readfile N PATH [GAP_US]  N x (open, read to EOF in 4 KiB reads, close), sleeping
 *                             GAP_US (untimed) before each
 *                             -> ok {"ns_per_op", "call_ns": percentiles, "bytes": of the last}
 *   threads N                 N x (pthread_create of a thread that returns at once,
 *                             pthread_join)  -> ok {"ns_median" (create to joined),
 *                             "call_ns": percentiles of pthread_create returning}
 *   sbrk N SIZE               N x (sbrk(+SIZE), touch a page, sbrk(-SIZE)): 2 trapped brk calls
 *                             -> ok {"ns_per_op" (per pair), "call_ns": the growing call}
 *   waitfile PATH             polls (20 ms) until PATH exists  -> ok {}
 *   lat N SIZE [PAGES]        like mmap but prints every mmap call's ns (for pooling)
 *   exit                      -> ok, exit 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 16

static long page_bytes;
static char *fill_addr;
static size_t fill_len;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_size(const char *s, size_t *out) {
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return -1;
  switch (*end) {
    case '\0':
      break;
    case 'K':
    case 'k':
      v <<= 10;
      break;
    case 'M':
    case 'm':
      v <<= 20;
      break;
    case 'G':
    case 'g':
      v <<= 30;
      break;
    default:
      return -1;
  }
  *out = (size_t)v;
  return 0;
}

static void touch(char *p, size_t len) {
  for (size_t off = 0; off < len; off += (size_t)page_bytes) p[off] = 1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double q) {
  if (n == 0) return 0;
  size_t i = (size_t)(q * (double)(n - 1) + 0.5);
  return sorted[i];
}

static long statm_data_pages(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long v[7] = {0};
  int n = fscanf(f, "%ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
  fclose(f);
  return n == 6 ? v[5] : -1;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static void print_percentiles(char *buf, size_t cap, uint64_t *samples, size_t n) {
  qsort(samples, n, sizeof *samples, cmp_u64);
  snprintf(buf, cap,
           "{\"n\":%zu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}", n,
           (unsigned long long)pct(samples, n, 0.5), (unsigned long long)pct(samples, n, 0.9),
           (unsigned long long)pct(samples, n, 0.99), (unsigned long long)pct(samples, n, 0.999),
           (unsigned long long)(n ? samples[n - 1] : 0));
}

/* N x mmap+touch+munmap; fills samples[i] with the mmap call's ns. Returns total ns or 0. */
static size_t touch_bytes; /* how much of each mapping the mmap loop touches */

static uint64_t mmap_loop(long n, size_t size, uint64_t *samples) {
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    uint64_t a = now_ns();
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t b = now_ns();
    if (p == MAP_FAILED) return 0;
    samples[i] = b - a;
    touch(p, touch_bytes < size ? touch_bytes : size);
    munmap(p, size);
  }
  return now_ns() - t0;
}

static void cmd_mmap(long n, size_t size, int raw) {
  uint64_t *s = calloc((size_t)n, sizeof *s);
  long warm = n / 10 + 1;
  uint64_t *ws = calloc((size_t)warm, sizeof *ws);
  if (!s || !ws || mmap_loop(warm, size, ws) == 0) {
    reply("err mmap %s", strerror(errno));
    free(s);
    free(ws);
    return;
  }
  uint64_t total = mmap_loop(n, size, s);
  if (total == 0) {
    reply("err mmap %s", strerror(errno));
    free(s);
    free(ws);
    return;
  }
  if (raw) {
    /* every sample, for pooled percentiles across containers */
    fputs("ok {\"ns_per_op\":", stdout);
    fprintf(stdout, "%.1f,\"samples\":[", (double)total / (double)n);
    for (long i = 0; i < n; i++) fprintf(stdout, i ? ",%llu" : "%llu", (unsigned long long)s[i]);
    fputs("]}\n", stdout);
    fflush(stdout);
  } else {
    char pc[256];
    print_percentiles(pc, sizeof pc, s, (size_t)n);
    reply("ok {\"ns_per_op\":%.1f,\"call_ns\":%s}", (double)total / (double)n, pc);
  }
  free(s);
  free(ws);
}

static void cmd_fill(long target_pages) {
  if (fill_addr) {
    munmap(fill_addr, fill_len);
    fill_addr = NULL;
  }
  long data = statm_data_pages();
  if (data < 0) {
    reply("err statm");
    return;
  }
  long need = target_pages - data;
  if (need <= 0) {
    reply("ok {\"data_pages\":%ld}", data);
    return;
  }
  fill_len = (size_t)need * (size_t)page_bytes;
  char *p = mmap(NULL, fill_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    reply("err fill %s", strerror(errno));
    return;
  }
  touch(p, fill_len);
  fill_addr = p;
  reply("ok {\"data_pages\":%ld}", statm_data_pages());
}

/* ---- malloc ---- */
struct mjob {
  long ops;
  unsigned seed;
  size_t min_size, max_size;
  pthread_barrier_t *bar;
  uint64_t t_start, t_end;
};

#define SLOTS 64
static void *malloc_thread(void *arg) {
  struct mjob *j = arg;
  void *slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned x = j->seed;
  pthread_barrier_wait(j->bar);
  j->t_start = now_ns();
  for (long i = 0; i < j->ops; i++) {
    x = x * 1103515245u + 12345u;
    unsigned k = (x >> 8) % SLOTS;
    if (slot[k]) {
      free(slot[k]);
      slot[k] = NULL;
    }
    x = x * 1103515245u + 12345u;
    /* log-uniform-ish size in [min, max] */
    size_t span = j->max_size - j->min_size + 1;
    size_t sz = j->min_size + ((size_t)(x >> 4) % span) / (1u + ((x >> 28) & 7u) * 8u);
    char *p = malloc(sz);
    if (!p) continue;
    for (size_t off = 0; off < sz; off += (size_t)page_bytes) p[off] = (char)i;
    p[sz - 1] = 1;
    slot[k] = p;
    len[k] = sz;
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  j->t_end = now_ns();
  (void)len;
  return NULL;
}

static void cmd_malloc(long ops, int threads, long mmap_threshold) {
  int pfd[2];
  if (pipe(pfd) != 0) {
    reply("err pipe");
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    reply("err fork %s", strerror(errno));
    return;
  }
  if (pid == 0) {
    close(pfd[0]);
    size_t min_size = 16, max_size = 16384;
    if (mmap_threshold > 0) {
      mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
      min_size = (size_t)mmap_threshold;
      max_size = 256 * 1024;
    }
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);
    pthread_t tid[64];
    struct mjob jobs[64];
    for (int t = 0; t < threads; t++) {
      jobs[t] = (struct mjob){ops, 12345u + 977u * (unsigned)t, min_size, max_size, &bar, 0, 0};
      pthread_create(&tid[t], NULL, malloc_thread, &jobs[t]);
    }
    pthread_barrier_wait(&bar);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int t = 0; t < threads; t++) {
      pthread_join(tid[t], NULL);
      if (jobs[t].t_start < t0) t0 = jobs[t].t_start;
      if (jobs[t].t_end > t1) t1 = jobs[t].t_end;
    }
    uint64_t dt = t1 - t0;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%.1f", (double)dt / (double)(ops * threads));
    if (write(pfd[1], buf, (size_t)n) < 0) _exit(1);
    _exit(0);
  }
  close(pfd[1]);
  char buf[128] = {0};
  ssize_t n = read(pfd[0], buf, sizeof buf - 1);
  close(pfd[0]);
  int st;
  waitpid(pid, &st, 0);
  if (n <= 0) {
    reply("err malloc child");
    return;
  }
  reply("ok {\"ns_per_op\":%s}", buf);
}

static void cmd_fork(long n, size_t size) {
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    reply("err mmap %s", strerror(errno));
    return;
  }
  touch(p, size);
  uint64_t *s = calloc((size_t)n, sizeof *s);
  uint64_t *c = calloc((size_t)n, sizeof *c);
  for (long i = 0; i < n; i++) {
    touch(p, size); /* re-dirty: the parent's pages are write-protected after each fork */
    uint64_t a = now_ns();
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    /* The fork call itself (where a supervisor sits), apart from the child's exit and the
     * reaping, which run wherever the scheduler puts the child. */
    c[i] = now_ns() - a;
    if (pid < 0) {
      reply("err fork %s", strerror(errno));
      munmap(p, size);
      free(s);
      free(c);
      return;
    }
    int st;
    waitpid(pid, &st, 0);
    s[i] = now_ns() - a;
  }
  munmap(p, size);
  char pc[256], pcall[256];
  print_percentiles(pc, sizeof pc, s, (size_t)n);
  print_percentiles(pcall, sizeof pcall, c, (size_t)n);
  reply("ok {\"ns_median\":%llu,\"fork_ns\":%s,\"call_ns\":%s}", (unsigned long long)s[n / 2], pc,
        pcall);
  free(s);
  free(c);
}

static void cmd_sysinfo(long n) {
  uint64_t *c = calloc((size_t)n, sizeof *c);
  struct sysinfo si;
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    uint64_t a = now_ns();
    if (sysinfo(&si) != 0) {
      reply("err sysinfo %s", strerror(errno));
      free(c);
      return;
    }
    c[i] = now_ns() - a;
  }
  uint64_t total = now_ns() - t0;
  char pc[256];
  print_percentiles(pc, sizeof pc, c, (size_t)n);
  reply("ok {\"ns_per_op\":%.1f,\"call_ns\":%s,\"totalram\":%llu}", (double)total / (double)n, pc,
        (unsigned long long)si.totalram * si.mem_unit);
  free(c);
}

static void cmd_readfile(long n, const char *path, long gap_us) {
  uint64_t *c = calloc((size_t)n, sizeof *c);
  char buf[4096];
  long bytes = 0;
  uint64_t t0 = now_ns();
  uint64_t slept = 0;
  for (long i = 0; i < n; i++) {
    if (gap_us > 0) {
      uint64_t z = now_ns();
      usleep((useconds_t)gap_us);
      slept += now_ns() - z;
    }
    uint64_t a = now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      reply("err open %s", strerror(errno));
      free(c);
      return;
    }
    ssize_t got;
    bytes = 0;
    while ((got = read(fd, buf, sizeof buf)) > 0) bytes += got;
    close(fd);
    c[i] = now_ns() - a;
  }
  uint64_t total = now_ns() - t0 - slept;
  char pc[256];
  print_percentiles(pc, sizeof pc, c, (size_t)n);
  reply("ok {\"ns_per_op\":%.1f,\"call_ns\":%s,\"bytes\":%ld}", (double)total / (double)n, pc,
        bytes);
  free(c);
}

static void *return_at_once(void *arg) { return arg; }

static void cmd_threads(long n) {
  uint64_t *s = calloc((size_t)n, sizeof *s);
  uint64_t *c = calloc((size_t)n, sizeof *c);
  for (long i = 0; i < n; i++) {
    pthread_t t;
    uint64_t a = now_ns();
    int rc = pthread_create(&t, NULL, return_at_once, NULL);
    c[i] = now_ns() - a;
    if (rc != 0) {
      reply("err pthread_create %s", strerror(rc));
      free(s);
      free(c);
      return;
    }
    pthread_join(t, NULL);
    s[i] = now_ns() - a;
  }
  char pc[256];
  print_percentiles(pc, sizeof pc, c, (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp_u64);
  reply("ok {\"ns_median\":%llu,\"call_ns\":%s}", (unsigned long long)s[n / 2], pc);
  free(s);
  free(c);
}

static void cmd_spawn(long n, const char *path) {
  uint64_t *s = calloc((size_t)n, sizeof *s);
  for (long i = 0; i < n; i++) {
    uint64_t a = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, 1);
      char *argv[] = {(char *)path, NULL};
      execv(path, argv);
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    s[i] = now_ns() - a;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      reply("err spawn status %d", st);
      free(s);
      return;
    }
  }
  char pc[256];
  print_percentiles(pc, sizeof pc, s, (size_t)n);
  reply("ok {\"ns_median\":%llu,\"spawn_ns\":%s}", (unsigned long long)s[n / 2], pc);
  free(s);
}

/* N x (sbrk(+SIZE), touch the first new page, sbrk(-SIZE)): two trapped brk calls each. */
static void cmd_sbrk(long n, size_t size) {
  uint64_t *s = calloc((size_t)n, sizeof *s);
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    uint64_t a = now_ns();
    char *p = sbrk((intptr_t)size);
    uint64_t b = now_ns();
    if (p == (char *)-1) {
      reply("err sbrk %s", strerror(errno));
      free(s);
      return;
    }
    s[i] = b - a;
    p[0] = 1;
    if (sbrk(-(intptr_t)size) == (void *)-1) {
      reply("err sbrk- %s", strerror(errno));
      free(s);
      return;
    }
  }
  uint64_t total = now_ns() - t0;
  char pc[256];
  print_percentiles(pc, sizeof pc, s, (size_t)n);
  reply("ok {\"ns_per_op\":%.1f,\"call_ns\":%s}", (double)total / (double)n, pc);
  free(s);
}

static void cmd_waitfile(const char *path) {
  struct timespec d = {0, 20 * 1000 * 1000};
  while (access(path, F_OK) != 0) nanosleep(&d, NULL);
  reply("ok {}");
}

static int run_line(char *line) {
  char *argv[MAX_ARGS];
  int argc = 0;
  for (char *tok = strtok(line, " \t\r\n"); tok && argc < MAX_ARGS; tok = strtok(NULL, " \t\r\n"))
    argv[argc++] = tok;
  if (argc == 0) return 0;
  const char *c = argv[0];
  size_t sz;
  if (!strcmp(c, "echo")) {
    reply("ok %s", argc > 1 ? argv[1] : "");
  } else if (!strcmp(c, "exit")) {
    reply("ok");
    return 1;
  } else if ((!strcmp(c, "mmap") || !strcmp(c, "lat")) && (argc == 3 || argc == 4) &&
             !parse_size(argv[2], &sz)) {
    touch_bytes = argc == 4 ? (size_t)atol(argv[3]) * (size_t)page_bytes : sz;
    cmd_mmap(atol(argv[1]), sz, c[0] == 'l');
  } else if (!strcmp(c, "fill") && argc == 2) {
    cmd_fill(atol(argv[1]));
  } else if (!strcmp(c, "unfill")) {
    if (fill_addr) munmap(fill_addr, fill_len);
    fill_addr = NULL;
    reply("ok {\"data_pages\":%ld}", statm_data_pages());
  } else if (!strcmp(c, "malloc") && argc == 4) {
    cmd_malloc(atol(argv[1]), atoi(argv[2]), atol(argv[3]));
  } else if (!strcmp(c, "fork") && argc == 3 && !parse_size(argv[2], &sz)) {
    cmd_fork(atol(argv[1]), sz);
  } else if (!strcmp(c, "sysinfo") && argc == 2 && atol(argv[1]) > 0) {
    cmd_sysinfo(atol(argv[1]));
  } else if (!strcmp(c, "readfile") && (argc == 3 || argc == 4) && atol(argv[1]) > 0) {
    cmd_readfile(atol(argv[1]), argv[2], argc == 4 ? atol(argv[3]) : 0);
  } else if (!strcmp(c, "threads") && argc == 2 && atol(argv[1]) > 0) {
    cmd_threads(atol(argv[1]));
  } else if (!strcmp(c, "spawn") && argc == 3) {
    cmd_spawn(atol(argv[1]), argv[2]);
  } else if (!strcmp(c, "sbrk") && argc == 3 && !parse_size(argv[2], &sz)) {
    cmd_sbrk(atol(argv[1]), sz);
  } else if (!strcmp(c, "waitfile") && argc == 2) {
    cmd_waitfile(argv[1]);
  } else if (!strcmp(c, "statm")) {
    reply("ok {\"data_pages\":%ld}", statm_data_pages());
  } else {
    reply("err EINVAL");
  }
  return 0;
}

int main(int argc, char **argv) {
  page_bytes = sysconf(_SC_PAGESIZE);
  if (argc > 1) {
    for (int i = 1; i < argc; i++) {
      char buf[4096];
      snprintf(buf, sizeof buf, "%s", argv[i]);
      if (run_line(buf)) break;
    }
    return 0;
  }
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    if (run_line(line)) break;
  }
  return 0;
}
