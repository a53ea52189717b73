/* ubc-probe: a static test program run inside the integration-test containers.
 *
 * It performs one memory operation per command and prints exactly one result line per
 * command ("ok ..." or "err ERRNO_NAME"), flushed at once, so a test can drive it over a
 * pipe and observe what ubcd answered. The one exception is a successful `exec`: the new
 * image answers the next command instead.
 *
 * Commands come from stdin, one per line, or from argv when arguments are given (then
 * they run in order and the probe exits). In argv mode an argument containing a space is
 * one whole command line; otherwise arguments are grouped by each command's arity
 * ("mmap 16M statm mmap 128M statm").
 *
 * Commands (SIZE: bytes, or a K/M/G/T suffix = powers of 1024, P = pages, B = bytes):
 *   mmap SIZE                anon private RW, every page touched     -> ok ADDR
 *   mmap-ro SIZE             anon private read-only                  -> ok ADDR
 *   mmap-prot-none SIZE      anon private PROT_NONE                  -> ok ADDR
 *   mmap-shared-anon SIZE    MAP_SHARED|MAP_ANONYMOUS RW, touched    -> ok ADDR
 *   mmap-shared-file SIZE    unlinked /tmp file, MAP_SHARED RW, touched
 *   mmap-private-file-ro SIZE / mmap-private-file-rw SIZE  (MAP_PRIVATE file mappings)
 *   mmap-fixed SIZE          anon private RW MAP_FIXED at the last mapping's start
 *   munmap | munmap-all      the last mapping | every mapping made   -> ok
 *   mremap NEWSIZE           last mapping, MREMAP_MAYMOVE, new part touched -> ok ADDR
 *   mprotect-rw | mprotect-ro  the last mapping                      -> ok
 *   sbrk [-]SIZE             raw sbrk (grown part touched)           -> ok | err ENOMEM
 *   brk-now                  current program break                   -> ok ADDR
 *   malloc SIZE              malloc + touch (default glibc tuning)   -> ok ADDR | err ENOMEM
 *   malloc-small-loop COUNT SIZE  malloc until COUNT or the first NULL
 *                            -> ok N OUTSIDE_BRK (blocks not in the brk heap)
 *   fork                     child _exit(0)s at once; parent waits   -> ok | err ERRNO
 *   fork-hold | kill-children  keep a sleeping child | kill them all -> ok PID | ok N
 *   threads N SIZE           N threads (64 KiB stacks) start at a barrier, each mmaps SIZE
 *                            -> ok GRANTED DENIED DATA_BEFORE (statm data once all threads
 *                               exist, before any maps)
 *   mmap-for MS SIZE         mmap + touch + munmap in a loop for MS milliseconds
 *                            -> ok CALLS ENOMEM ENOSYS OTHER (counts of each outcome)
 *   mmap-signals MS SIZE     mmap-for while another thread signals this one (SA_RESTART)
 *                            without pause: trapped calls are interrupted while ubcd decides
 *                            -> ok CALLS ENOMEM ENOSYS OTHER SIGNALS
 *   mmap-len HEXLEN          raw anon private RW mmap of any length (e.g. near 2^64)
 *                            -> ok ADDR | err ERRNO (nothing touched)
 *   seccomp-allow            installs an extra allow-all seccomp filter of its own -> ok
 *   fork-bomb N SIZE         N children at once, each mmaps + touches SIZE, then exits
 *                            -> ok FORKED FORK_FAILED CHILD_MMAP_FAILED
 *   open-files N             opens /dev/null N more times and keeps the fds -> ok N
 *   close-files              closes every fd open-files opened       -> ok N
 *   threads-exit N           N threads each mmap 64 KiB and exit at once (untouched,
 *                            unmapped by nobody) -> ok N
 *   i386-works               whether `int $0x80` works here (tried in a child: a machine
 *                            without ia32 emulation for user space faults it)
 *                            -> ok yes | ok no signal N | ok no exit N
 *   i386-mmap2 SIZE          mmap2 through `int $0x80` (the i386 ABI), anon private RW,
 *                            every page touched                      -> ok ADDR | err ERRNO
 *   i386-old-mmap SIZE       i386 old_mmap (arguments in memory below 4 GiB), anon private RW
 *                            -> ok ADDR | err ERRNO (touched when it succeeds)
 *   i386-mprotect-rw         i386 mprotect RW of the last mapping below 4 GiB, touched -> ok
 *   pkey-mprotect-rw         pkey_mprotect(last mapping, RW, pkey -1), then touched -> ok
 *   growsdown SIZE           MAP_GROWSDOWN read-only mapping, then mprotect of its top page
 *                            with PROT_WRITE|PROT_GROWSDOWN, then every page touched
 *                            -> ok ADDR | err ERRNO
 *   rlimit-data SIZE|inf     setrlimit(RLIMIT_DATA) soft (hard kept; inf: as high as the
 *                            hard limit allows)                      -> ok | err ERRNO
 *   rlimit-stack SIZE|inf    the same for RLIMIT_STACK                 -> ok | err ERRNO
 *   rlimit-raise data|stack  setrlimit to unlimited, soft and hard   -> ok | err ERRNO
 *   stack-grow SIZE          a child grows its main stack by SIZE (touching each page
 *                            on the way down), then exits
 *                            -> ok grown MAX_DATA_PAGES | ok signal N MAX_DATA_PAGES
 *   growsdown-grow SIZE      a child maps one RW MAP_GROWSDOWN page (with SIZE free below
 *                            it) and touches down SIZE below it, then exits
 *                            -> ok grown MAX_DATA_PAGES | ok signal N MAX_DATA_PAGES
 *   shmget SIZE              SysV shmget(IPC_PRIVATE, SIZE, IPC_CREAT|0600), not attached
 *                            -> ok SHMID | err ERRNO
 *   shmget-key KEY SIZE      shmget(KEY, SIZE, IPC_CREAT|0600)        -> ok SHMID | err ERRNO
 *   shm-open KEY             shmget(KEY, 0, 0600): an existing segment -> ok SHMID | err ERRNO
 *   shmrm SHMID              shmctl(IPC_RMID)                        -> ok | err ERRNO
 *   memfd SIZE               memfd_create + SIZE bytes written (shared pages; the fd is
 *                            kept open)                              -> ok | err ERRNO
 *   fixed-race MS SIZE       for MS ms one thread moves a SIZE region back and forth with
 *                            mremap(MREMAP_FIXED) while another maps over its first place
 *                            with MAP_FIXED; the main thread samples statm data
 *                            -> ok MAX_DATA_PAGES FIXED_GRANTED FIXED_REFUSED
 *   mmap-locked SIZE | mmap-locked-ro SIZE  anon private MAP_LOCKED, RW (touched) or
 *                            read-only                               -> ok ADDR | err ERRNO
 *   mlock | mlock2-onfault | munlock  the last mapping, whole        -> ok | err ERRNO
 *   i386-mlock               i386 mlock (150) of the last mapping below 4 GiB -> ok | err ERRNO
 *   mlockall current|future|current+future|current+onfault|...  mlockall(2) -> ok | err ERRNO
 *   munlockall               -> ok | err ERRNO
 *   shmlock SHMID | shmunlock SHMID  shmctl(SHM_LOCK / SHM_UNLOCK)    -> ok | err ERRNO
 *   vmlck                    VmLck of /proc/self/status, in pages    -> ok PAGES
 *   sysinfo                  sysinfo(2)  -> ok TOTALRAM_PAGES FREERAM_PAGES PROCS UPTIME_S
 *                            TOTALSWAP_PAGES (memory in 4 KiB pages, mem_unit applied)
 *   sysinfo-bad              sysinfo(2) of the address 8             -> err ERRNO
 *   sysinfo-ro               sysinfo(2) into a read-only page        -> err ERRNO (untouched),
 *                            ok written (the kernel would never write there)
 *   i386-sysinfo             sysinfo through `int $0x80` into a buffer below 4 GiB
 *                            -> ok TOTALRAM_PAGES FREERAM_PAGES MEM_UNIT | err ERRNO
 *   sysconf                  sysconf(_SC_PHYS_PAGES), (_SC_AVPHYS_PAGES) -> ok PHYS AVPHYS
 *   statm                    field 6 of /proc/self/statm             -> ok DATA_PAGES
 *   pid | sleep MS | echo TEXT -> ok PID | ok | ok TEXT
 *   exec PATH ARGS...        execv (execvp without a '/'): no reply on success
 *   exit                     -> ok, then exit 0
 * Unknown command or bad argument -> err EINVAL. Errno names: ENOMEM ENOSYS EINVAL EPERM
 * EAGAIN ENOENT EFAULT, other errors as the number.
 *
 * stdin is read with read(2) one byte at a time on purpose: `exec` replaces the process
 * and the new image must find the rest of stdin unconsumed.
 *
 * Single-threaded except for `threads`; no locking needed elsewhere.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64
#define MAX_LINE 4096
#define MAX_MAPPINGS 4096
#define MAX_CHILDREN 256

static long page_size_bytes;
/* Start of the brk heap ("[heap]" in /proc/self/maps at start-up; glibc's
 * static start-up code has already used the heap before main()). */
static char *heap_start;

struct mapping {
  char *addr;
  size_t len_bytes;
  int prot;
};

static struct mapping mappings[MAX_MAPPINGS];
static int mapping_count;

static pid_t held_children[MAX_CHILDREN];
static int held_child_count;

static const char *errno_name(int e) {
  static char buf[32];
  switch (e) {
    case ENOMEM:
      return "ENOMEM";
    case ENOSYS:
      return "ENOSYS";
    case EINVAL:
      return "EINVAL";
    case EPERM:
      return "EPERM";
    case EAGAIN:
      return "EAGAIN";
    case ENOENT:
      return "ENOENT";
    case EFAULT:
      return "EFAULT";
    case ENOSPC:
      return "ENOSPC";
    default:
      snprintf(buf, sizeof buf, "%d", e);
      return buf;
  }
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

static void reply_err(int e) { reply("err %s", errno_name(e)); }

/* Parses "123", "4K", "16M", "1G", "2T", "10P" (pages), "100B" (bytes).
 * Returns 0 on success. */
static int parse_size(const char *s, size_t *out_bytes) {
  if (s == NULL || *s == '\0') return -1;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s) return -1;
  unsigned long long mult = 1;
  if (*end != '\0') {
    switch (toupper((unsigned char)*end)) {
      case 'B':
        mult = 1;
        break;
      case 'K':
        mult = 1ULL << 10;
        break;
      case 'M':
        mult = 1ULL << 20;
        break;
      case 'G':
        mult = 1ULL << 30;
        break;
      case 'T':
        mult = 1ULL << 40;
        break;
      case 'P':
        mult = (unsigned long long)page_size_bytes;
        break;
      default:
        return -1;
    }
    if (end[1] != '\0') return -1;
  }
  *out_bytes = (size_t)(v * mult);
  return 0;
}

static void touch_write(char *p, size_t len_bytes) {
  for (size_t off = 0; off < len_bytes; off += (size_t)page_size_bytes) p[off] = 1;
}

static unsigned long touch_read(const char *p, size_t len_bytes) {
  unsigned long sum = 0;
  for (size_t off = 0; off < len_bytes; off += (size_t)page_size_bytes)
    sum += (unsigned char)((volatile const char *)p)[off];
  return sum;
}

static void remember(char *addr, size_t len_bytes, int prot) {
  if (mapping_count < MAX_MAPPINGS) {
    mappings[mapping_count].addr = addr;
    mappings[mapping_count].len_bytes = len_bytes;
    mappings[mapping_count].prot = prot;
    mapping_count++;
  }
}

static struct mapping *last_mapping(void) {
  return mapping_count > 0 ? &mappings[mapping_count - 1] : NULL;
}

/* Creates an unlinked temp file in /tmp of the given size; returns its fd. */
static int make_temp_file(size_t len_bytes) {
  char path[] = "/tmp/ubc-probe-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  if (ftruncate(fd, (off_t)len_bytes) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* open/read into a stack buffer, not stdio: measuring must not move the heap. */
static int read_statm_data_pages(long *out_pages) {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int e = errno;
  close(fd);
  if (n <= 0) {
    errno = n < 0 ? e : EIO;
    return -1;
  }
  buf[n] = '\0';
  long size, resident, shared, text, lib, data;
  if (sscanf(buf, "%ld %ld %ld %ld %ld %ld", &size, &resident, &shared, &text, &lib, &data) != 6) {
    errno = EIO;
    return -1;
  }
  *out_pages = data;
  return 0;
}

static char *find_heap_start(void) {
  char *start = sbrk(0);
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return start;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strstr(line, "[heap]") != NULL) {
      unsigned long lo;
      if (sscanf(line, "%lx-", &lo) == 1) start = (char *)lo;
      break;
    }
  }
  fclose(f);
  return start;
}

/* ---- commands ---------------------------------------------------------- */

static void cmd_mmap_anon(size_t len_bytes, int prot, int flags) {
  char *p = mmap(NULL, len_bytes, prot, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  if (prot & PROT_WRITE)
    touch_write(p, len_bytes);
  else if (prot & PROT_READ)
    (void)touch_read(p, len_bytes);
  remember(p, len_bytes, prot);
  reply("ok %p", (void *)p);
}

static void cmd_mmap_file(size_t len_bytes, int prot, int flags) {
  int fd = make_temp_file(len_bytes);
  if (fd < 0) {
    reply_err(errno);
    return;
  }
  char *p = mmap(NULL, len_bytes, prot, flags, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) {
    reply_err(e);
    return;
  }
  if (prot & PROT_WRITE)
    touch_write(p, len_bytes);
  else
    (void)touch_read(p, len_bytes);
  remember(p, len_bytes, prot);
  reply("ok %p", (void *)p);
}

static void cmd_mmap_fixed(size_t len_bytes) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  int prot = PROT_READ | PROT_WRITE;
  char *p = mmap(m->addr, len_bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  touch_write(p, len_bytes);
  if (len_bytes > m->len_bytes) m->len_bytes = len_bytes;
  m->prot = prot;
  reply("ok %p", (void *)p);
}

static void cmd_munmap(void) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  if (munmap(m->addr, m->len_bytes) != 0) {
    reply_err(errno);
    return;
  }
  mapping_count--;
  reply("ok");
}

static void cmd_munmap_all(void) {
  int failed_errno = 0;
  while (mapping_count > 0) {
    struct mapping *m = last_mapping();
    if (munmap(m->addr, m->len_bytes) != 0 && failed_errno == 0) failed_errno = errno;
    mapping_count--;
  }
  if (failed_errno != 0)
    reply_err(failed_errno);
  else
    reply("ok");
}

static void cmd_mremap(size_t new_len_bytes) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  char *p = mremap(m->addr, m->len_bytes, new_len_bytes, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  if (new_len_bytes > m->len_bytes && (m->prot & PROT_WRITE))
    touch_write(p + m->len_bytes, new_len_bytes - m->len_bytes);
  m->addr = p;
  m->len_bytes = new_len_bytes;
  reply("ok %p", (void *)p);
}

static void cmd_mprotect_rw(void) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  if (mprotect(m->addr, m->len_bytes, PROT_READ | PROT_WRITE) != 0) {
    reply_err(errno);
    return;
  }
  m->prot = PROT_READ | PROT_WRITE;
  touch_write(m->addr, m->len_bytes);
  reply("ok");
}

static void cmd_mprotect_ro(void) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  if (mprotect(m->addr, m->len_bytes, PROT_READ) != 0) {
    reply_err(errno);
    return;
  }
  m->prot = PROT_READ;
  reply("ok");
}

/* An i386 system call from this 64-bit process: `int $0x80` takes the 32-bit ABI's
 * numbers and registers (ebx, ecx, edx, esi, edi, ebp) where ia32 emulation is on. */
static long i386_syscall(long nr, long a, long b, long c, long d, long e) {
  long ret;
  /* ebp (the sixth argument) is zero for every call made here. */
  __asm__ volatile(
      "push %%rbp\n\t"
      "xor %%ebp, %%ebp\n\t"
      "int $0x80\n\t"
      "pop %%rbp"
      : "=a"(ret)
      : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
      : "memory", "r8", "r9", "r10", "r11");
  /* The kernel returns a 32-bit value: sign-extend errors. */
  return (long)(int)ret == ret ? ret : (long)(int32_t)ret;
}

static void reply_i386_result(long ret, size_t len_bytes, int prot) {
  if (ret < 0 && ret > -4096) {
    reply_err((int)-ret);
    return;
  }
  char *p = (char *)(uintptr_t)(unsigned long)(uint32_t)ret;
  remember(p, len_bytes, prot);
  touch_write(p, len_bytes);
  reply("ok %p", (void *)p);
}

static void cmd_i386_works(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    reply_err(errno);
    return;
  }
  if (pid == 0) _exit(i386_syscall(20 /* getpid */, 0, 0, 0, 0, 0) == getpid() ? 0 : 1);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    reply("ok yes");
  else if (WIFSIGNALED(status))
    reply("ok no signal %d", WTERMSIG(status));
  else
    reply("ok no exit %d", WEXITSTATUS(status));
}

static void cmd_i386_mmap2(size_t len_bytes) {
  reply_i386_result(i386_syscall(192, 0, (long)len_bytes, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1),
                    len_bytes, PROT_READ | PROT_WRITE);
}

static void cmd_i386_old_mmap(size_t len_bytes) {
  /* The six 32-bit arguments must be addressable with a 32-bit pointer. */
  uint32_t *args =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (args == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  args[0] = 0;
  args[1] = (uint32_t)len_bytes;
  args[2] = PROT_READ | PROT_WRITE;
  args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
  args[4] = (uint32_t)-1;
  args[5] = 0;
  /* Registers that a rule on mmap's x86-64 arguments would read: all clear. */
  long ret = i386_syscall(90, (long)(uintptr_t)args, 0, 0, 0, 0);
  munmap(args, 4096);
  reply_i386_result(ret, len_bytes, PROT_READ | PROT_WRITE);
}

static void cmd_i386_mlock(void) {
  struct mapping *m = NULL;
  for (int i = mapping_count - 1; i >= 0 && m == NULL; i--)
    if ((uintptr_t)mappings[i].addr <= 0xffffffffu) m = &mappings[i];
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  long ret = i386_syscall(150, (long)(uintptr_t)m->addr, (long)m->len_bytes, 0, 0, 0);
  if (ret < 0 && ret > -4096)
    reply_err((int)-ret);
  else
    reply("ok");
}

static void cmd_i386_sysinfo(void) {
  /* compat_sysinfo: 32-bit fields, 64 bytes. */
  uint32_t *buf =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (buf == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  long ret = i386_syscall(116, (long)(uintptr_t)buf, 0, 0, 0, 0);
  if (ret < 0 && ret > -4096) {
    reply_err((int)-ret);
  } else {
    unsigned long long unit = buf[13] ? buf[13] : 1;
    reply("ok %llu %llu %u", (unsigned long long)buf[4] * unit / 4096,
          (unsigned long long)buf[5] * unit / 4096, buf[13]);
  }
  munmap(buf, 4096);
}

static void cmd_i386_mprotect_rw(void) {
  struct mapping *m = NULL;
  for (int i = mapping_count - 1; i >= 0 && m == NULL; i--)
    if ((uintptr_t)mappings[i].addr <= 0xffffffffu) m = &mappings[i];
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  long ret =
      i386_syscall(125, (long)(uintptr_t)m->addr, (long)m->len_bytes, PROT_READ | PROT_WRITE, 0, 0);
  if (ret != 0) {
    reply_err((int)-ret);
    return;
  }
  m->prot = PROT_READ | PROT_WRITE;
  touch_write(m->addr, m->len_bytes);
  reply("ok");
}

static void cmd_pkey_mprotect_rw(void) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  if (syscall(SYS_pkey_mprotect, m->addr, m->len_bytes, PROT_READ | PROT_WRITE, -1) != 0) {
    reply_err(errno);
    return;
  }
  m->prot = PROT_READ | PROT_WRITE;
  touch_write(m->addr, m->len_bytes);
  reply("ok");
}

static void cmd_growsdown(size_t len_bytes) {
  char *p = mmap(NULL, len_bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
  if (p == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  remember(p, len_bytes, PROT_READ);
  char *top = p + len_bytes - (size_t)page_size_bytes;
  if (mprotect(top, (size_t)page_size_bytes, PROT_READ | PROT_WRITE | PROT_GROWSDOWN) != 0) {
    reply_err(errno);
    return;
  }
  mappings[mapping_count - 1].prot = PROT_READ | PROT_WRITE;
  touch_write(p, len_bytes);
  reply("ok %p", (void *)p);
}

struct race {
  char *x, *y;
  size_t len_bytes;
  atomic_int stop;
  long fixed_granted, fixed_refused;
};

static void *race_mover(void *arg) {
  struct race *r = arg;
  while (!atomic_load(&r->stop)) {
    /* Same size: nothing to charge, so nothing reserved for the call. */
    if (mremap(r->x, r->len_bytes, r->len_bytes, MREMAP_MAYMOVE | MREMAP_FIXED, r->y) != MAP_FAILED)
      mremap(r->y, r->len_bytes, r->len_bytes, MREMAP_MAYMOVE | MREMAP_FIXED, r->x);
  }
  return NULL;
}

static void *race_fixer(void *arg) {
  struct race *r = arg;
  while (!atomic_load(&r->stop)) {
    if (mmap(r->x, r->len_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0) == MAP_FAILED)
      r->fixed_refused++;
    else
      r->fixed_granted++;
  }
  return NULL;
}

static void cmd_fixed_race(long ms, size_t len_bytes) {
  /* x and y inside one PROT_NONE reservation, so nothing else lands between them. */
  char *base = mmap(NULL, 3 * len_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  struct race r = {base, base + 2 * len_bytes, len_bytes, 0, 0, 0};
  if (mmap(r.x, len_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
           0) == MAP_FAILED) {
    reply_err(errno);
    munmap(base, 3 * len_bytes);
    return;
  }
  pthread_t mover, fixer;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024); /* room for the race, not for 8 MiB stacks */
  int rc = pthread_create(&mover, &attr, race_mover, &r);
  if (rc == 0 && (rc = pthread_create(&fixer, &attr, race_fixer, &r)) != 0) {
    atomic_store(&r.stop, 1);
    pthread_join(mover, NULL);
  }
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    munmap(base, 3 * len_bytes);
    reply_err(rc);
    return;
  }
  long max_data = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    long data = 0;
    if (read_statm_data_pages(&data) == 0 && data > max_data) max_data = data;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
  atomic_store(&r.stop, 1);
  pthread_join(mover, NULL);
  pthread_join(fixer, NULL);
  munmap(base, 3 * len_bytes);
  reply("ok %ld %ld %ld", max_data, r.fixed_granted, r.fixed_refused);
}

static void cmd_rlimit_soft(int resource, const char *arg) {
  /* Raising the hard limit needs CAP_SYS_RESOURCE: only the soft one moves, and "inf"
   * takes it as high as an unprivileged process can, to the hard limit. */
  struct rlimit rl;
  getrlimit(resource, &rl);
  size_t len_bytes;
  if (strcmp(arg, "inf") == 0) {
    rl.rlim_cur = rl.rlim_max;
  } else if (parse_size(arg, &len_bytes) == 0) {
    rl.rlim_cur = len_bytes;
  } else {
    reply_err(EINVAL);
    return;
  }
  if (setrlimit(resource, &rl) != 0) {
    reply_err(errno);
    return;
  }
  reply("ok");
}

static void cmd_rlimit_raise(const char *arg) {
  int resource = strcmp(arg, "data") == 0    ? RLIMIT_DATA
                 : strcmp(arg, "stack") == 0 ? RLIMIT_STACK
                                             : -1;
  if (resource < 0) {
    reply_err(EINVAL);
    return;
  }
  struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(resource, &rl) != 0) {
    reply_err(errno);
    return;
  }
  reply("ok");
}

/* The growth commands run in a child, which the kernel may kill (SIGSEGV at the stack's
 * bound) without the probe going with it. The child sends its largest statm data. */
static int grow_pipe = -1;
static long grow_max_data;

static void note_grow_data(void) {
  long data;
  if (read_statm_data_pages(&data) == 0 && data > grow_max_data) {
    grow_max_data = data;
    /* Sent at once: a SIGSEGV leaves no chance to send it later. */
    if (write(grow_pipe, &data, sizeof data) != (ssize_t)sizeof data) _exit(4);
  }
}

#define STACK_FRAME_BYTES 65536
static void grow_stack(size_t left_bytes) {
  volatile char frame[STACK_FRAME_BYTES];
  for (size_t i = 0; i < sizeof frame; i += (size_t)page_size_bytes) frame[i] = 1;
  note_grow_data();
  if (left_bytes > sizeof frame) grow_stack(left_bytes - sizeof frame);
  frame[0] = frame[1]; /* no tail call: every frame stays on the stack */
}

static void grow_growsdown(size_t len_bytes) {
  /* Room below the page: reserve len + 2 MiB (more than the guard gap), map the page at
   * its top. */
  size_t room = len_bytes + ((size_t)2 << 20);
  char *r = mmap(NULL, room, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) _exit(2);
  munmap(r, room);
  char *top = r + room - (size_t)page_size_bytes;
  char *p = mmap(top, (size_t)page_size_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) _exit(3);
  for (size_t off = 0; off <= len_bytes; off += (size_t)page_size_bytes) {
    p[-(long)off] = 1;
    if (off % ((size_t)1 << 20) == 0) note_grow_data();
  }
  note_grow_data();
}

static void cmd_grow(int growsdown, size_t len_bytes) {
  int fds[2];
  if (pipe(fds) != 0) {
    reply_err(errno);
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    reply_err(errno);
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    grow_pipe = fds[1];
    grow_max_data = 0;
    note_grow_data();
    if (growsdown)
      grow_growsdown(len_bytes);
    else
      grow_stack(len_bytes);
    _exit(0);
  }
  close(fds[1]);
  long data, max_data = 0;
  while (read(fds[0], &data, sizeof data) == (ssize_t)sizeof data) max_data = data;
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    reply("ok signal %d %ld", WTERMSIG(status), max_data);
  } else if (WEXITSTATUS(status) != 0) {
    reply_err(EIO);
  } else {
    reply("ok grown %ld", max_data);
  }
}

static int memfd_fd = -1;

static void cmd_memfd(size_t len_bytes) {
  if (memfd_fd < 0) memfd_fd = (int)syscall(SYS_memfd_create, "ubc-probe", 0);
  if (memfd_fd < 0) {
    reply_err(errno);
    return;
  }
  static char chunk[1 << 16]; /* small: the probe's own data is part of what tests count */
  memset(chunk, 0x5a, sizeof chunk);
  for (size_t done = 0; done < len_bytes;) {
    size_t n = len_bytes - done < sizeof chunk ? len_bytes - done : sizeof chunk;
    ssize_t w = write(memfd_fd, chunk, n);
    if (w < 0) {
      reply_err(errno);
      return;
    }
    done += (size_t)w;
  }
  reply("ok");
}

/* SysV shm: a new segment (IPC_PRIVATE, or KEY with IPC_CREAT), opening an
 * existing key, removal. Nothing is attached: shmpages counts segments. */
static void cmd_shmget(long key, size_t len_bytes, int flags) {
  int id = shmget((key_t)key, len_bytes, flags | 0600);
  if (id < 0)
    reply_err(errno);
  else
    reply("ok %d", id);
}

static void cmd_shmctl_lock(long id, int cmd) {
  if (shmctl((int)id, cmd, NULL) < 0)
    reply_err(errno);
  else
    reply("ok");
}

/* The last mapping, or EINVAL when there is none. */
static void cmd_lock_last(const char *what) {
  struct mapping *m = last_mapping();
  if (m == NULL) {
    reply_err(EINVAL);
    return;
  }
  long ret;
  if (strcmp(what, "mlock") == 0)
    ret = mlock(m->addr, m->len_bytes);
  else if (strcmp(what, "mlock2-onfault") == 0)
    ret = syscall(SYS_mlock2, m->addr, m->len_bytes, 1 /* MLOCK_ONFAULT */);
  else
    ret = munlock(m->addr, m->len_bytes);
  if (ret != 0)
    reply_err(errno);
  else
    reply("ok");
}

static void cmd_mlockall(const char *arg) {
  int flags = 0;
  char buf[64];
  snprintf(buf, sizeof buf, "%s", arg);
  for (char *save = NULL, *t = strtok_r(buf, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
    if (strcmp(t, "current") == 0)
      flags |= MCL_CURRENT;
    else if (strcmp(t, "future") == 0)
      flags |= MCL_FUTURE;
    else if (strcmp(t, "onfault") == 0)
      flags |= MCL_ONFAULT;
    else {
      reply_err(EINVAL);
      return;
    }
  }
  if (mlockall(flags) != 0)
    reply_err(errno);
  else
    reply("ok");
}

static void cmd_sysinfo(void) {
  struct sysinfo si;
  if (sysinfo(&si) != 0) {
    reply_err(errno);
    return;
  }
  unsigned long long unit = si.mem_unit ? si.mem_unit : 1;
  reply("ok %llu %llu %u %ld %llu", (unsigned long long)si.totalram * unit / 4096,
        (unsigned long long)si.freeram * unit / 4096, (unsigned)si.procs, (long)si.uptime,
        (unsigned long long)si.totalswap * unit / 4096);
}

static void cmd_vmlck(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) {
    reply_err(errno);
    return;
  }
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "VmLck: %ld kB", &kb) == 1) break;
  }
  fclose(f);
  if (kb < 0)
    reply_err(ENOENT);
  else
    reply("ok %ld", kb / 4);
}

static void cmd_shmrm(long id) {
  if (shmctl((int)id, IPC_RMID, NULL) < 0)
    reply_err(errno);
  else
    reply("ok");
}

static void cmd_sbrk(const char *arg) {
  int negative = (arg[0] == '-');
  size_t len_bytes;
  if (parse_size(negative ? arg + 1 : arg, &len_bytes) != 0) {
    reply_err(EINVAL);
    return;
  }
  intptr_t delta = negative ? -(intptr_t)len_bytes : (intptr_t)len_bytes;
  errno = 0;
  void *old = sbrk(delta);
  if (old == (void *)-1) {
    reply_err(errno != 0 ? errno : ENOMEM);
    return;
  }
  if (!negative) touch_write((char *)old, len_bytes);
  reply("ok");
}

static void cmd_brk_now(void) { reply("ok %p", sbrk(0)); }

static void cmd_malloc(size_t len_bytes) {
  char *p = malloc(len_bytes);
  if (p == NULL) {
    reply_err(ENOMEM);
    return;
  }
  touch_write(p, len_bytes);
  reply("ok %p", (void *)p);
}

/* Allocates COUNT blocks of SIZE (touching each) until the first failure.
 * Reports "ok N OUTSIDE_BRK": how many succeeded, and how many of those lie
 * outside the brk heap (glibc's mmap fallback after a refused brk, or blocks
 * above the mmap threshold). */
static void cmd_malloc_small_loop(long count, size_t len_bytes) {
  long ok_count = 0, outside_brk = 0;
  for (long i = 0; i < count; i++) {
    char *p = malloc(len_bytes);
    if (p == NULL) break;
    touch_write(p, len_bytes);
    ok_count++;
    char *brk_now = sbrk(0);
    if (p < heap_start || p + len_bytes > brk_now) outside_brk++;
  }
  reply("ok %ld %ld", ok_count, outside_brk);
}

static void cmd_fork(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    reply_err(errno);
    return;
  }
  if (pid == 0) _exit(0);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  reply("ok");
}

static void cmd_fork_hold(void) {
  if (held_child_count >= MAX_CHILDREN) {
    reply_err(EAGAIN);
    return;
  }
  fflush(stdout);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    reply_err(errno);
    return;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    for (;;) pause();
  }
  held_children[held_child_count++] = pid;
  reply("ok %d", (int)pid);
}

static void kill_children_quietly(void) {
  for (int i = 0; i < held_child_count; i++) kill(held_children[i], SIGKILL);
  for (int i = 0; i < held_child_count; i++) {
    int status;
    while (waitpid(held_children[i], &status, 0) < 0 && errno == EINTR) {
    }
  }
  held_child_count = 0;
}

static void cmd_kill_children(void) {
  int n = held_child_count;
  kill_children_quietly();
  reply("ok %d", n);
}

struct thread_arg {
  pthread_barrier_t *started;
  pthread_barrier_t *go;
  size_t len_bytes;
  int granted;
  int err;
};

static void *thread_main(void *opaque) {
  struct thread_arg *a = opaque;
  pthread_barrier_wait(a->started);
  pthread_barrier_wait(a->go);
  char *p = mmap(NULL, a->len_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    a->granted = 0;
    a->err = errno;
  } else {
    touch_write(p, a->len_bytes);
    a->granted = 1;
  }
  return NULL;
}

/* N threads start together and each mmaps SIZE. Prints
 * "ok GRANTED DENIED DATA_BEFORE" where DATA_BEFORE is statm data (pages) after
 * every thread (and its stack) exists and before any of them maps. Thread
 * stacks are 64 KiB so that they barely move the counter. */
static void cmd_threads(long n, size_t len_bytes) {
  if (n <= 0 || n > 1024) {
    reply_err(EINVAL);
    return;
  }
  pthread_t *tids = calloc((size_t)n, sizeof *tids);
  struct thread_arg *args = calloc((size_t)n, sizeof *args);
  if (tids == NULL || args == NULL) {
    free(tids);
    free(args);
    reply_err(ENOMEM);
    return;
  }
  pthread_barrier_t started, go;
  pthread_barrier_init(&started, NULL, (unsigned)n + 1);
  pthread_barrier_init(&go, NULL, (unsigned)n + 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (long i = 0; i < n; i++) {
    args[i].started = &started;
    args[i].go = &go;
    args[i].len_bytes = len_bytes;
    int rc = pthread_create(&tids[i], &attr, thread_main, &args[i]);
    if (rc != 0) {
      /* Cannot complete the barrier any more: the started threads would hang.
       * Report and exit; a test treats this as a failure of its setup. */
      reply("err %s", errno_name(rc));
      _exit(3);
    }
  }
  pthread_attr_destroy(&attr);
  pthread_barrier_wait(&started);
  long data_before = -1;
  (void)read_statm_data_pages(&data_before);
  pthread_barrier_wait(&go);
  int granted = 0, denied = 0;
  for (long i = 0; i < n; i++) {
    pthread_join(tids[i], NULL);
    if (args[i].granted)
      granted++;
    else
      denied++;
  }
  pthread_barrier_destroy(&started);
  pthread_barrier_destroy(&go);
  free(tids);
  free(args);
  reply("ok %d %d %ld", granted, denied, data_before);
}

/* Keeps allocating for a while: a supervisor restart in the middle must not
 * make a single call fail. */
struct mmap_counts {
  long calls, enomem, enosys, other;
};

static struct mmap_counts mmap_loop(long ms, size_t len_bytes) {
  struct mmap_counts c = {0, 0, 0, 0};
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed_ms >= ms) break;
    char *p = mmap(NULL, len_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    c.calls++;
    if (p == MAP_FAILED) {
      if (errno == ENOMEM)
        c.enomem++;
      else if (errno == ENOSYS)
        c.enosys++;
      else
        c.other++;
      continue;
    }
    touch_write(p, len_bytes);
    munmap(p, len_bytes);
  }
  return c;
}

static volatile sig_atomic_t signals_seen;
static atomic_int signaller_stop;

static void count_signal(int sig) {
  (void)sig;
  signals_seen++;
}

static void *signaller(void *arg) {
  pthread_t target = *(pthread_t *)arg;
  while (!atomic_load(&signaller_stop)) {
    pthread_kill(target, SIGUSR1);
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void cmd_mmap_signals(long ms, size_t len_bytes) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  signals_seen = 0;
  atomic_store(&signaller_stop, 0);
  pthread_t self = pthread_self(), t;
  if (pthread_create(&t, NULL, signaller, &self) != 0) {
    reply_err(EAGAIN);
    return;
  }
  struct mmap_counts c = mmap_loop(ms, len_bytes);
  atomic_store(&signaller_stop, 1);
  pthread_join(t, NULL);
  signal(SIGUSR1, SIG_DFL);
  reply("ok %ld %ld %ld %ld %ld", c.calls, c.enomem, c.enosys, c.other, (long)signals_seen);
}

static void cmd_mmap_for(long ms, size_t len_bytes) {
  struct mmap_counts c = mmap_loop(ms, len_bytes);
  reply("ok %ld %ld %ld %ld", c.calls, c.enomem, c.enosys, c.other);
}

static void cmd_mmap_len(const char *hex) {
  char *end = NULL;
  errno = 0;
  unsigned long long len = strtoull(hex, &end, 16);
  if (errno != 0 || end == hex || *end != '\0') {
    reply_err(EINVAL);
    return;
  }
  void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    reply_err(errno);
    return;
  }
  munmap(p, (size_t)len);
  reply("ok %p", p);
}

/* A process may stack its own filter on top of ubc's: ubc's still applies. */
static void cmd_seccomp_allow(void) {
  struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {1, &allow};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    reply_err(errno);
    return;
  }
  reply("ok");
}

#define MAX_KEPT_FDS 4096
static int kept_fds[MAX_KEPT_FDS];
static int kept_fd_count;

static void cmd_open_files(long n) {
  long opened = 0;
  for (; opened < n && kept_fd_count < MAX_KEPT_FDS; opened++) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      reply_err(errno);
      return;
    }
    kept_fds[kept_fd_count++] = fd;
  }
  reply("ok %ld", opened);
}

static void cmd_close_files(void) {
  int closed = kept_fd_count;
  while (kept_fd_count > 0) close(kept_fds[--kept_fd_count]);
  reply("ok %d", closed);
}

static void cmd_fork_bomb(long n, size_t len_bytes) {
  long forked = 0, fork_failed = 0, child_failed = 0;
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      fork_failed++;
      continue;
    }
    if (pid == 0) {
      char *p = mmap(NULL, len_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(1);
      touch_write(p, len_bytes);
      _exit(0);
    }
    forked++;
  }
  for (long i = 0; i < forked; i++) {
    int status = 0;
    if (wait(&status) > 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) child_failed++;
  }
  reply("ok %ld %ld %ld", forked, fork_failed, child_failed);
}

static void *exiting_thread(void *unused) {
  (void)unused;
  (void)mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return NULL;
}

static void cmd_threads_exit(long n) {
  long started = 0;
  pthread_t *tids = calloc((size_t)(n > 0 ? n : 1), sizeof *tids);
  if (tids == NULL) {
    reply_err(ENOMEM);
    return;
  }
  for (long i = 0; i < n; i++) {
    if (pthread_create(&tids[started], NULL, exiting_thread, NULL) == 0) started++;
  }
  for (long i = 0; i < started; i++) pthread_join(tids[i], NULL);
  free(tids);
  reply("ok %ld", started);
}

static void cmd_statm(void) {
  long data;
  if (read_statm_data_pages(&data) != 0) {
    reply_err(errno);
    return;
  }
  reply("ok %ld", data);
}

static void cmd_sleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  reply("ok");
}

static void cmd_exec(int argc, char **argv) {
  if (argc < 1) {
    reply_err(EINVAL);
    return;
  }
  char *args[MAX_ARGS + 1];
  for (int i = 0; i < argc && i < MAX_ARGS; i++) args[i] = argv[i];
  args[argc < MAX_ARGS ? argc : MAX_ARGS] = NULL;
  fflush(stdout);
  if (strchr(args[0], '/') != NULL)
    execv(args[0], args);
  else
    execvp(args[0], args);
  reply_err(errno);
}

/* ---- dispatch ---------------------------------------------------------- */

/* Arity of each command for argv mode; -1 = takes the rest of the arguments. */
struct command_info {
  const char *name;
  int arity;
};

static const struct command_info commands[] = {
    {"mmap", 1},
    {"mmap-ro", 1},
    {"mmap-shared-file", 1},
    {"mmap-shared-anon", 1},
    {"mmap-private-file-ro", 1},
    {"mmap-private-file-rw", 1},
    {"mmap-fixed", 1},
    {"mmap-prot-none", 1},
    {"munmap", 0},
    {"munmap-all", 0},
    {"mremap", 1},
    {"mprotect-rw", 0},
    {"mprotect-ro", 0},
    {"sbrk", 1},
    {"brk-now", 0},
    {"malloc", 1},
    {"malloc-small-loop", 2},
    {"fork", 0},
    {"fork-hold", 0},
    {"kill-children", 0},
    {"threads", 2},
    {"statm", 0},
    {"i386-works", 0},
    {"i386-mmap2", 1},
    {"i386-old-mmap", 1},
    {"i386-mprotect-rw", 0},
    {"pkey-mprotect-rw", 0},
    {"growsdown", 1},
    {"rlimit-data", 1},
    {"rlimit-stack", 1},
    {"rlimit-raise", 1},
    {"stack-grow", 1},
    {"growsdown-grow", 1},
    {"memfd", 1},
    {"shmget", 1},
    {"shmget-key", 2},
    {"shm-open", 1},
    {"shmrm", 1},
    {"shmlock", 1},
    {"shmunlock", 1},
    {"mmap-locked", 1},
    {"mmap-locked-ro", 1},
    {"mlock", 0},
    {"mlock2-onfault", 0},
    {"munlock", 0},
    {"i386-mlock", 0},
    {"mlockall", 1},
    {"munlockall", 0},
    {"vmlck", 0},
    {"sysinfo", 0},
    {"sysinfo-bad", 0},
    {"sysinfo-ro", 0},
    {"i386-sysinfo", 0},
    {"sysconf", 0},
    {"fixed-race", 2},
    {"pid", 0},
    {"mmap-for", 2},
    {"mmap-len", 1},
    {"seccomp-allow", 0},
    {"fork-bomb", 2},
    {"threads-exit", 1},
    {"mmap-signals", 2},
    {"sleep", 1},
    {"exec", -1},
    {"echo", -1},
    {"exit", 0},
};

static int command_arity(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return commands[i].arity;
  return 0;
}

static int need_size(int argc, char **argv, int index, size_t *out) {
  if (argc <= index || parse_size(argv[index], out) != 0) {
    reply_err(EINVAL);
    return -1;
  }
  return 0;
}

static int need_long(int argc, char **argv, int index, long *out) {
  char *end = NULL;
  if (argc <= index) {
    reply_err(EINVAL);
    return -1;
  }
  errno = 0;
  *out = strtol(argv[index], &end, 10);
  if (errno != 0 || end == argv[index] || *end != '\0') {
    reply_err(EINVAL);
    return -1;
  }
  return 0;
}

/* Runs one command; returns 1 when the probe should exit. */
static int run_command(int argc, char **argv) {
  if (argc == 0) {
    reply_err(EINVAL);
    return 0;
  }
  const char *c = argv[0];
  size_t sz;
  long n;
  if (strcmp(c, "mmap") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_anon(sz, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  } else if (strcmp(c, "mmap-ro") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_anon(sz, PROT_READ, MAP_PRIVATE);
  } else if (strcmp(c, "mmap-prot-none") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_anon(sz, PROT_NONE, MAP_PRIVATE);
  } else if (strcmp(c, "mmap-shared-anon") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_anon(sz, PROT_READ | PROT_WRITE, MAP_SHARED);
  } else if (strcmp(c, "mmap-shared-file") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_file(sz, PROT_READ | PROT_WRITE, MAP_SHARED);
  } else if (strcmp(c, "mmap-private-file-ro") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_file(sz, PROT_READ, MAP_PRIVATE);
  } else if (strcmp(c, "mmap-private-file-rw") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_file(sz, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  } else if (strcmp(c, "mmap-fixed") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_fixed(sz);
  } else if (strcmp(c, "munmap") == 0) {
    cmd_munmap();
  } else if (strcmp(c, "munmap-all") == 0) {
    cmd_munmap_all();
  } else if (strcmp(c, "mremap") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mremap(sz);
  } else if (strcmp(c, "mprotect-rw") == 0) {
    cmd_mprotect_rw();
  } else if (strcmp(c, "mprotect-ro") == 0) {
    cmd_mprotect_ro();
  } else if (strcmp(c, "sbrk") == 0) {
    if (argc < 2)
      reply_err(EINVAL);
    else
      cmd_sbrk(argv[1]);
  } else if (strcmp(c, "brk-now") == 0) {
    cmd_brk_now();
  } else if (strcmp(c, "i386-works") == 0) {
    cmd_i386_works();
  } else if (strcmp(c, "i386-mmap2") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_i386_mmap2(sz);
  } else if (strcmp(c, "i386-old-mmap") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_i386_old_mmap(sz);
  } else if (strcmp(c, "i386-mprotect-rw") == 0) {
    cmd_i386_mprotect_rw();
  } else if (strcmp(c, "pkey-mprotect-rw") == 0) {
    cmd_pkey_mprotect_rw();
  } else if (strcmp(c, "growsdown") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_growsdown(sz);
  } else if (strcmp(c, "fixed-race") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_fixed_race(n, sz);
  } else if (strcmp(c, "rlimit-data") == 0 || strcmp(c, "rlimit-stack") == 0) {
    if (argc < 2)
      reply_err(EINVAL);
    else
      cmd_rlimit_soft(strcmp(c, "rlimit-data") == 0 ? RLIMIT_DATA : RLIMIT_STACK, argv[1]);
  } else if (strcmp(c, "rlimit-raise") == 0) {
    if (argc < 2)
      reply_err(EINVAL);
    else
      cmd_rlimit_raise(argv[1]);
  } else if (strcmp(c, "stack-grow") == 0 || strcmp(c, "growsdown-grow") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_grow(strcmp(c, "growsdown-grow") == 0, sz);
  } else if (strcmp(c, "memfd") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_memfd(sz);
  } else if (strcmp(c, "shmget") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_shmget(IPC_PRIVATE, sz, IPC_CREAT);
  } else if (strcmp(c, "shmget-key") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_shmget(n, sz, IPC_CREAT);
  } else if (strcmp(c, "shm-open") == 0) {
    if (need_long(argc, argv, 1, &n) == 0) cmd_shmget(n, 0, 0);
  } else if (strcmp(c, "shmrm") == 0) {
    if (need_long(argc, argv, 1, &n) == 0) cmd_shmrm(n);
  } else if (strcmp(c, "shmlock") == 0 || strcmp(c, "shmunlock") == 0) {
    if (need_long(argc, argv, 1, &n) == 0)
      cmd_shmctl_lock(n, strcmp(c, "shmlock") == 0 ? SHM_LOCK : SHM_UNLOCK);
  } else if (strcmp(c, "mmap-locked") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0)
      cmd_mmap_anon(sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED);
  } else if (strcmp(c, "mmap-locked-ro") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_mmap_anon(sz, PROT_READ, MAP_PRIVATE | MAP_LOCKED);
  } else if (strcmp(c, "mlock") == 0 || strcmp(c, "mlock2-onfault") == 0 ||
             strcmp(c, "munlock") == 0) {
    cmd_lock_last(c);
  } else if (strcmp(c, "i386-mlock") == 0) {
    cmd_i386_mlock();
  } else if (strcmp(c, "mlockall") == 0) {
    if (argc < 2)
      reply_err(EINVAL);
    else
      cmd_mlockall(argv[1]);
  } else if (strcmp(c, "munlockall") == 0) {
    if (munlockall() != 0)
      reply_err(errno);
    else
      reply("ok");
  } else if (strcmp(c, "vmlck") == 0) {
    cmd_vmlck();
  } else if (strcmp(c, "sysinfo") == 0) {
    cmd_sysinfo();
  } else if (strcmp(c, "sysinfo-bad") == 0) {
    if (syscall(SYS_sysinfo, (void *)8) != 0)
      reply_err(errno);
    else
      reply("ok");
  } else if (strcmp(c, "sysinfo-ro") == 0) {
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ro == MAP_FAILED) {
      reply_err(errno);
    } else {
      long ret = syscall(SYS_sysinfo, ro);
      int e = errno;
      int touched = 0;
      for (int i = 0; i < 112; i++) touched |= ro[i];
      munmap(ro, 4096);
      if (touched)
        reply("ok written");
      else if (ret != 0)
        reply_err(e);
      else
        reply("ok untouched");
    }
  } else if (strcmp(c, "i386-sysinfo") == 0) {
    cmd_i386_sysinfo();
  } else if (strcmp(c, "sysconf") == 0) {
    reply("ok %ld %ld", sysconf(_SC_PHYS_PAGES), sysconf(_SC_AVPHYS_PAGES));
  } else if (strcmp(c, "malloc") == 0) {
    if (need_size(argc, argv, 1, &sz) == 0) cmd_malloc(sz);
  } else if (strcmp(c, "malloc-small-loop") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_malloc_small_loop(n, sz);
  } else if (strcmp(c, "fork") == 0) {
    cmd_fork();
  } else if (strcmp(c, "fork-hold") == 0) {
    cmd_fork_hold();
  } else if (strcmp(c, "open-files") == 0) {
    if (need_long(argc, argv, 1, &n) == 0) cmd_open_files(n);
  } else if (strcmp(c, "close-files") == 0) {
    cmd_close_files();
  } else if (strcmp(c, "kill-children") == 0) {
    cmd_kill_children();
  } else if (strcmp(c, "threads") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0) cmd_threads(n, sz);
  } else if (strcmp(c, "mmap-len") == 0) {
    if (argc < 2)
      reply_err(EINVAL);
    else
      cmd_mmap_len(argv[1]);
  } else if (strcmp(c, "seccomp-allow") == 0) {
    cmd_seccomp_allow();
  } else if (strcmp(c, "fork-bomb") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_fork_bomb(n, sz);
  } else if (strcmp(c, "mmap-signals") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_mmap_signals(n, sz);
  } else if (strcmp(c, "threads-exit") == 0) {
    if (need_long(argc, argv, 1, &n) == 0) cmd_threads_exit(n);
  } else if (strcmp(c, "mmap-for") == 0) {
    if (need_long(argc, argv, 1, &n) == 0 && need_size(argc, argv, 2, &sz) == 0)
      cmd_mmap_for(n, sz);
  } else if (strcmp(c, "statm") == 0) {
    cmd_statm();
  } else if (strcmp(c, "pid") == 0) {
    reply("ok %d", (int)getpid());
  } else if (strcmp(c, "sleep") == 0) {
    if (need_long(argc, argv, 1, &n) == 0) cmd_sleep(n);
  } else if (strcmp(c, "exec") == 0) {
    cmd_exec(argc - 1, argv + 1);
  } else if (strcmp(c, "echo") == 0) {
    char text[MAX_LINE];
    text[0] = '\0';
    for (int i = 1; i < argc; i++) {
      if (i > 1) strncat(text, " ", sizeof text - strlen(text) - 1);
      strncat(text, argv[i], sizeof text - strlen(text) - 1);
    }
    reply("ok %s", text);
  } else if (strcmp(c, "exit") == 0) {
    reply("ok");
    return 1;
  } else {
    reply_err(EINVAL);
  }
  return 0;
}

/* Splits a line in place on blanks; returns the number of words. */
static int split_words(char *line, char **words, int max_words) {
  int n = 0;
  char *save = NULL;
  for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL && n < max_words;
       w = strtok_r(NULL, " \t\r\n", &save))
    words[n++] = w;
  return n;
}

/* Reads one line with read(2) so that nothing past the newline is consumed.
 * Returns the length, or -1 at EOF with nothing read. */
static long read_line(char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    char ch;
    ssize_t r = read(0, &ch, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (len == 0) return -1;
      break;
    }
    if (ch == '\n') break;
    if (len + 1 < cap) buf[len++] = ch;
  }
  buf[len] = '\0';
  return (long)len;
}

static int run_argv(int argc, char **argv) {
  int i = 1;
  while (i < argc) {
    char *words[MAX_ARGS];
    int nwords;
    char line[MAX_LINE];
    if (strchr(argv[i], ' ') != NULL) {
      snprintf(line, sizeof line, "%s", argv[i]);
      nwords = split_words(line, words, MAX_ARGS);
      i++;
    } else {
      int arity = command_arity(argv[i]);
      int take = arity < 0 ? argc - i : 1 + arity;
      if (i + take > argc) take = argc - i;
      nwords = 0;
      for (int k = 0; k < take && nwords < MAX_ARGS; k++) words[nwords++] = argv[i + k];
      i += take;
    }
    if (nwords == 0) continue;
    if (run_command(nwords, words)) break;
  }
  return 0;
}

int main(int argc, char **argv) {
  page_size_bytes = sysconf(_SC_PAGESIZE);
  heap_start = find_heap_start();
  signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  if (argc > 1) {
    rc = run_argv(argc, argv);
  } else {
    char line[MAX_LINE];
    while (read_line(line, sizeof line) >= 0) {
      char *words[MAX_ARGS];
      int nwords = split_words(line, words, MAX_ARGS);
      if (nwords == 0) continue;
      if (run_command(nwords, words)) break;
    }
  }
  kill_children_quietly();
  return rc;
}
