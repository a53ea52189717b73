// FdKeeper: whatever keeps copies of ubcd's notify fds (and the proc view's
// FUSE connection) while ubcd restarts. Two kinds: the fd store process
// (supervisor/fd_store.h, FdStoreClient) and systemd's file-descriptor store
// (supervisor/systemd_fd_store.h). FdCustody (supervisor/fd_custody.h) is the
// only user.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

struct StoredFd {
  std::string key;
  nlohmann::json meta;
  UniqueFd fd;
};

class FdKeeper {
 public:
  virtual ~FdKeeper() = default;
  // True when the keeper can take fds now.
  virtual bool Alive() = 0;
  // Changes when the keeper may have lost what it held (a restarted store).
  virtual uint64_t generation() = 0;
  // Hands the keeper a copy of `fd` under `key` (unique per fd), with `meta`.
  virtual Status Put(const std::string& key, const nlohmann::json& meta, int fd) = 0;
  // Every fd the keeper holds for ubcd, as copies.
  virtual Result<std::vector<StoredFd>> List() = 0;
  // The fd under `key` is done with (its container hung up): a keeper that
  // does not notice hang-ups itself lets go of it and its metadata.
  virtual void Released(const std::string& key) { (void)key; }
  // For logs: "the fd store at PATH", "systemd's fd store".
  virtual std::string Describe() const = 0;
};

}  // namespace ubc
