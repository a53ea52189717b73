#include "supervisor/supervisor.h"

#include <linux/seccomp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/annotations.h"
#include "core/container_accounting.h"
#include "core/limits_resolver.h"
#include "core/ubc_table.h"
#include "core/vz_value.h"
#include "supervisor/log.h"
#include "supervisor/proc_process_view.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {

struct Supervisor::Container {
  std::string id;
  ResolvedLimits limits;
  std::unique_ptr<ContainerAccounting> accounting;
  std::unique_ptr<ProcMembers> members;
  std::atomic<int> notify_fds{0};
  // Guarded by Supervisor::mu_.
  bool retired = false;
  std::chrono::steady_clock::time_point retired_at;
};

struct Supervisor::Row {
  std::string id;
  bool retired;
  int notify_fds;
  std::string profile;
  std::string limits_source;
  std::string membership;
  AccountingSnapshot snapshot;
};

Supervisor::Supervisor(SupervisorConfig config) : config_(std::move(config)) {}
Supervisor::~Supervisor() = default;

Status Supervisor::LoadContainerConfigs() {
  Result<std::vector<ContainerConfig>> loaded = LoadContainerConfigDir(config_.containers_dir);
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  container_configs_ = std::move(loaded).value();
  return Status::Ok();
}

void Supervisor::DropExpiredLocked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = containers_.begin(); it != containers_.end();) {
    const Container& c = *it->second;
    bool expired = c.retired && now - c.retired_at >= std::chrono::seconds(config_.retire_after_seconds);
    it = expired ? containers_.erase(it) : std::next(it);
  }
}

void Supervisor::Attach(const ContainerProcessState& state, UniqueFd notify_fd,
                        const PeerInfo& peer) {
  std::shared_ptr<Container> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DropExpiredLocked();
    auto it = containers_.find(state.id);
    if (it != containers_.end() && !it->second->retired) {
      c = it->second;
    } else {
      c = std::make_shared<Container>();
      c->id = state.id;
      UbcAnnotations annotations;
      if (Result<UbcAnnotations> parsed = ParseUbcAnnotations(state.annotations); parsed.ok()) {
        annotations = *parsed;
      } else {
        // ubc-hook rejects these before create; a config that bypassed it
        // still gets a beancounter, from the config files and defaults.
        Log(LogLevel::kError, "container " + state.id + ": " + parsed.status().message() +
                                  "; using config files and defaults");
      }
      const ContainerConfig* file = MatchContainerConfig(
          container_configs_, state.id, ContainerNameFromAnnotations(state.annotations));
      c->limits = ResolveLimits(annotations, file, config_);
      c->accounting = std::make_unique<ContainerAccounting>(
          c->limits.privvmpages.barrier_pages, c->limits.privvmpages.limit_pages,
          *c->limits.profile);
      int init_pid = state.state_pid > 0 ? state.state_pid : state.pid;
      Membership membership =
          init_pid > 0 ? DetermineMembership(init_pid, peer.pid) : Membership{};
      c->members = std::make_unique<ProcMembers>(membership);
      containers_[state.id] = c;
      Log(LogLevel::kInfo,
          "container " + state.id + ": privvmpages " + FormatVzBarrierLimit(c->limits.privvmpages) +
              " (" + LimitsSourceName(c->limits.privvmpages_source) + " " +
              c->limits.privvmpages_source_detail + "), profile " +
              std::string(c->limits.profile->name) + ", membership by " +
              membership.Describe());
    }
  }
  int fds = ++c->notify_fds;
  Log(LogLevel::kInfo, "container " + state.id + ": notify fd attached (status " + state.status +
                           ", pid " + std::to_string(state.pid) + ", " + std::to_string(fds) +
                           " fds)");
  std::thread(&Supervisor::Serve, this, c, std::move(notify_fd)).detach();
}

void Supervisor::Serve(std::shared_ptr<Container> c, UniqueFd fd) {
  SeccompNotifier notifier(std::move(fd));
  // Large enough for any kernel's struct: the kernel copies sizeof() of its own.
  seccomp_notif request{};
  for (;;) {
    SeccompNotifier::RecvResult r = notifier.Receive(&request);
    if (r == SeccompNotifier::RecvResult::kRetry) continue;
    if (r != SeccompNotifier::RecvResult::kNotification) {
      if (r == SeccompNotifier::RecvResult::kError) {
        Log(LogLevel::kError, "container " + c->id + ": notify fd receive failed: " +
                                  std::strerror(errno));
      }
      break;
    }
    TrappedCall call;
    call.tid = static_cast<int>(request.pid);
    call.arch = request.data.arch;
    call.nr = request.data.nr;
    for (int i = 0; i < 6; ++i) call.args[i] = request.data.args[i];
    ProcTarget target(notifier, request.id, call.tid);
    c->members->NoteProcess(call.tid);

    Decision d;
    try {
      d = c->accounting->Decide(call, target, *c->members);
    } catch (const std::exception& e) {
      // Never leave the caller waiting: an internal failure lets the call run.
      d = Decision{};
      d.note = std::string("internal error: ") + e.what();
    }
    seccomp_notif_resp response{};
    response.id = request.id;
    switch (d.action) {
      case Decision::Action::kContinue:
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        break;
      case Decision::Action::kFail:
        response.error = -d.error_number;
        break;
      case Decision::Action::kReturn:
        response.val = static_cast<int64_t>(d.return_value);
        break;
    }
    if (d.refused) {
      // Before answering: afterwards the notification (and its pid) is gone.
      Log(LogLevel::kWarning,
          "refused container=" + c->id + " pid=" + std::to_string(call.tid) + " comm=" +
              target.Comm() + " syscall=" + SyscallName(call.nr) + " pages=" +
              std::to_string(d.plan.pages) + " held=" + std::to_string(d.held_pages) + " " +
              ChargeCheckName(d.plan.check) + "=" + std::to_string(d.bound_pages) +
              (d.action == Decision::Action::kFail ? " errno=ENOMEM" : " returned=old-break"));
    }
    if (Status s = notifier.Respond(response); !s.ok()) {
      Log(LogLevel::kError, "container " + c->id + ": " + s.message());
    }
    if (!d.refused && !d.note.empty()) {
      Log(LogLevel::kDebug, "container " + c->id + ": pid " + std::to_string(call.tid) + " " +
                                SyscallName(call.nr) + " allowed: " + d.note);
    }
  }
  int left = --c->notify_fds;
  Log(LogLevel::kInfo, "container " + c->id + ": notify fd hung up (" + std::to_string(left) +
                           " left)");
  if (left == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    // A new container of the same id may have replaced this one meanwhile.
    auto it = containers_.find(c->id);
    if (it != containers_.end() && it->second == c && c->notify_fds == 0) {
      c->accounting->Retire(*c->members);
      c->retired = true;
      c->retired_at = std::chrono::steady_clock::now();
      Log(LogLevel::kInfo, "container " + c->id + ": retired");
    }
  }
}

std::vector<Supervisor::Row> Supervisor::Snapshot() {
  std::vector<std::shared_ptr<Container>> list;
  std::vector<bool> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DropExpiredLocked();
    for (auto& [id, c] : containers_) {
      list.push_back(c);
      retired.push_back(c->retired);
    }
  }
  std::vector<Row> rows;
  for (size_t i = 0; i < list.size(); ++i) {
    Container& c = *list[i];
    Row r;
    r.id = c.id;
    r.retired = retired[i];
    r.notify_fds = c.notify_fds.load();
    r.profile = std::string(c.accounting->profile().name);
    r.limits_source = LimitsSourceName(c.limits.privvmpages_source);
    r.membership = c.members->membership().Describe();
    r.snapshot = r.retired ? c.accounting->Peek() : c.accounting->Refresh(*c.members);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string Supervisor::StatusText() {
  std::vector<ContainerCounters> counters;
  for (const Row& r : Snapshot()) counters.push_back({r.id, r.snapshot.privvmpages});
  return RenderUserBeancounters(counters);
}

std::string Supervisor::StatusJson() {
  nlohmann::json out;
  out["containers"] = nlohmann::json::array();
  for (const Row& r : Snapshot()) {
    const BeancounterValues& v = r.snapshot.privvmpages;
    out["containers"].push_back({
        {"id", r.id},
        {"state", r.retired ? "retired" : "running"},
        {"processes", r.snapshot.processes},
        {"notify_fds", r.notify_fds},
        {"profile", r.profile},
        {"limits_source", r.limits_source},
        {"membership", r.membership},
        {"privvmpages",
         {{"held", v.held_pages},
          {"maxheld", v.maxheld_pages},
          {"barrier", v.barrier_pages},
          {"limit", v.limit_pages},
          {"failcnt", v.failcnt}}},
    });
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ubc
