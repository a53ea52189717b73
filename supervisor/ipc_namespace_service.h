// IpcNamespaceService: a small privileged process that reads the SysV shared
// memory of other IPC namespaces for ubcd, the truth of shmpages held
// (core/accounting_readers.h, ShmReader).
//
// shmctl(SHM_INFO) and /proc/sysvipc/shm only ever show the caller's own IPC
// namespace, so reading a container's means joining it (setns CLONE_NEWIPC),
// which needs CAP_SYS_ADMIN; ubcd gives that up at start-up
// (supervisor/privileges.h). Start() therefore forks a reader beforehand that
// keeps CAP_SYS_ADMIN and nothing else: every other capability is gone from
// all its sets and the bounding set, no_new_privs is set, it is not dumpable,
// it holds no fd but its end of a SOCK_SEQPACKET socketpair (and, once
// started, an fd of its own IPC namespace), and SIGKILL reaches it when ubcd
// dies. It answers one request at a time: a fixed struct and exactly one fd
// (SCM_RIGHTS) of an IPC namespace in, setns, shmctl(SHM_INFO) and a
// SHM_STAT_ANY walk of the segments (which are locked), back into its
// own namespace (so it never keeps a container's namespace, and with it its
// segments, alive), a fixed struct out. Malformed requests get an error reply
// and every fd received is closed; end-of-file on the socket ends it.
//
// ubcd trusts the reader no further than its replies' shape: a reply of the
// wrong size, with fds, with another sequence number or a bad errno, no reply
// within kReplyTimeout, or the reader's exit, marks the service broken. A
// broken service is not restarted (ubcd has no CAP_SYS_ADMIN left to give a
// new one): every later call fails at once with the reason.
//
// IpcNamespaceService owns the reader process (a pidfd on it) and the socket;
// the destructor closes the socket, waits briefly for the reader to leave,
// kills it otherwise, and reaps it. Thread-safety: ShmUsageOf() and pid() from
// any thread (one mutex serialises the round trips); Start() before ubcd has
// threads (fork); the destructor once no caller is left.
//
// ContainerIpcNamespace is one container's namespace as a ShmReader: it holds
// an fd of /proc/PID/ns/ipc, which keeps that namespace (and its segments)
// alive while held, so its owner drops it when the container is retired. A
// container sharing ubcd's own namespace is read with shmctl in ubcd, needing
// no capability and no reader. Usage() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/accounting_readers.h"
#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

// The reader's protocol: one packet each way per request. Exposed for the
// tests of the reader's loop.
struct IpcNamespaceRequest {
  uint32_t op = 0;        // kShmInfo or kShmSegment; anything else is answered EOPNOTSUPP
  uint32_t sequence = 0;  // echoed in the reply
  int32_t shmid = -1;     // kShmSegment: the segment asked about
  uint32_t reserved = 0;
  static constexpr uint32_t kShmInfo = 1;
  static constexpr uint32_t kShmSegment = 2;
};

struct IpcNamespaceReply {
  int32_t error_number = 0;   // 0, or the errno of the step that failed
  uint32_t sequence = 0;      // the request's; 0 when the packet was no request
  uint64_t pages = 0;         // kShmInfo: shm_info.shm_tot; kShmSegment: its size
  uint64_t segments = 0;      // kShmInfo: shm_info.used_ids; kShmSegment: 1 if it exists
  uint64_t locked_pages = 0;  // kShmInfo: the SHM_LOCKED segments; kShmSegment: its size if locked
};

// The reader's loop on its end of the socket: answers requests until
// end-of-file. Errnos of the replies: EMSGSIZE (a packet not the size of a
// request), EBADF (not exactly one fd), EOPNOTSUPP (an unknown op), EINVAL (an
// fd that is not an IPC namespace), else those of setns and shmctl. Returns
// the process's exit code: 0 at end-of-file, 1 when it cannot go on (its
// own namespace cannot be opened or rejoined, the socket fails). Runs in the
// reader process after the privileges are dropped; tests run it in a child
// of their own over a socketpair.
int ServeIpcNamespaceRequests(int socket_fd);

class IpcNamespaceService {
 public:
  // How long a caller waits for the reader's answer (and Start() for the
  // reader to report itself ready).
  static constexpr std::chrono::milliseconds kReplyTimeout{2000};

  // Forks the reader process and waits until it has dropped its privileges;
  // an error says which step failed (the reader is reaped then). Must be
  // called while the caller still has CAP_SYS_ADMIN and CAP_SETPCAP, and
  // before it starts threads (ubcd: before DropPrivileges).
  static Result<std::unique_ptr<IpcNamespaceService>> Start();
  // Tests only: Start() with `serve` run in the reader instead of its
  // request loop (after the same start-up), to play a reader that misbehaves.
  static Result<std::unique_ptr<IpcNamespaceService>> StartForTesting(int (*serve)(int socket_fd));
  // Ends and reaps the reader.
  ~IpcNamespaceService();
  IpcNamespaceService(const IpcNamespaceService&) = delete;
  IpcNamespaceService& operator=(const IpcNamespaceService&) = delete;

  // SysV shm usage of the IPC namespace `ns_fd` refers to (an fd of
  // /proc/PID/ns/ipc; `ns_fd` stays the caller's). Thread-safe; returns
  // within about kReplyTimeout; an error value if the reader is gone or
  // misbehaved (and from then on).
  Result<ShmUsage> ShmUsageOf(int ns_fd);
  // The segment `shmid` of that namespace (shmctl SHM_STAT_ANY, so no
  // permission on the segment is needed).
  Result<ShmSegment> ShmSegmentOf(int ns_fd, int shmid);

  // The reader's pid (in the caller's pid namespace).
  int pid() const { return pid_; }

 private:
  IpcNamespaceService(int pid, UniqueFd pidfd, UniqueFd socket);
  // One round trip (mu_ taken here); the reply, error_number 0.
  Result<IpcNamespaceReply> Ask(int ns_fd, uint32_t op, int shmid);
  // `serve` null: the real request loop.
  static Result<std::unique_ptr<IpcNamespaceService>> StartReader(int (*serve)(int socket_fd));
  // Marks the service broken for good (mu_ held) and kills the reader, which
  // can no longer be trusted to answer in step; returns the error.
  Status BreakLocked(const std::string& reason);
  // How the reader ended: "exited 1", "killed by signal 9", or "ended" when
  // that cannot be seen within a moment (mu_ held; it is not reaped here).
  std::string DescribeExitLocked();

  const int pid_;
  const UniqueFd pidfd_;
  std::mutex mu_;
  UniqueFd socket_;        // guarded by mu_
  uint32_t sequence_ = 0;  // guarded by mu_
  std::string broken_;     // guarded by mu_; why the service is unusable, "" while fine
};

// One container's IPC namespace, as a ShmReader over the service.
class ContainerIpcNamespace : public ShmReader {
 public:
  // Opens /proc/<pid>/ns/ipc (`pid` in ubcd's pid namespace; needs only
  // ptrace access to it). `service` may be null: then a container sharing
  // ubcd's own IPC namespace is still readable, any other one gives an error
  // on Usage(). `service`, when given, must outlive this object.
  static Result<std::unique_ptr<ContainerIpcNamespace>> Open(IpcNamespaceService* service, int pid);

  Result<ShmUsage> Usage() override;
  Result<ShmSegment> Segment(int shmid) override;

  // Same namespace (device and inode) as /proc/self/ns/ipc when opened: read
  // with shmctl in ubcd itself, no helper.
  bool shares_ubcd_namespace() const { return shares_ubcd_namespace_; }
  int pid() const { return pid_; }

 private:
  ContainerIpcNamespace(IpcNamespaceService* service, int pid, UniqueFd ns, bool shares)
      : service_(service), pid_(pid), ns_(std::move(ns)), shares_ubcd_namespace_(shares) {}

  IpcNamespaceService* const service_;
  const int pid_;
  const UniqueFd ns_;
  const bool shares_ubcd_namespace_;
};

}  // namespace ubc
