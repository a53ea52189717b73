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
  RefusalEvents events;
  // Guarded by Supervisor::mu_.
  bool retired = false;
  std::chrono::steady_clock::time_point retired_at;
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
    const auto received = std::chrono::steady_clock::now();
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
      RefusalEvent e;
      e.time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      e.pid = call.tid;
      e.comm = target.Comm();
      e.syscall = SyscallName(call.nr);
      e.requested_pages = d.plan.pages;
      e.held_pages = d.held_pages;
      e.checked = d.plan.check;
      e.bound_pages = d.bound_pages;
      e.error_number = d.action == Decision::Action::kFail ? d.error_number : 0;
      Log(LogLevel::kWarning,
          "refused container=" + c->id + " pid=" + std::to_string(e.pid) + " comm=" + e.comm +
              " syscall=" + e.syscall + " pages=" + std::to_string(e.requested_pages) +
              " held=" + std::to_string(e.held_pages) + " " + ChargeCheckName(e.checked) + "=" +
              std::to_string(e.bound_pages) +
              (e.error_number != 0 ? " errno=ENOMEM" : " returned=old-break"));
      c->events.Add(std::move(e));
    }
    if (Status s = notifier.Respond(response); !s.ok()) {
      Log(LogLevel::kError, "container " + c->id + ": " + s.message());
    }
    metrics_.Record(MetricSyscallFor(call.nr),
                    d.refused ? MetricVerdict::kRefused
                              : (d.note.empty() ? MetricVerdict::kAllowed : MetricVerdict::kUndecided),
                    static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::steady_clock::now() - received)
                                              .count()));
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

std::shared_ptr<Supervisor::Container> Supervisor::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked();
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

ContainerView Supervisor::View(Container& c, bool retired) {
  ContainerView v;
  v.id = c.id;
  v.retired = retired;
  v.notify_fds = c.notify_fds.load();
  v.profile = std::string(c.accounting->profile().name);
  v.membership = c.members->membership().Describe();
  {
    std::lock_guard<std::mutex> lock(mu_);
    v.limits = c.limits;
  }
  AccountingSnapshot snap = retired ? c.accounting->Peek() : c.accounting->Refresh(*c.members);
  v.processes = snap.processes;
  v.privvmpages = snap.privvmpages;
  return v;
}

std::vector<ContainerView> Supervisor::ListContainers() {
  std::vector<std::pair<std::shared_ptr<Container>, bool>> list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DropExpiredLocked();
    for (auto& [id, c] : containers_) list.emplace_back(c, c->retired);
  }
  std::vector<ContainerView> views;
  for (auto& [c, retired] : list) views.push_back(View(*c, retired));
  return views;
}

std::optional<ContainerView> Supervisor::GetContainer(const std::string& id) {
  std::shared_ptr<Container> c = Find(id);
  if (!c) return std::nullopt;
  bool retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retired = c->retired;
  }
  return View(*c, retired);
}

bool Supervisor::SetLimits(const std::string& id, const BarrierLimit& privvmpages) {
  std::shared_ptr<Container> c = Find(id);
  if (!c) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c->limits.privvmpages = privvmpages;
    c->limits.privvmpages_source = LimitsSource::kApi;
    c->limits.privvmpages_source_detail = "api";
  }
  c->accounting->SetLimits(privvmpages.barrier_pages, privvmpages.limit_pages);
  Log(LogLevel::kInfo, "container " + id + ": privvmpages set to " +
                           FormatVzBarrierLimit(privvmpages) + " through the API");
  return true;
}

std::optional<std::vector<RefusalEvent>> Supervisor::Events(const std::string& id) {
  std::shared_ptr<Container> c = Find(id);
  if (!c) return std::nullopt;
  return c->events.List();
}

std::string Supervisor::StatusText() {
  std::vector<ContainerCounters> counters;
  for (const ContainerView& v : ListContainers()) counters.push_back({v.id, v.privvmpages});
  return RenderUserBeancounters(counters);
}

std::string Supervisor::StatusJson() {
  nlohmann::json out;
  out["containers"] = nlohmann::json::array();
  for (const ContainerView& v : ListContainers()) {
    const BeancounterValues& p = v.privvmpages;
    out["containers"].push_back({
        {"id", v.id},
        {"state", v.retired ? "retired" : "running"},
        {"processes", v.processes},
        {"notify_fds", v.notify_fds},
        {"profile", v.profile},
        {"limits_source", LimitsSourceName(v.limits.privvmpages_source)},
        {"membership", v.membership},
        {"privvmpages",
         {{"held", p.held_pages},
          {"maxheld", p.maxheld_pages},
          {"barrier", p.barrier_pages},
          {"limit", p.limit_pages},
          {"failcnt", p.failcnt}}},
    });
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ubc
