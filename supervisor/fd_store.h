// FdStore: custody of notify fds across ubcd restarts.
//
// If every copy of a seccomp listener fd is closed, each pending and future
// notified syscall of that container fails with ENOSYS. The fd store is a
// minimal process (`ubcd --fd-store`) that ubcd hands a copy of every notify fd
// to, with the little metadata needed to rebuild the container; while any
// copy is open, trapped calls simply wait. A restarted ubcd lists the store's
// fds and resumes deciding. The store closes an fd when its filter hangs up
// (the container is gone; checked twice a second), so it never accumulates dead
// fds.
//
// The protocol is SOCK_SEQPACKET on a root-only unix socket: one JSON object
// per packet, fds in SCM_RIGHTS. RunFdStore() is the store's main loop (one
// thread). FdStoreClient is used by ubcd; its methods are thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/unique_fd.h"
#include "supervisor/fd_keeper.h"

namespace ubc {

// Runs the store on `socket_path` until SIGTERM/SIGINT. Returns the exit code.
int RunFdStore(const std::string& socket_path);

class FdStoreClient : public FdKeeper {
 public:
  explicit FdStoreClient(std::string socket_path);

  // True when a store answers at the socket path: connects lazily, checks
  // that the connected store still answers, reconnecting once when not.
  bool Alive() override;
  // Counts connections made: a change means a store that may hold nothing of
  // ours (it was restarted).
  uint64_t generation() override;
  // Hands the store a copy of `fd` under `key` (unique per fd).
  Status Put(const std::string& key, const nlohmann::json& meta, int fd) override;
  // Every fd the store holds.
  Result<std::vector<StoredFd>> List() override;
  // The store closes an fd itself when its filter hangs up: Released() is a no-op.
  std::string Describe() const override { return "the fd store at " + path_; }

  const std::string& socket_path() const { return path_; }

 private:
  Status ConnectLocked();
  const std::string path_;
  std::mutex mu_;
  UniqueFd conn_;
  uint64_t generation_ = 0;
};

}  // namespace ubc
