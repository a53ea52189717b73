// FdCustody: ubcd's side of the fd store (supervisor/fd_store.h): every notify
// fd is deposited there with what a restarted ubcd needs to rebuild its
// container, and taken back after a restart.
//
// Deposit() hands the store a copy of a new notify fd under a key unique
// across restarts and remembers the fd, so that a store that was itself
// restarted (and holds nothing) is stocked again by Keep(). Unlist() forgets
// an fd before its owner closes it. TakeStored() lists what the store holds
// after a restart, as container states to attach again. With no store (null)
// every method does nothing.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/container_state.h"
#include "core/unique_fd.h"
#include "supervisor/fd_keeper.h"

namespace ubc {

struct StoredContainerFd {
  ContainerProcessState state;
  int runtime_pid = -1;
  int slot = -1;
  std::string key;
  UniqueFd fd;
};

class FdCustody {
 public:
  // `ensure_store` starts a store when none answers and says whether one does
  // afterwards; empty: only ping it.
  FdCustody(FdKeeper* store, std::function<bool()> ensure_store);

  bool enabled() const { return store_ != nullptr; }
  // The key `fd` is kept under ("" without a store). `fd` must stay open
  // until Unlist(key).
  std::string Deposit(const ContainerProcessState& state, int runtime_pid, int slot, int fd);
  // An fd that is not a container's (the proc view's FUSE connection), already
  // in the store under `key`, kept for re-stocking. `fd` must stay open
  // until Unlist(key).
  void Keep(const std::string& key, const nlohmann::json& meta, int fd);
  // A recovered fd, already in the store, kept for re-stocking.
  void Adopt(const StoredContainerFd& stored, const nlohmann::json& meta);
  void Unlist(const std::string& key);
  // Unlist() for an fd whose container hung up: the store lets go of it too
  // (FdKeeper::Released).
  void Release(const std::string& key);
  // Checks the store and stocks it again if it was restarted.
  void Keep();
  // Everything the store holds, with the metadata each fd was deposited with
  // (`meta` by key, for Adopt). Unusable entries are logged and skipped;
  // entries of another kind (their meta has "kind") are left alone.
  std::vector<StoredContainerFd> TakeStored(std::map<std::string, nlohmann::json>* meta);

 private:
  struct Deposited {
    nlohmann::json meta;
    int fd;
  };
  FdKeeper* const store_;
  const std::function<bool()> ensure_store_;
  const std::string run_token_;  // makes keys unique across restarts
  std::atomic<uint64_t> next_key_{0};
  std::mutex mu_;
  std::map<std::string, Deposited> deposits_;
  uint64_t deposited_generation_ = 0;
};

// What the store keeps beside a notify fd: the container's id, pids and the
// annotations that carry limits (not the whole, possibly large, set).
nlohmann::json StoredFdMeta(const ContainerProcessState& state, int runtime_pid, int slot);

}  // namespace ubc
