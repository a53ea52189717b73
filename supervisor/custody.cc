#include "supervisor/custody.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "supervisor/log.h"
#include "supervisor/proc_view_fs.h"
#include "supervisor/systemd_fd_store.h"

namespace ubc {
namespace {

// Starts `ubcd --fd-store` in its own session, reparented away from ubcd, so
// neither a crash nor a kill of ubcd's process group takes it down.
void SpawnFdStore(const std::string& config_path) {
  pid_t child = ::fork();
  if (child < 0) return;
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    // Nothing of ubcd's may stay open in the store (a listening socket would
    // outlive ubcd and block its restart).
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    // stderr stays: the store logs next to ubcd.
    std::vector<std::string> args = {"ubcd", "--fd-store"};
    if (!config_path.empty()) {
      args.push_back("--config");
      args.push_back(config_path);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::waitpid(child, nullptr, 0);
}

}  // namespace

bool EnsureFdStore(FdStoreClient& store, const std::string& config_path) {
  if (store.Alive()) return true;
  SpawnFdStore(config_path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!store.Alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return store.Alive();
}

std::string FdStorePath(const SupervisorConfig& config) {
  return config.state_dir + "/fdstore.sock";
}

Custody SetUpCustody(const SupervisorConfig& config, const std::string& config_path) {
  Custody custody;
  if (::mkdir(config.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    Log(LogLevel::kError, "cannot create state dir " + config.state_dir + ": " +
                              std::strerror(errno) + "; running without restart protection");
    return custody;
  }
  custody.state_path = config.state_dir + "/state.json";
  Result<std::unique_ptr<InflightSlots>> slots =
      InflightSlots::Open(config.state_dir + "/inflight");
  if (slots.ok()) {
    custody.slots = std::move(slots).value();
  } else {
    Log(LogLevel::kError, slots.status().message());
  }
  std::string why;
  if (UseSystemdFdStore(&why)) {
    custody.store = SystemdFdStore::FromEnvironment(config.state_dir + "/systemd-fds");
    Log(LogLevel::kInfo, "fd custody: systemd's fd store (" + why + ")");
    return custody;
  }
  auto process_store = std::make_unique<FdStoreClient>(FdStorePath(config));
  if (!EnsureFdStore(*process_store, config_path)) {
    Log(LogLevel::kWarning, "no fd store at " + process_store->socket_path() +
                                ": if ubcd stops, trapped calls in containers fail with ENOSYS");
    return custody;
  }
  Log(LogLevel::kInfo, "fd custody: " + process_store->Describe() + " (" + why + ")");
  custody.process_store = process_store.get();
  custody.store = std::move(process_store);
  return custody;
}

ProcViewConnection OpenProcView(FdKeeper* store, const std::string& dir) {
  ProcViewConnection out;
  out.meta = {{"kind", kProcViewStoreKey}, {"dir", dir}};
  if (store != nullptr && IsProcViewMount(dir)) {
    if (Result<std::vector<StoredFd>> listed = store->List(); listed.ok()) {
      for (StoredFd& entry : *listed) {
        if (entry.key != kProcViewStoreKey || entry.meta != out.meta) continue;
        if (!IsFuseConnection(entry.fd.get())) break;
        out.fd = std::move(entry.fd);
        out.recovered = true;
        Log(LogLevel::kInfo, "proc view: serving the mount at " + dir + " again (fd store)");
        return out;
      }
    }
  }
  Result<UniqueFd> mounted = MountProcView(dir);
  if (!mounted.ok()) {
    Log(LogLevel::kWarning, mounted.status().message() +
                                ": containers see the host's /proc/meminfo (sysinfo is still "
                                "answered)");
    return out;
  }
  out.fd = std::move(mounted).value();
  if (store != nullptr) {
    if (Status s = store->Put(kProcViewStoreKey, out.meta, out.fd.get()); !s.ok()) {
      Log(LogLevel::kWarning,
          "proc view: " + s.message() + "; a restart of ubcd would end the containers' view");
    }
  }
  Log(LogLevel::kInfo, "proc view mounted at " + dir);
  return out;
}

}  // namespace ubc
