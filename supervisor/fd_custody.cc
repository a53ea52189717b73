#include "supervisor/fd_custody.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <utility>

#include "supervisor/log.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {
namespace {

std::string RandomToken() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
    v = static_cast<uint64_t>(::getpid()) << 32 ^ static_cast<uint64_t>(::time(nullptr));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

nlohmann::json StoredFdMeta(const ContainerProcessState& state, int runtime_pid, int slot) {
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : state.annotations) {
    if (k.rfind("ubc.", 0) == 0 || k == "io.kubernetes.cri.container-name" ||
        k == "io.kubernetes.container.name" || k == "nerdctl/name" ||
        k == "io.podman.annotations.name") {
      annotations[k] = v;
    }
  }
  return {{"id", state.id},
          {"pid", state.pid},
          {"state_pid", state.state_pid},
          {"status", state.status},
          {"slot", slot},
          {"runtime_pid", runtime_pid},
          {"annotations", annotations}};
}

FdCustody::FdCustody(FdKeeper* store, std::function<bool()> ensure_store)
    : store_(store), ensure_store_(std::move(ensure_store)), run_token_(RandomToken()) {
  if (store_ != nullptr) deposited_generation_ = store_->generation();
}

std::string FdCustody::Deposit(const ContainerProcessState& state, int runtime_pid, int slot,
                               int fd) {
  if (store_ == nullptr) return "";
  std::string key = run_token_ + "-" + std::to_string(next_key_++);
  nlohmann::json meta = StoredFdMeta(state, runtime_pid, slot);
  if (Status s = store_->Put(key, meta, fd); !s.ok()) {
    Log(LogLevel::kWarning, "container " + state.id + ": " + s.message() +
                                "; a restart of ubcd would fail its trapped calls");
  }
  std::lock_guard<std::mutex> lock(mu_);
  deposits_[key] = Deposited{std::move(meta), fd};
  return key;
}

void FdCustody::Adopt(const StoredContainerFd& stored, const nlohmann::json& meta) {
  if (store_ == nullptr || stored.key.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  deposits_[stored.key] = Deposited{meta, stored.fd.get()};
}

void FdCustody::Keep(const std::string& key, const nlohmann::json& meta, int fd) {
  if (store_ == nullptr || key.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  deposits_[key] = Deposited{meta, fd};
}

void FdCustody::Unlist(const std::string& key) {
  if (key.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  deposits_.erase(key);
}

void FdCustody::Release(const std::string& key) {
  Unlist(key);
  if (store_ != nullptr && !key.empty()) store_->Released(key);
}

void FdCustody::Keep() {
  if (store_ == nullptr) return;
  // The starter pings the store first and starts one only when it is gone.
  if (!(ensure_store_ ? ensure_store_() : store_->Alive())) {
    Log(LogLevel::kWarning,
        "fd store gone and not restartable: a restart of ubcd would fail "
        "trapped calls with ENOSYS");
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t generation = store_->generation();
  if (generation == deposited_generation_) return;
  // A store that was restarted holds nothing: hand it every fd again.
  size_t ok = 0;
  for (const auto& [key, deposit] : deposits_) {
    if (store_->Put(key, deposit.meta, deposit.fd).ok()) ++ok;
  }
  Log(LogLevel::kInfo, "fd store restarted: deposited " + std::to_string(ok) + " of " +
                           std::to_string(deposits_.size()) +
                           " fds again (notify fds and the proc view's)");
  deposited_generation_ = ok == deposits_.size() ? store_->generation() : 0;
}

std::vector<StoredContainerFd> FdCustody::TakeStored(std::map<std::string, nlohmann::json>* meta) {
  std::vector<StoredContainerFd> out;
  if (store_ == nullptr) return out;
  Result<std::vector<StoredFd>> stored = store_->List();
  if (!stored.ok()) {
    Log(LogLevel::kWarning, stored.status().message() + "; nothing to recover");
    return out;
  }
  for (StoredFd& entry : *stored) {
    const nlohmann::json& m = entry.meta;
    if (m.is_object() && m.contains("kind")) continue;
    auto text = [&](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto number = [&](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_number_integer() ? it->get<int>() : -1;
    };
    StoredContainerFd s;
    s.state.id = text("id");
    s.state.status = text("status");
    s.state.pid = std::max(0, number("pid"));
    s.state.state_pid = std::max(0, number("state_pid"));
    if (auto it = m.find("annotations"); it != m.end() && it->is_object()) {
      for (auto a = it->begin(); a != it->end(); ++a) {
        if (a->is_string()) s.state.annotations[a.key()] = a->get<std::string>();
      }
    }
    if (s.state.id.empty() || !SeccompNotifier::IsListenerFd(entry.fd.get())) {
      Log(LogLevel::kWarning, "fd store entry " + entry.key + " is unusable; skipped");
      continue;
    }
    s.runtime_pid = number("runtime_pid");
    s.slot = number("slot");
    s.key = entry.key;
    s.fd = std::move(entry.fd);
    (*meta)[s.key] = entry.meta;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ubc
