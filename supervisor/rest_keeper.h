// RestKeeper: the small process that starts ubcd's HTTP process as its own
// unprivileged user and starts it again when it exits.
//
// The REST API parses whatever any local user sends, so it does not run in
// ubcd (docs/architecture.md, "The HTTP process"): a flood, a leak or a crash
// there must not reach the decision path, the listener or the fd store.
// Changing uid needs CAP_SETUID and CAP_SETGID, which ubcd gives up at
// start-up, so Start() forks the keeper beforehand (while ubcd has no
// thread). The keeper keeps those two capabilities and CAP_KILL (a death
// signal to a process of another uid is checked like kill(2)) and nothing
// else (bounding set cleared, no_new_privs, not dumpable, SIGKILL when ubcd
// dies), holds only
// stdin/stdout/stderr and its end of a SOCK_SEQPACKET link to ubcd, and
// loops: a fresh socketpair, fork, the child drops to the HTTP user (no
// supplementary groups, every capability gone with uid 0) and execs ubcd's
// own binary as `ubcd --rest-worker` with its end as fd 3; ubcd's end goes
// over the link (a kStarted report with the fd), and when the worker exits a
// kExited report says how and when the next one starts. A worker that lived
// under kQuickExitMs is restarted after a delay doubling from kFirstRestartMs
// up to kMaxRestartMs; the delay resets after a worker that lived longer.
// The keeper parses nothing from ubcd or the worker.
//
// RestKeeper (in ubcd) owns the keeper process (a pidfd) and the link; the
// destructor kills the keeper (its worker gets SIGKILL from its own death
// signal) and reaps it. Reading the link is the RestBridge's job
// (supervisor/rest_bridge.h). Start() before ubcd has threads; link() and
// pid() from any thread; the destructor once the bridge is stopped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

inline constexpr int64_t kFirstRestartMs = 1000;
inline constexpr int64_t kMaxRestartMs = 30000;
inline constexpr int64_t kQuickExitMs = 10000;

// One packet on the link, keeper to ubcd.
struct RestKeeperReport {
  static constexpr uint32_t kStarted = 1;  // carries ubcd's end of the worker's socket
  static constexpr uint32_t kExited = 2;   // wait_status from waitpid
  static constexpr uint32_t kFailed = 3;   // socketpair or fork failed: error_number
  uint32_t kind = 0;
  int32_t pid = 0;
  int32_t wait_status = 0;
  int32_t error_number = 0;
  uint32_t next_start_ms = 0;  // kExited, kFailed: when the next worker starts
  uint32_t uid = 0;            // the worker's uid
};

struct RestWorkerUser {
  uid_t uid = 65534;
  gid_t gid = 65534;
  std::string name;  // what the log says
};

// The user named `name` from the passwd database, else "nobody", else
// 65534:65534. `*fallback` is set when it is not `name`.
RestWorkerUser ResolveRestWorkerUser(const std::string& name, bool* fallback);

class RestKeeper {
 public:
  // `worker_args` are the worker's arguments after argv[0], e.g.
  // {"--rest-worker", "--rest-address", "127.0.0.1", ...}; `executable` is
  // ubcd's own binary unless a test says otherwise.
  static Result<std::unique_ptr<RestKeeper>> Start(const RestWorkerUser& user,
                                                   std::vector<std::string> worker_args,
                                                   std::string executable = "/proc/self/exe");
  ~RestKeeper();
  RestKeeper(const RestKeeper&) = delete;
  RestKeeper& operator=(const RestKeeper&) = delete;

  int link() const { return link_.get(); }
  pid_t pid() const { return pid_; }

 private:
  RestKeeper(pid_t pid, UniqueFd pidfd, UniqueFd link)
      : pid_(pid), pidfd_(std::move(pidfd)), link_(std::move(link)) {}
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd link_;
};

}  // namespace ubc
