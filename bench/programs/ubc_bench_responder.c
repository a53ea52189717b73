/* ubc-bench-responder: the floor the benchmark compares ubcd against. A minimal seccomp
 * user-notification supervisor that speaks the runtimes' listener protocol (unix stream
 * socket at listenerPath, one container-process-state message with the notify fd in
 * SCM_RIGHTS, connection kept open) and answers every notification with CONTINUE at once.
 *
 * Same wait method as ubcd: one thread per notify fd blocking in SECCOMP_IOCTL_NOTIF_RECV,
 * with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set through SECCOMP_IOCTL_NOTIF_SET_FLAGS.
 *
 * With --read-statm it is the floor of an exact decision instead: before each answer it
 * preads /proc/PID/statm of the caller through an fd kept open per caller (the cheapest
 * exact read there is, as ubcd makes near the barrier), and nothing else.
 *
 * usage: ubc-bench-responder [--read-statm] SOCKET_PATH     (runs until SIGTERM/SIGINT)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static int read_statm;

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  int statm = -1, statm_pid = 0;
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) != 0)
    fprintf(stderr, "responder: SET_FLAGS SYNC_WAKE_UP failed: %s\n", strerror(errno));
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  for (;;) {
    memset(&req, 0, sizeof req);
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
      if (errno == EINTR) continue;
      if (errno == ENOENT) {
        /* The notification was withdrawn (its caller died or a signal interrupted it:
         * Go's preemption signals hit runc init's trapped execve), or (>= 6.6) the
         * filter lost its last task: only the latter ends the service, as in ubcd. */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
            !(p.revents & POLLIN))
          break;
        continue;
      }
      break;
    }
    if (read_statm) {
      if ((int)req.pid != statm_pid) {
        char path[64];
        if (statm >= 0) close(statm);
        snprintf(path, sizeof path, "/proc/%u/statm", req.pid);
        statm = open(path, O_RDONLY | O_CLOEXEC);
        statm_pid = (int)req.pid;
      }
      char buf[256];
      if (statm < 0 || pread(statm, buf, sizeof buf, 0) <= 0) statm_pid = 0; /* reopen next */
    }
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT)
      fprintf(stderr, "responder: SEND: %s\n", strerror(errno));
  }
  if (statm >= 0) close(statm);
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--read-statm") == 0) {
    read_statm = 1;
    argv[1] = argv[2];
    argc = 2;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: ubc-bench-responder [--read-statm] SOCKET_PATH\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  unlink(argv[1]);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 512) != 0) {
    perror("responder: bind/listen");
    return 1;
  }
  for (;;) {
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      perror("responder: accept");
      return 1;
    }
    static char buf[1 << 16];
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
    int nfd = -1;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); n > 0 && h; h = CMSG_NXTHDR(&msg, h))
      if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
        memcpy(&nfd, CMSG_DATA(h), sizeof nfd);
    if (nfd < 0) {
      fprintf(stderr, "responder: message without a fd\n");
      close(c);
      continue;
    }
    /* The runtime keeps the connection open while it lives; so do we (never read again). */
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &at, serve, (void *)(intptr_t)nfd);
    pthread_attr_destroy(&at);
  }
}
