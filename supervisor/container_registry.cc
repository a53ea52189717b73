#include "supervisor/container_registry.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "core/annotations.h"
#include "core/stack_headroom.h"
#include "core/vz_value.h"
#include "supervisor/log.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

std::string StackLimitText(std::optional<uint64_t> bytes) {
  if (!bytes) return "unknown";
  if (*bytes == kUnlimitedStackBytes) return "unlimited";
  return std::to_string(*bytes) + " bytes";
}

}  // namespace

ContainerRegistry::ContainerRegistry(SupervisorConfig config, ProcessView& view,
                                     PersistedState restored)
    : config_(std::move(config)), view_(view), restored_(std::move(restored)) {}

Status ContainerRegistry::LoadContainerConfigs() {
  Result<std::vector<ContainerConfig>> loaded = LoadContainerConfigDir(config_.containers_dir);
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  container_configs_ = std::move(loaded).value();
  return Status::Ok();
}

void ContainerRegistry::DropExpiredLocked() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(containers_, [&](const auto& entry) {
    const Container& c = *entry.second;
    return c.retired && now - c.retired_at >= std::chrono::seconds(config_.retire_after_seconds);
  });
}

// Field 22 of /proc/PID/stat (starttime, clock ticks after boot) in seconds;
// -1 when it cannot be read.
double ProcessStartAfterBootSeconds(int pid) {
  if (pid <= 0) return -1;
  Result<std::string> text =
      ReadProcFile("/proc/" + std::to_string(pid) + "/stat", ProcRecords::kOne);
  if (!text.ok()) return -1;
  const size_t paren = text->rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text->substr(paren + 1));
  std::string field;
  for (int n = 3; n <= 22 && (fields >> field); ++n) {
    if (n == 22) {
      const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
      char* end = nullptr;
      const unsigned long long ticks = std::strtoull(field.c_str(), &end, 10);
      if (ticks_per_s <= 0 || end == field.c_str() || *end != '\0') return -1;
      return static_cast<double>(ticks) / static_cast<double>(ticks_per_s);
    }
  }
  return -1;
}

void ContainerRegistry::ApplyNumproc(Container& c, const BarrierLimit& tasks) {
  // Without a pids cgroup of its own ubcd counts the container's tasks at
  // every trapped clone (ubc-hook traps them all for a finite numproc).
  const bool kernel_enforces = c.gauge && c.gauge->HasPidsCgroup();
  c.accounting->SetTaskLimits(kernel_enforces ? kUnlimitedPages : tasks.barrier_pages,
                              kernel_enforces ? kUnlimitedPages : tasks.limit_pages);
  if (!c.gauge) return;
  if (Status s = c.gauge->SetNumprocLimit(tasks); !s.ok()) {
    Log(LogLevel::kWarning, "container " + c.id + ": numproc limit not applied: " + s.message());
  }
}

std::shared_ptr<Container> ContainerRegistry::MakeLocked(
    const ContainerProcessState& state, bool recovered, std::unique_ptr<ContainerMembers> members,
    std::unique_ptr<ResourceGauge> gauge, std::optional<uint64_t> stack_hard_limit_bytes) {
  auto c = std::make_shared<Container>();
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
  c->meminfo = c->limits.meminfo;
  c->started_after_boot_s =
      ProcessStartAfterBootSeconds(state.state_pid > 0 ? state.state_pid : state.pid);
  c->on_error = c->limits.on_error;
  // The estimate must stay clear of the bound by what a stack may grow
  // without a trapped call: the container's own RLIMIT_STACK hard limit.
  ContainerAccounting::Tuning tuning;
  tuning.fast_path_headroom_pages = StackHeadroomPages(stack_hard_limit_bytes);
  c->accounting = std::make_unique<ContainerAccounting>(c->limits.privvmpages.barrier_pages,
                                                        c->limits.privvmpages.limit_pages,
                                                        *c->limits.profile, tuning);
  c->accounting->SetShmLimits(c->limits.shmpages.barrier_pages, c->limits.shmpages.limit_pages);
  c->accounting->SetLockedLimits(c->limits.lockedpages.barrier_pages,
                                 c->limits.lockedpages.limit_pages);
  c->members = std::move(members);
  c->gauge = std::move(gauge);
  if (recovered) {
    if (auto kept = restored_.find(state.id); kept != restored_.end()) {
      c->accounting->Restore(kept->second.maxheld_pages, kept->second.failcnt);
      c->accounting->RestoreShm(kept->second.shm_maxheld_pages, kept->second.shm_failcnt);
      c->accounting->RestoreLocked(kept->second.locked_maxheld_pages, kept->second.locked_failcnt);
      if (kept->second.api_privvmpages) {
        c->limits.privvmpages = *kept->second.api_privvmpages;
        c->limits.privvmpages_source = LimitsSource::kApi;
        c->limits.privvmpages_source_detail = "api";
        c->accounting->SetLimits(c->limits.privvmpages.barrier_pages,
                                 c->limits.privvmpages.limit_pages);
      }
      if (kept->second.api_shmpages) {
        c->limits.shmpages = *kept->second.api_shmpages;
        c->limits.shmpages_source = LimitsSource::kApi;
        c->limits.shmpages_source_detail = "api";
        c->accounting->SetShmLimits(c->limits.shmpages.barrier_pages,
                                    c->limits.shmpages.limit_pages);
      }
      if (kept->second.api_meminfo) {
        c->limits.meminfo = *kept->second.api_meminfo;
        c->limits.meminfo_source = LimitsSource::kApi;
        c->limits.meminfo_source_detail = "api";
        std::lock_guard<std::mutex> view(c->meminfo_mu);
        c->meminfo = *kept->second.api_meminfo;
      }
      if (kept->second.api_lockedpages) {
        c->limits.lockedpages = *kept->second.api_lockedpages;
        c->limits.lockedpages_source = LimitsSource::kApi;
        c->limits.lockedpages_source_detail = "api";
        c->accounting->SetLockedLimits(c->limits.lockedpages.barrier_pages,
                                       c->limits.lockedpages.limit_pages);
      }
      if (kept->second.api_numproc) {
        c->limits.numproc = *kept->second.api_numproc;
        c->limits.numproc_source = LimitsSource::kApi;
        c->limits.numproc_source_detail = "api";
      }
      if (c->gauge) c->gauge->Restore(kept->second.numproc_maxheld, kept->second.numproc_failcnt);
      c->accounting->RestoreTasks(kept->second.numproc_maxheld, kept->second.numproc_failcnt);
    }
  }
  // Also when ubc-hook already wrote it as linux.resources.pids.limit: a
  // containers.d file or default may have changed since, and a restart must
  // not leave a live change behind.
  if (c->limits.numproc.limit_pages != kUnlimitedPages) ApplyNumproc(*c, c->limits.numproc);
  Log(LogLevel::kInfo,
      "container " + state.id + ": privvmpages " + FormatVzBarrierLimit(c->limits.privvmpages) +
          " (" + LimitsSourceName(c->limits.privvmpages_source) + " " +
          c->limits.privvmpages_source_detail + "), shmpages " +
          FormatVzBarrierLimit(c->limits.shmpages) + " (" +
          LimitsSourceName(c->limits.shmpages_source) + " " + c->limits.shmpages_source_detail +
          "), lockedpages " + FormatVzBarrierLimit(c->limits.lockedpages) + " (" +
          LimitsSourceName(c->limits.lockedpages_source) + " " +
          c->limits.lockedpages_source_detail + "), numproc " +
          FormatVzBarrierLimit(c->limits.numproc) + " (" +
          LimitsSourceName(c->limits.numproc_source) + " " + c->limits.numproc_source_detail +
          (c->gauge && c->gauge->HasPidsCgroup() ? ", pids cgroup"
           : c->limits.numproc.limit_pages != kUnlimitedPages
               ? ", no pids cgroup: counted by ubcd at every clone"
               : ", no pids cgroup") +
          "), profile " + std::string(c->limits.profile->name) + ", on_error " +
          OnErrorName(c->limits.on_error) + ", membership by " + c->members->Describe() +
          ", stack headroom " + std::to_string(tuning.fast_path_headroom_pages) +
          " pages (RLIMIT_STACK hard " + StackLimitText(stack_hard_limit_bytes) + ")");
  return c;
}

std::shared_ptr<Container> ContainerRegistry::Attach(const ContainerProcessState& state,
                                                     int runtime_pid, bool recovered) {
  // A new container's membership is worked out from /proc (its cgroups, the
  // mount table: thousands of lines on a busy host) without holding the
  // registry lock, which status, REST, persistence and every other attach
  // wait on. Then the registry is looked at again: another fd of the same
  // container may have registered it meanwhile.
  std::unique_ptr<ContainerMembers> members;
  std::unique_ptr<ResourceGauge> gauge;
  std::optional<uint64_t> stack_hard_limit_bytes;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    DropExpiredLocked();
    auto it = containers_.find(state.id);
    if (it != containers_.end() && !it->second->retired) {
      ++it->second->notify_fds;
      return it->second;
    }
    if (members) break;
    lock.unlock();
    const int init_pid = state.state_pid > 0 ? state.state_pid : state.pid;
    members = view_.Members(init_pid, runtime_pid);
    gauge = view_.Gauge(init_pid, runtime_pid);
    stack_hard_limit_bytes = view_.StackHardLimitBytes(init_pid);
    lock.lock();
  }
  std::shared_ptr<Container> c =
      MakeLocked(state, recovered, std::move(members), std::move(gauge), stack_hard_limit_bytes);
  ++c->notify_fds;
  containers_[state.id] = c;
  return c;
}

int ContainerRegistry::Detach(const std::shared_ptr<Container>& c) {
  const int left = --c->notify_fds;
  if (left != 0) return left;
  std::lock_guard<std::mutex> lock(mu_);
  // A new container of the same id may have replaced this one meanwhile.
  auto it = containers_.find(c->id);
  if (it != containers_.end() && it->second == c && c->notify_fds == 0) {
    c->accounting->Retire(*c->members);
    c->retired = true;
    c->retired_at = std::chrono::steady_clock::now();
    Log(LogLevel::kInfo, "container " + c->id + ": retired");
  }
  return left;
}

std::vector<std::shared_ptr<Container>> ContainerRegistry::All() {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked();
  std::vector<std::shared_ptr<Container>> out;
  out.reserve(containers_.size());
  for (auto& [id, c] : containers_) out.push_back(c);
  return out;
}

std::shared_ptr<Container> ContainerRegistry::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked();
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

std::shared_ptr<Container> ContainerRegistry::FindByProcess(ProcessLocation& where) {
  std::vector<std::shared_ptr<Container>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running.reserve(containers_.size());
    for (const auto& [id, c] : containers_) {
      if (!c->retired) running.push_back(c);
    }
  }
  for (std::shared_ptr<Container>& c : running) {
    if (c->members->Contains(where)) return std::move(c);
  }
  return nullptr;
}

ContainerReport ContainerRegistry::Report(const Container& c) {
  ContainerReport r;
  r.id = c.id;
  r.notify_fds = c.notify_fds.load();
  r.profile = std::string(c.accounting->profile().name);
  r.membership = c.members->Describe();
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.retired = c.retired;
    r.limits = c.limits;
  }
  const AccountingSnapshot snap = c.accounting->Published();
  r.processes = snap.processes;
  r.privvmpages = snap.privvmpages;
  r.shmpages = snap.shmpages;
  r.lockedpages = snap.lockedpages;
  // A retired container's cgroup and processes are gone: its last sample stands.
  if (c.gauge) r.measured = r.retired ? c.gauge->Last() : c.gauge->Read();
  if (snap.numproc.limit_pages != kUnlimitedPages) {
    // ubcd enforces numproc itself: its bounds, refusals and count; the
    // gauge's sample is at most as fresh.
    BeancounterValues n = snap.numproc;
    if (r.measured.numproc)
      n.maxheld_pages = std::max(n.maxheld_pages, r.measured.numproc->maxheld_pages);
    r.measured.numproc = n;
  }
  return r;
}

bool ContainerRegistry::SetLimits(const std::string& id, const LimitsChange& change) {
  std::shared_ptr<Container> c = Find(id);
  if (!c) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (change.privvmpages) {
      c->limits.privvmpages = *change.privvmpages;
      c->limits.privvmpages_source = LimitsSource::kApi;
      c->limits.privvmpages_source_detail = "api";
    }
    if (change.shmpages) {
      c->limits.shmpages = *change.shmpages;
      c->limits.shmpages_source = LimitsSource::kApi;
      c->limits.shmpages_source_detail = "api";
    }
    if (change.numproc) {
      c->limits.numproc = *change.numproc;
      c->limits.numproc_source = LimitsSource::kApi;
      c->limits.numproc_source_detail = "api";
    }
    if (change.meminfo) {
      c->limits.meminfo = *change.meminfo;
      c->limits.meminfo_source = LimitsSource::kApi;
      c->limits.meminfo_source_detail = "api";
      std::lock_guard<std::mutex> view(c->meminfo_mu);
      c->meminfo = *change.meminfo;
    }
    if (change.lockedpages) {
      c->limits.lockedpages = *change.lockedpages;
      c->limits.lockedpages_source = LimitsSource::kApi;
      c->limits.lockedpages_source_detail = "api";
    }
  }
  if (change.privvmpages) {
    c->accounting->SetLimits(change.privvmpages->barrier_pages, change.privvmpages->limit_pages);
    Log(LogLevel::kInfo, "container " + id + ": privvmpages set to " +
                             FormatVzBarrierLimit(*change.privvmpages) + " through the API");
  }
  if (change.shmpages) {
    c->accounting->SetShmLimits(change.shmpages->barrier_pages, change.shmpages->limit_pages);
    Log(LogLevel::kInfo, "container " + id + ": shmpages set to " +
                             FormatVzBarrierLimit(*change.shmpages) + " through the API");
  }
  if (change.lockedpages) {
    c->accounting->SetLockedLimits(change.lockedpages->barrier_pages,
                                   change.lockedpages->limit_pages);
    Log(LogLevel::kInfo, "container " + id + ": lockedpages set to " +
                             FormatVzBarrierLimit(*change.lockedpages) + " through the API");
  }
  if (change.numproc) {
    ApplyNumproc(*c, *change.numproc);
    Log(LogLevel::kInfo, "container " + id + ": numproc set to " +
                             FormatVzBarrierLimit(*change.numproc) + " through the API");
  }
  return true;
}

PersistedState ContainerRegistry::Persistable() {
  PersistedState state;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, c] : containers_) {
    if (c->retired) continue;  // a new container of this id starts afresh
    const AccountingSnapshot snap = c->accounting->Published();
    PersistedContainer p;
    p.maxheld_pages = snap.privvmpages.maxheld_pages;
    p.failcnt = snap.privvmpages.failcnt;
    p.shm_maxheld_pages = snap.shmpages.maxheld_pages;
    p.shm_failcnt = snap.shmpages.failcnt;
    if (c->limits.privvmpages_source == LimitsSource::kApi)
      p.api_privvmpages = c->limits.privvmpages;
    if (c->limits.shmpages_source == LimitsSource::kApi) p.api_shmpages = c->limits.shmpages;
    p.locked_maxheld_pages = snap.lockedpages.maxheld_pages;
    p.locked_failcnt = snap.lockedpages.failcnt;
    if (c->limits.lockedpages_source == LimitsSource::kApi) {
      p.api_lockedpages = c->limits.lockedpages;
    }
    if (c->limits.meminfo_source == LimitsSource::kApi) p.api_meminfo = c->limits.meminfo;
    if (c->gauge) {
      if (const MeasuredResources m = c->gauge->Last(); m.numproc) {
        p.numproc_maxheld = m.numproc->maxheld_pages;
        p.numproc_failcnt = m.numproc->failcnt;
      }
    }
    if (snap.numproc.limit_pages != kUnlimitedPages) {
      p.numproc_maxheld = std::max(p.numproc_maxheld, snap.numproc.maxheld_pages);
      p.numproc_failcnt = snap.numproc.failcnt;
    }
    if (c->limits.numproc_source == LimitsSource::kApi) p.api_numproc = c->limits.numproc;
    state[id] = p;
  }
  return state;
}

}  // namespace ubc
