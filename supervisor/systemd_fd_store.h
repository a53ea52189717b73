// SystemdFdStore: systemd's file-descriptor store as ubcd's fd custody.
//
// Under a unit with FileDescriptorStoreMax= and NotifyAccess=main, ubcd sends
// each notify fd to systemd (sd_notify "FDSTORE=1", "FDNAME=key"); systemd
// keeps it across restarts of the service (a crash with Restart=, `systemctl
// restart`, a package upgrade) and passes every stored fd back at the next
// start (LISTEN_FDS, LISTEN_FDNAMES), and it drops an fd by itself once the fd
// hangs up (the container is gone). systemd keeps only a name, so what ubcd
// needs to rebuild a container is kept beside it, one JSON file per name in
// `meta_dir` (the state directory). A stop of the unit (not a restart) makes
// systemd close them all: then the containers' trapped calls fail with
// ENOSYS, as without any custody (docs/operations.md, "systemd").
//
// The fds systemd passed are taken at construction; List() hands out copies.
// The sd_notify call is a parameter so the logic is tested without systemd;
// SdNotifyWithFds() is the real one (libsystemd).
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/fd_keeper.h"

namespace ubc {

class SystemdFdStore : public FdKeeper {
 public:
  // Sends one notification message with `fds` attached.
  using Notify = std::function<Status(const std::string& message, const std::vector<int>& fds)>;

  // `received`: the fds systemd passed at start, by name. Received fds
  // without metadata are given back to systemd's care (FDSTOREREMOVE) and
  // closed; metadata files of names not received are deleted.
  SystemdFdStore(std::string meta_dir, std::vector<std::pair<std::string, UniqueFd>> received,
                 Notify notify);
  // The fds this process was started with (sd_listen_fds_with_names, which
  // also unsets LISTEN_FDS and marks them close-on-exec) and the real notify.
  static std::unique_ptr<SystemdFdStore> FromEnvironment(std::string meta_dir);

  bool Alive() override { return true; }
  uint64_t generation() override { return 1; }
  Status Put(const std::string& key, const nlohmann::json& meta, int fd) override;
  Result<std::vector<StoredFd>> List() override;
  void Released(const std::string& key) override;
  std::string Describe() const override { return "systemd's fd store"; }

  // A name systemd accepts in FDNAME and a file name here: [A-Za-z0-9._-],
  // 1 to 255 bytes, not starting with '.'.
  static bool ValidKey(const std::string& key);

 private:
  std::string MetaPath(const std::string& key) const;

  const std::string meta_dir_;
  const Notify notify_;
  std::mutex mu_;
  std::vector<StoredFd> received_;
};

// sd_pid_notify_with_fds(0, 0, message, fds): an error when NOTIFY_SOCKET is
// unset or the send fails.
Status SdNotifyWithFds(const std::string& message, const std::vector<int>& fds);

// Whether ubcd runs under systemd with its fd store to use, from the
// environment: UBCD_FD_CUSTODY "systemd" (the packaged unit sets it: Debian
// 12's systemd 252 exports nothing that says the store is enabled) or unset
// with FDSTORE (systemd >= 254) > 0, and NOTIFY_SOCKET set either way;
// "store" always means the fd store process. `why` says what was decided.
bool UseSystemdFdStore(std::string* why);

}  // namespace ubc
