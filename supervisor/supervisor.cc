#include "supervisor/supervisor.h"

#include <linux/seccomp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>
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

struct Supervisor::Attachment {
  bool recovered = false;
  int slot = -1;
  std::string key;       // in the fd store
  nlohmann::json meta;   // what the store keeps beside the fd
};

namespace {

std::string RandomToken() {
  uint64_t v = 0;
  std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(&v), sizeof v);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// What a restarted ubcd needs to rebuild a container: its id, pids and the
// annotations that carry limits (not the whole, possibly large, set).
nlohmann::json StoreMeta(const ContainerProcessState& state, int runtime_pid, int slot) {
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : state.annotations) {
    if (k.rfind("ubc.", 0) == 0 || k == "io.kubernetes.cri.container-name" ||
        k == "io.kubernetes.container.name" || k == "nerdctl/name" ||
        k == "io.podman.annotations.name") {
      annotations[k] = v;
    }
  }
  return {{"id", state.id},           {"pid", state.pid},   {"state_pid", state.state_pid},
          {"status", state.status},   {"slot", slot},       {"runtime_pid", runtime_pid},
          {"annotations", annotations}};
}

}  // namespace

Supervisor::Supervisor(SupervisorConfig config, FdStoreClient* store, InflightSlots* slots,
                       std::string state_path)
    : config_(std::move(config)),
      store_(store),
      slots_(slots),
      state_path_(std::move(state_path)),
      run_token_(RandomToken()) {
  if (store_ != nullptr) deposited_generation_ = store_->generation();
  if (state_path_.empty()) return;
  std::ifstream in(state_path_);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  Result<PersistedState> parsed = ParsePersistedState(text.str(), state_path_);
  if (parsed.ok()) {
    restored_ = std::move(parsed).value();
  } else {
    Log(LogLevel::kError, parsed.status().message() + "; counters start afresh");
  }
}
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
  Attachment attachment;
  if (slots_ != nullptr) attachment.slot = slots_->Acquire();
  if (store_ != nullptr) {
    attachment.key = run_token_ + "-" + std::to_string(next_key_++);
    attachment.meta = StoreMeta(state, peer.pid, attachment.slot);
    Status s = store_->Put(attachment.key, attachment.meta, notify_fd.get());
    if (!s.ok()) {
      Log(LogLevel::kWarning, "container " + state.id + ": " + s.message() +
                                  "; a restart of ubcd would fail its trapped calls");
    }
  }
  AttachFd(state, std::move(notify_fd), peer.pid, attachment);
}

void Supervisor::AttachFd(const ContainerProcessState& state, UniqueFd notify_fd,
                          int runtime_pid, const Attachment& attachment) {
  std::shared_ptr<Container> c;
  // A new container's membership is worked out from /proc (its cgroups, the
  // mount table: thousands of lines on a busy host) without holding the
  // registry lock, which status, REST, persistence and every other attach
  // wait on. Then the registry is looked at again: another fd of the same
  // container may have registered it meanwhile.
  std::optional<Membership> membership;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    DropExpiredLocked();
    auto it = containers_.find(state.id);
    if (it != containers_.end() && !it->second->retired) {
      c = it->second;
      break;
    }
    if (!membership) {
      lock.unlock();
      const int init_pid = state.state_pid > 0 ? state.state_pid : state.pid;
      membership = init_pid > 0 ? DetermineMembership(init_pid, runtime_pid) : Membership{};
      lock.lock();
      continue;
    }
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
        c->limits.privvmpages.barrier_pages, c->limits.privvmpages.limit_pages, *c->limits.profile);
    c->members = std::make_unique<ProcMembers>(*membership);
    if (attachment.recovered) {
      auto kept = restored_.find(state.id);
      if (kept != restored_.end()) {
        c->accounting->Restore(kept->second.maxheld_pages, kept->second.failcnt);
        if (kept->second.api_privvmpages) {
          c->limits.privvmpages = *kept->second.api_privvmpages;
          c->limits.privvmpages_source = LimitsSource::kApi;
          c->limits.privvmpages_source_detail = "api";
          c->accounting->SetLimits(c->limits.privvmpages.barrier_pages,
                                   c->limits.privvmpages.limit_pages);
        }
      }
    }
    containers_[state.id] = c;
    Log(LogLevel::kInfo,
        "container " + state.id + ": privvmpages " + FormatVzBarrierLimit(c->limits.privvmpages) +
            " (" + LimitsSourceName(c->limits.privvmpages_source) + " " +
            c->limits.privvmpages_source_detail + "), profile " +
            std::string(c->limits.profile->name) + ", on_error " + OnErrorName(c->limits.on_error) +
            ", membership by " + membership->Describe());
    break;
  }
  lock.unlock();
  if (store_ != nullptr && !attachment.key.empty()) {
    std::lock_guard<std::mutex> deposit_lock(deposit_mu_);
    deposits_[attachment.key] = Deposit{attachment.meta, notify_fd.get()};
  }
  int fds = ++c->notify_fds;
  Log(LogLevel::kInfo, "container " + state.id +
                           (attachment.recovered ? ": notify fd recovered (status "
                                                 : ": notify fd attached (status ") +
                           state.status +
                           ", pid " + std::to_string(state.pid) + ", " + std::to_string(fds) +
                           " fds)");
  std::thread(&Supervisor::Serve, this, c, std::move(notify_fd), attachment.slot,
              attachment.recovered, attachment.key)
      .detach();
}

void Supervisor::Answer(Container& c, SeccompNotifier& notifier,
                        const seccomp_notif& request, InflightSlot* slot) {
  if (slot != nullptr) {
    slot->id = request.id;
    slot->tid = static_cast<int32_t>(request.pid);
    slot->nr = request.data.nr;
    slot->arch = request.data.arch;
    for (int i = 0; i < 6; ++i) slot->args[i] = request.data.args[i];
    slot->deciding.store(1, std::memory_order_release);
  }
  // Two clock reads cost about as much as a fast decision: a sample is timed.
  thread_local uint32_t decisions_on_thread = 0;
  const bool timed = decisions_on_thread++ % kLatencySampleEvery == 0;
  std::chrono::steady_clock::time_point received;
  if (timed) received = std::chrono::steady_clock::now();
  TrappedCall call;
  call.tid = static_cast<int>(request.pid);
  call.arch = request.data.arch;
  call.nr = request.data.nr;
  for (int i = 0; i < 6; ++i) call.args[i] = request.data.args[i];
  ProcTarget target(notifier, request.id, call.tid);
  // Most calls on a notify fd come from the thread that made the previous
  // one: only a change of thread can announce a new process.
  thread_local int last_tid = -1;
  if (call.tid != last_tid) {
    c.members->NoteProcess(call.tid);
    last_tid = call.tid;
  }

  // Built in place (returned, not assigned): moving a Decision just written
  // field by field would stall on store forwarding.
  Decision d = [&] {
    try {
      return c.accounting->Decide(call, target, *c.members);
    } catch (const std::exception& e) {
      // Never leave the caller waiting: an internal failure is answered as the
      // container's on_error says (fail open by default).
      return UndecidableDecision(c.limits.on_error, std::string("internal error: ") + e.what());
    }
  }();
  ApplyOnError(c.limits.on_error, d);
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
        "refused container=" + c.id + " pid=" + std::to_string(e.pid) + " comm=" + e.comm +
            " syscall=" + e.syscall + " pages=" + std::to_string(e.requested_pages) +
            " held=" + std::to_string(e.held_pages) + " " + ChargeCheckName(e.checked) + "=" +
            std::to_string(e.bound_pages) +
            (e.error_number != 0 ? " errno=ENOMEM" : " returned=old-break"));
    c.events.Add(std::move(e));
    WakePersister();
  }
  // Recorded before answering: with SYNC_WAKE_UP the caller runs when this
  // thread next sleeps, so work after the answer delays it.
  metrics_.Record(MetricSyscallFor(call.nr),
                  d.refused
                      ? MetricVerdict::kRefused
                      : (d.note.empty() ? MetricVerdict::kAllowed : MetricVerdict::kUndecided));
  if (timed) {
    metrics_.RecordLatency(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - received)
                                  .count()));
  }
  if (Status s = notifier.Respond(response); !s.ok()) {
    Log(LogLevel::kError, "container " + c.id + ": " + s.message());
  }
  if (!d.refused && !d.note.empty()) {
    Log(LogLevel::kDebug, "container " + c.id + ": pid " + std::to_string(call.tid) + " " +
                              SyscallName(call.nr) + " allowed: " + d.note);
  }
  if (slot != nullptr) {
    slot->last_id = request.id;
    slot->deciding.store(0, std::memory_order_release);
  }
}

void Supervisor::Serve(std::shared_ptr<Container> c, UniqueFd fd, int slot_index,
                       bool recovered, std::string key) {
  SeccompNotifier notifier(std::move(fd));
  InflightSlot* slot = (slots_ != nullptr && slot_index >= 0) ? &slots_->at(slot_index) : nullptr;
  if (recovered && slot != nullptr) {
    // Calls the previous ubcd received and did not answer are in the kernel's
    // SENT state: no RECV returns them again. The one it was deciding is in
    // the slot, whole; it is decided again now.
    if (slot->deciding.load(std::memory_order_acquire) == 1 && notifier.IdValid(slot->id)) {
      seccomp_notif request{};
      request.id = slot->id;
      request.pid = static_cast<uint32_t>(slot->tid);
      request.data.arch = slot->arch;
      request.data.nr = slot->nr;
      for (int i = 0; i < 6; ++i) request.data.args[i] = slot->args[i];
      Log(LogLevel::kInfo, "container " + c->id + ": answering the call pid " +
                               std::to_string(slot->tid) + " was waiting on across the restart");
      Answer(*c, notifier, request, slot);
    }
    // Received but not yet written to the slot when ubcd died (a window of a
    // few instructions): the arguments are lost, so the call cannot be
    // decided and is answered as the container's on_error says.
    const uint64_t after = std::max(slot->id, slot->last_id);
    for (uint64_t id = after + 1; id <= after + 64; ++id) {
      if (!notifier.IdValid(id)) continue;
      seccomp_notif_resp response{};
      response.id = id;
      const bool fail_closed = c->limits.on_error == OnError::kEnomem;
      if (fail_closed) {
        response.error = -ENOMEM;
      } else {
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      }
      (void)notifier.Respond(response);
      Log(LogLevel::kWarning, "container " + c->id + ": a call whose arguments were lost in " +
                                  "the restart was " + (fail_closed ? "refused" : "let through") +
                                  " (notification " + std::to_string(id) + ")");
    }
  }
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
    Answer(*c, notifier, request, slot);
  }
  if (slots_ != nullptr && slot_index >= 0) slots_->Release(slot_index);
  Unlist(key);  // before `notifier` closes the fd
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

size_t Supervisor::RecoverFromStore() {
  if (store_ == nullptr) return 0;
  Result<std::vector<StoredFd>> stored = store_->List();
  if (!stored.ok()) {
    Log(LogLevel::kWarning, stored.status().message() + "; nothing to recover");
    return 0;
  }
  size_t recovered = 0;
  for (StoredFd& entry : *stored) {
    const nlohmann::json& m = entry.meta;
    ContainerProcessState state;
    auto text = [&](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto number = [&](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_number_integer() ? it->get<int>() : -1;
    };
    state.id = text("id");
    state.status = text("status");
    state.pid = std::max(0, number("pid"));
    state.state_pid = std::max(0, number("state_pid"));
    if (auto it = m.find("annotations"); it != m.end() && it->is_object()) {
      for (auto a = it->begin(); a != it->end(); ++a) {
        if (a->is_string()) state.annotations[a.key()] = a->get<std::string>();
      }
    }
    if (state.id.empty() || !SeccompNotifier::IsListenerFd(entry.fd.get())) {
      Log(LogLevel::kWarning, "fd store entry " + entry.key + " is unusable; skipped");
      continue;
    }
    Attachment attachment;
    attachment.recovered = true;
    attachment.slot = number("slot");
    attachment.key = entry.key;
    attachment.meta = entry.meta;
    if (slots_ != nullptr && attachment.slot >= 0) slots_->Claim(attachment.slot);
    AttachFd(state, std::move(entry.fd), number("runtime_pid"), attachment);
    ++recovered;
  }
  return recovered;
}

void Supervisor::WakePersister() {
  if (state_path_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    persist_soon_ = true;
  }
  wake_persister_.notify_one();
}

void Supervisor::Unlist(const std::string& key) {
  if (key.empty()) return;
  std::lock_guard<std::mutex> lock(deposit_mu_);
  deposits_.erase(key);
}

void Supervisor::KeepFdStore() {
  if (store_ == nullptr) return;
  // The starter pings the store first and starts one only when it is gone.
  if (!(ensure_store_ ? ensure_store_() : store_->Alive())) {
    Log(LogLevel::kWarning, "fd store gone and not restartable: a restart of ubcd would fail "
                            "trapped calls with ENOSYS");
    return;
  }
  std::lock_guard<std::mutex> lock(deposit_mu_);
  const uint64_t generation = store_->generation();
  if (generation == deposited_generation_) return;
  // A store that was restarted holds nothing: hand it every fd again.
  size_t ok = 0;
  for (const auto& [key, deposit] : deposits_) {
    if (store_->Put(key, deposit.meta, deposit.fd).ok()) ++ok;
  }
  Log(LogLevel::kInfo, "fd store restarted: deposited " + std::to_string(ok) + " of " +
                           std::to_string(deposits_.size()) + " notify fds again");
  deposited_generation_ = ok == deposits_.size() ? store_->generation() : 0;
}

void Supervisor::RunPersister() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      // Refusals and limit changes wake it at once; maxheld alone waits.
      wake_persister_.wait_for(lock, std::chrono::seconds(1), [this] { return persist_soon_; });
      persist_soon_ = false;
    }
    PersistIfChanged();
    KeepFdStore();
  }
}

void Supervisor::PersistIfChanged() {
  if (state_path_.empty()) return;
  PersistedState state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : containers_) {
      if (c->retired) continue;  // a new container of this id starts afresh
      AccountingSnapshot snap = c->accounting->Peek();
      PersistedContainer p;
      p.maxheld_pages = snap.privvmpages.maxheld_pages;
      p.failcnt = snap.privvmpages.failcnt;
      if (c->limits.privvmpages_source == LimitsSource::kApi) p.api_privvmpages = c->limits.privvmpages;
      state[id] = p;
    }
  }
  std::string text = SerializePersistedState(state);
  std::lock_guard<std::mutex> lock(persist_mu_);
  if (text == last_persisted_) return;
  // Written whole to a temporary file and renamed: a crash leaves the old
  // file or the new one, never half of one.
  const std::string tmp = state_path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      Log(LogLevel::kError, "writing " + tmp + " failed");
      return;
    }
  }
  if (std::rename(tmp.c_str(), state_path_.c_str()) != 0) {
    Log(LogLevel::kError, "renaming " + tmp + ": " + std::strerror(errno));
    return;
  }
  last_persisted_ = std::move(text);
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
  WakePersister();
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
