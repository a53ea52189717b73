#include "supervisor/supervisor.h"

#include <utility>

#include "core/file_reader.h"
#include "core/meminfo_view.h"
#include "core/monotonic_clock.h"
#include "core/ubc_table.h"
#include "supervisor/log.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {

PersistedState ReadStateFile(const std::string& path) {
  if (path.empty()) return {};
  Result<std::string> text = ReadFileBounded(path, kMaxStateFileBytes);
  if (!text.ok()) {
    if (text.status().error_number() != ENOENT) {
      Log(LogLevel::kError, text.status().message() + "; counters start afresh");
    }
    return {};
  }
  Result<PersistedState> parsed = ParsePersistedState(*text, path);
  if (!parsed.ok()) {
    Log(LogLevel::kError, parsed.status().message() + "; counters start afresh");
    return {};
  }
  return std::move(parsed).value();
}

Supervisor::Supervisor(SupervisorConfig config, Parts parts)
    : config_(std::move(config)),
      view_(parts.view),
      registry_(config_, *parts.view, ReadStateFile(parts.state_path)),
      custody_(parts.store, std::move(parts.ensure_store)),
      slots_(parts.slots),
      persister_(
          parts.state_path, [this] { return registry_.Persistable(); }, [this] { Tick(); }),
      responder_(*parts.view, parts.slots,
                 NotifyResponder::Hooks{
                     [this](Container&) { persister_.WakeSoon(); },
                     [this](const std::shared_ptr<Container>& c, const std::string& key) {
                       custody_.Release(key);
                       const int left = registry_.Detach(c);
                       Log(LogLevel::kInfo, "container " + c->id + ": notify fd hung up (" +
                                                std::to_string(left) + " left)");
                     }}),
      exec_enforcer_(registry_, *parts.view, PinProcess,
                     [this](Container&) { persister_.WakeSoon(); }) {}

Supervisor::~Supervisor() { Stop(); }

void Supervisor::Start() {
  InstallWakeSignal();
  persister_.Start();
}

void Supervisor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // The view's thread renders from the registry: it goes first. Its
  // connection stays in the fd store, so readers wait for the next ubcd.
  if (proc_view_) {
    custody_.Unlist(proc_view_key_);
    proc_view_.reset();
  }
  // No decision after this one; then nothing is left to publish or write.
  responder_.Stop();
  refresher_.Stop();
  persister_.Stop();
}

void Supervisor::Tick() {
  custody_.Keep();
  responder_.Tick();
  FlushLogSummaries();
}

Status Supervisor::LoadContainerConfigs() { return registry_.LoadContainerConfigs(); }

void Supervisor::Attach(const ContainerProcessState& state, UniqueFd notify_fd, int runtime_pid) {
  const int fd = notify_fd.get();
  Attach(state, std::make_unique<SeccompNotifier>(std::move(notify_fd)), fd, runtime_pid);
}

void Supervisor::Attach(const ContainerProcessState& state, std::unique_ptr<Notifier> notifier,
                        int notify_fd, int runtime_pid) {
  const int slot = slots_ != nullptr ? slots_->Acquire() : -1;
  std::string key =
      notify_fd >= 0 ? custody_.Deposit(state, runtime_pid, slot, notify_fd) : std::string();
  std::shared_ptr<Container> c = registry_.Attach(state, runtime_pid, /*recovered=*/false);
  Log(LogLevel::kInfo, "container " + state.id + ": notify fd attached (status " + state.status +
                           ", pid " + std::to_string(state.pid) + ", " +
                           std::to_string(c->notify_fds.load()) + " fds)");
  responder_.Serve(std::move(c), std::move(notifier), slot, /*recovered=*/false, std::move(key));
}

size_t Supervisor::RecoverFromStore() {
  std::map<std::string, nlohmann::json> meta;
  std::vector<StoredContainerFd> stored = custody_.TakeStored(&meta);
  for (StoredContainerFd& s : stored) {
    custody_.Adopt(s, meta[s.key]);
    if (slots_ != nullptr && s.slot >= 0) slots_->Claim(s.slot);
    std::shared_ptr<Container> c = registry_.Attach(s.state, s.runtime_pid, /*recovered=*/true);
    Log(LogLevel::kInfo, "container " + s.state.id + ": notify fd recovered (status " +
                             s.state.status + ", pid " + std::to_string(s.state.pid) + ", " +
                             std::to_string(c->notify_fds.load()) + " fds)");
    responder_.Serve(std::move(c), std::make_unique<SeccompNotifier>(std::move(s.fd)), s.slot,
                     /*recovered=*/true, s.key);
  }
  return stored.size();
}

std::vector<ContainerReport> Supervisor::ListContainers() {
  std::vector<std::shared_ptr<Container>> all = registry_.All();
  refresher_.Freshen(all);
  std::vector<ContainerReport> out;
  out.reserve(all.size());
  for (const std::shared_ptr<Container>& c : all) out.push_back(registry_.Report(*c));
  return out;
}

std::optional<ContainerReport> Supervisor::GetContainer(const std::string& id) {
  std::shared_ptr<Container> c = registry_.Find(id);
  if (!c) return std::nullopt;
  refresher_.Freshen({c});
  return registry_.Report(*c);
}

bool Supervisor::SetLimits(const std::string& id, const LimitsChange& change) {
  if (!registry_.SetLimits(id, change)) return false;
  // In the state file before the API answers: an acknowledged change survives a
  // crash right after it (the persister thread could be seconds late under I/O load).
  if (Status s = persister_.PersistNow(); !s.ok()) {
    Log(LogLevel::kError, "container " + id + ": limits changed but not saved: " + s.message());
    persister_.WakeSoon();
  }
  return true;
}

std::optional<std::vector<RefusalEvent>> Supervisor::Events(const std::string& id) {
  std::shared_ptr<Container> c = registry_.Find(id);
  if (!c) return std::nullopt;
  return c->events.List();
}

std::string Supervisor::StatusText() {
  std::vector<ContainerCounters> counters;
  for (const ContainerReport& r : ListContainers()) counters.push_back(CountersOf(r));
  return RenderUserBeancounters(counters);
}

std::string Supervisor::StatusJson() {
  return ContainerReportsJson(ListContainers())
             .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

void Supervisor::ServeProcView(UniqueFd fuse_fd, bool recovered, const std::string& store_key,
                               const nlohmann::json& meta) {
  const int fd = fuse_fd.get();
  auto started = ProcViewFs::Start(std::move(fuse_fd), recovered,
                                   [this](ProcViewFile file, pid_t tid, bool reading) {
                                     return ProcViewText(file, tid, reading);
                                   });
  if (!started.ok()) {
    Log(LogLevel::kWarning,
        started.status().message() + ": containers see the host's /proc/meminfo");
    return;
  }
  proc_view_ = std::move(started).value();
  proc_view_key_ = store_key;
  custody_.Keep(store_key, meta, fd);
}

std::string Supervisor::HostMeminfo() {
  // The view copies only machine properties from it (and the whole of it to
  // readers of no container): read at most every 100 ms, not per read.
  const int64_t now = CoarseMonotonicMs();
  std::lock_guard<std::mutex> lock(host_meminfo_mu_);
  if (host_meminfo_.empty() || now - host_meminfo_at_ms_ >= 100) {
    Result<std::string> text = ReadFileBounded("/proc/meminfo", 64 * 1024);
    if (text.ok()) {
      host_meminfo_ = std::move(text).value();
      host_meminfo_at_ms_ = now;
    }
  }
  return host_meminfo_;
}

ProcViewContent Supervisor::ProcViewText(ProcViewFile file, int tid, bool reading) {
  std::shared_ptr<Container> c;
  if (tid > 0) {
    std::unique_ptr<ProcessLocation> where = view_->Locate(tid);
    c = registry_.FindByProcess(*where);
  }
  const bool meminfo = file == ProcViewFile::kMeminfo;
  const std::string host = meminfo ? HostMeminfo() : std::string();
  if (!c) {
    // Runtimes stat the view as they bind it: only reads are worth a line.
    if (reading)
      LogLimited(LogLevel::kInfo, "proc view unknown", "proc view reads by unknown processes",
                 "proc view: pid " + std::to_string(tid) +
                     " is in no container of ubcd's; it is shown the host's " +
                     (meminfo ? "/proc/meminfo" : "(empty) beancounter table"));
    return {meminfo ? host : RenderUserBeancounters({}), false};
  }
  if (!meminfo) {
    // As fresh as the host's table (the same refresher).
    refresher_.Freshen({c});
    return {RenderUserBeancounters({CountersOf(registry_.Report(*c))}), true};
  }
  // The figures sysinfo shows, from the published estimate: no wait for a
  // fresh exact read, which every read of the file would otherwise pay.
  if (c->Meminfo().kind == MeminfoMode::Kind::kNone) return {host, true};
  const std::optional<SysinfoFacts> facts = ContainerSysinfoNow(*c);
  if (!facts) return {host, true};
  const AccountingSnapshot snap = c->accounting->Published();
  MeminfoFigures figures;
  figures.total_bytes = facts->totalram_bytes;
  figures.free_bytes = facts->freeram_bytes;
  figures.shmem_bytes = snap.shmpages.held_pages * kPageBytes;
  figures.locked_bytes = snap.lockedpages.held_pages * kPageBytes;
  return {RenderContainerMeminfo(host, figures), true};
}

}  // namespace ubc
