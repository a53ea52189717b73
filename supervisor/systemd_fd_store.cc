#include "supervisor/systemd_fd_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/atomic_file.h"
#include "core/file_reader.h"
#include "supervisor/log.h"

namespace ubc {
namespace {

constexpr char kMetaSuffix[] = ".json";
constexpr size_t kMaxMetaBytes = 64 * 1024;

std::string RemoveMessage(const std::string& key) { return "FDSTOREREMOVE=1\nFDNAME=" + key; }

}  // namespace

bool SystemdFdStore::ValidKey(const std::string& key) {
  if (key.empty() || key.size() > 255 || key[0] == '.') return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

SystemdFdStore::SystemdFdStore(std::string meta_dir,
                               std::vector<std::pair<std::string, UniqueFd>> received,
                               Notify notify)
    : meta_dir_(std::move(meta_dir)), notify_(std::move(notify)) {
  if (::mkdir(meta_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    Log(LogLevel::kWarning,
        "systemd fd store: cannot create " + meta_dir_ + ": " + std::strerror(errno));
  }
  std::set<std::string> names;
  for (auto& [name, fd] : received) {
    Result<std::string> text = ValidKey(name)
                                   ? ReadFileBounded(MetaPath(name), kMaxMetaBytes)
                                   : Result<std::string>(Status::Error("not a name ubcd gives"));
    nlohmann::json meta =
        text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (!text.ok() || meta.is_discarded()) {
      // Unusable without what rebuilds its container: systemd need not keep it.
      Log(LogLevel::kWarning, "systemd fd store: fd \"" + name + "\" has no metadata (" +
                                  (text.ok() ? "not JSON" : text.status().message()) +
                                  "); dropped");
      if (ValidKey(name)) (void)notify_(RemoveMessage(name), {});
      continue;
    }
    names.insert(name);
    received_.push_back(StoredFd{name, std::move(meta), std::move(fd)});
  }
  // Metadata of fds systemd no longer holds (hung up, or a stop flushed them).
  if (DIR* dir = ::opendir(meta_dir_.c_str()); dir != nullptr) {
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(dir)) {
      std::string file = e->d_name;
      const size_t suffix = sizeof kMetaSuffix - 1;
      if (file.size() <= suffix || file.compare(file.size() - suffix, suffix, kMetaSuffix) != 0) {
        continue;
      }
      if (names.count(file.substr(0, file.size() - suffix)) == 0) stale.push_back(file);
    }
    ::closedir(dir);
    for (const std::string& file : stale) ::unlink((meta_dir_ + "/" + file).c_str());
  }
}

std::unique_ptr<SystemdFdStore> SystemdFdStore::FromEnvironment(std::string meta_dir) {
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(/*unset_environment=*/1, &names);
  std::vector<std::pair<std::string, UniqueFd>> received;
  for (int i = 0; i < n; ++i) {
    std::string name = names != nullptr && names[i] != nullptr ? names[i] : "";
    received.emplace_back(std::move(name), UniqueFd(SD_LISTEN_FDS_START + i));
  }
  if (names != nullptr) {
    for (int i = 0; names[i] != nullptr; ++i) std::free(names[i]);
    std::free(names);
  }
  if (n < 0) {
    Log(LogLevel::kWarning,
        std::string("systemd fd store: reading the passed fds: ") + std::strerror(-n));
  }
  return std::make_unique<SystemdFdStore>(std::move(meta_dir), std::move(received),
                                          SdNotifyWithFds);
}

std::string SystemdFdStore::MetaPath(const std::string& key) const {
  return meta_dir_ + "/" + key + kMetaSuffix;
}

Status SystemdFdStore::Put(const std::string& key, const nlohmann::json& meta, int fd) {
  if (!ValidKey(key)) return Status::Error("systemd fd store: invalid name \"" + key + "\"");
  // The metadata first: an fd systemd holds without it cannot be used.
  if (Status s = WriteFileAtomically(MetaPath(key), meta.dump(), 0600); !s.ok()) {
    return s.Wrap("systemd fd store");
  }
  return notify_("FDSTORE=1\nFDNAME=" + key, {fd});
}

Result<std::vector<StoredFd>> SystemdFdStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredFd> out;
  for (const StoredFd& s : received_) {
    UniqueFd copy(::fcntl(s.fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!copy) return Status::FromErrno(errno, "systemd fd store: dup");
    out.push_back(StoredFd{s.key, s.meta, std::move(copy)});
  }
  return out;
}

void SystemdFdStore::Released(const std::string& key) {
  if (!ValidKey(key)) return;
  ::unlink(MetaPath(key).c_str());
  // systemd drops a hung-up fd by itself; this only makes sure of it.
  (void)notify_(RemoveMessage(key), {});
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(received_, [&](const StoredFd& s) { return s.key == key; });
}

Status SdNotifyWithFds(const std::string& message, const std::vector<int>& fds) {
  const int r =
      sd_pid_notify_with_fds(0, /*unset_environment=*/0, message.c_str(),
                             fds.empty() ? nullptr : fds.data(), static_cast<unsigned>(fds.size()));
  if (r < 0) return Status::Error(std::string("sd_notify: ") + std::strerror(-r));
  if (r == 0) return Status::Error("sd_notify: NOTIFY_SOCKET is not set");
  return Status::Ok();
}

bool UseSystemdFdStore(std::string* why) {
  const char* mode = std::getenv("UBCD_FD_CUSTODY");
  const char* notify_socket = std::getenv("NOTIFY_SOCKET");
  const char* fdstore = std::getenv("FDSTORE");
  const bool have_socket = notify_socket != nullptr && *notify_socket != '\0';
  if (mode != nullptr && std::strcmp(mode, "store") == 0) {
    *why = "UBCD_FD_CUSTODY=store";
    return false;
  }
  if (mode != nullptr && std::strcmp(mode, "systemd") == 0) {
    *why = have_socket ? "UBCD_FD_CUSTODY=systemd"
                       : "UBCD_FD_CUSTODY=systemd but NOTIFY_SOCKET is not set (not run by "
                         "systemd, or no NotifyAccess=): the fd store process instead";
    return have_socket;
  }
  if (mode != nullptr && *mode != '\0') {
    *why =
        std::string("UBCD_FD_CUSTODY=") + mode + " is not systemd or store: the fd store process";
    return false;
  }
  const bool enabled = have_socket && fdstore != nullptr && std::atoi(fdstore) > 0;
  *why = enabled ? "FDSTORE is set: systemd's store is enabled" : "no systemd fd store announced";
  return enabled;
}

}  // namespace ubc
