#include "supervisor/notify_responder.h"

#include <sys/sysinfo.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <utility>

#include "core/container_sysinfo.h"
#include "core/decision.h"
#include "supervisor/caller_memory.h"
#include "supervisor/exec_enforcer.h"
#include "supervisor/log.h"
#include "supervisor/process_pin.h"

namespace ubc {

struct NotifyResponder::Worker {
  std::shared_ptr<Container> container;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<CallTarget> target;
  int slot_index = -1;
  InflightSlot* slot = nullptr;
  bool recovered = false;
  std::string key;
  std::thread thread;
  std::atomic<bool> done{false};
  // Two clock reads cost about as much as a fast decision: 1 in
  // kLatencySampleEvery decisions is timed.
  uint32_t decisions = 0;
  // Most calls on a notify fd come from the thread that made the previous
  // one: only a change of thread can announce a new process.
  int last_tid = -1;
};

NotifyResponder::NotifyResponder(ProcessView& view, InflightSlots* slots, Hooks hooks)
    : view_(view), slots_(slots), hooks_(std::move(hooks)) {}

NotifyResponder::~NotifyResponder() { Stop(); }

void NotifyResponder::Serve(std::shared_ptr<Container> container,
                            std::unique_ptr<Notifier> notifier, int slot, bool recovered,
                            std::string key) {
  auto w = std::make_unique<Worker>();
  w->container = std::move(container);
  w->target = view_.Target(*notifier);
  w->notifier = std::move(notifier);
  w->slot_index = slot;
  w->slot = (slots_ != nullptr && slot >= 0) ? &slots_->at(slot) : nullptr;
  w->recovered = recovered;
  w->key = std::move(key);
  Start(std::move(w));
}

void NotifyResponder::Start(std::unique_ptr<Worker> w) {
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked();
  if (stopping_) return;  // the notifier closes; the fd store keeps the filter
  Worker* raw = w.get();
  try {
    raw->thread = std::thread([this, raw] { Run(*raw); });
  } catch (const std::system_error& e) {
    Log(LogLevel::kError, "container " + raw->container->id + ": cannot start a notify thread (" +
                              e.what() + "); its calls wait until one can be started");
    parked_.push_back(std::move(w));
    return;
  }
  workers_.push_back(std::move(w));
}

// Workers are reaped (joined, their notifier and fd closed) by the next
// Serve(), Tick() or Workers(): at most a second after a hang-up.
void NotifyResponder::ReapLocked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->done.load(std::memory_order_acquire)) {
      (*it)->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void NotifyResponder::Tick() {
  std::list<std::unique_ptr<Worker>> retry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ReapLocked();
    retry.swap(parked_);
  }
  for (std::unique_ptr<Worker>& w : retry) Start(std::move(w));
}

size_t NotifyResponder::Workers() {
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked();
  return workers_.size();
}

void NotifyResponder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    parked_.clear();
  }
  // No worker is added once stopping_ is set; the list is only read here.
  for (;;) {
    Worker* running = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ReapLocked();
      if (workers_.empty()) return;
      for (auto& w : workers_) {
        if (!w->done.load(std::memory_order_acquire)) {
          running = w.get();
          break;
        }
      }
      // An interrupt that arrives just before the worker blocks again is
      // lost: ask every few milliseconds until it is out.
      if (running != nullptr) running->notifier->Interrupt();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(running != nullptr ? 2 : 0));
  }
}

void NotifyResponder::Replay(Worker& w) {
  Container& c = *w.container;
  InflightSlot* slot = w.slot;
  if (!w.recovered || slot == nullptr) return;
  // Calls the previous ubcd received and did not answer are in the kernel's
  // SENT state: no RECV returns them again. The one it was deciding is in
  // the slot, whole; it is decided again now.
  if (slot->deciding.load(std::memory_order_acquire) == 1 && w.notifier->IdValid(slot->id)) {
    seccomp_notif request{};
    request.id = slot->id;
    request.pid = static_cast<uint32_t>(slot->tid);
    request.data.arch = slot->arch;
    request.data.nr = slot->nr;
    for (int i = 0; i < 6; ++i) request.data.args[i] = slot->args[i];
    Log(LogLevel::kInfo, "container " + c.id + ": answering the call pid " +
                             std::to_string(slot->tid) + " was waiting on across the restart");
    Answer(w, request);
  }
  // Received but not yet written to the slot when ubcd died (a window of a
  // few instructions): the arguments are lost, so the call cannot be
  // decided and is answered as the container's on_error says.
  const uint64_t after = std::max(slot->id, slot->last_id);
  for (uint64_t id = after + 1; id <= after + 64; ++id) {
    if (!w.notifier->IdValid(id)) continue;
    const Decision d = UndecidableDecision(c.on_error, "arguments lost in the restart");
    seccomp_notif_resp response{};
    response.id = id;
    if (d.action == Decision::Action::kFail) {
      response.error = -d.error_number;
    } else {
      response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
    (void)w.notifier->Respond(response);  // the caller may be gone: nothing waits then
    Log(LogLevel::kWarning, "container " + c.id + ": a call whose arguments were lost in " +
                                "the restart was " +
                                (d.action == Decision::Action::kFail ? "refused" : "let through") +
                                " (notification " + std::to_string(id) + ")");
  }
}

void NotifyResponder::Run(Worker& w) {
  Container& c = *w.container;
  Replay(w);
  // Large enough for any kernel's struct: the kernel copies sizeof() of its own.
  seccomp_notif request{};
  for (;;) {
    const Notifier::RecvResult r = w.notifier->Receive(&request);
    if (r == Notifier::RecvResult::kNotification) {
      Answer(w, request);
      continue;
    }
    if (r == Notifier::RecvResult::kRetry) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      continue;
    }
    if (r == Notifier::RecvResult::kError) {
      Log(LogLevel::kError,
          "container " + c.id + ": notify fd receive failed: " + std::strerror(errno));
    }
    if (slots_ != nullptr && w.slot_index >= 0) slots_->Release(w.slot_index);
    if (hooks_.on_hangup) hooks_.on_hangup(w.container, w.key);  // before the fd closes
    break;
  }
  // The notifier (and its fd) goes when the worker is reaped: Stop() may
  // still be interrupting it. Stopped rather than hung up, the fd store's
  // copy keeps the filter and the slot stays claimed for the next ubcd.
  w.done.store(true, std::memory_order_release);
}

void NotifyResponder::KillExecdImage(Worker& w, const seccomp_notif& request, Container& c,
                                     const Decision& d) {
  // While the notification is valid its thread is blocked in the call, so
  // the pid pinned now is that process (after an exec, tid == tgid).
  const int tgid = static_cast<int>(request.pid);
  Result<std::unique_ptr<ProcessPin>> pin = ProcessPin::Pin(tgid);
  Status killed = !pin.ok()                          ? pin.status()
                  : !w.notifier->IdValid(request.id) ? Status::Error("it is gone")
                                                     : (*pin)->Kill();
  ContainerAccounting::ImageCheck check;
  check.checked = check.member = check.over_limit = true;
  check.image_pages = d.plan.pages;
  check.held_pages = d.held_pages;
  check.limit_pages = d.bound_pages;
  RecordExecKill(c, tgid, w.target->Comm(), check, killed);
  if (hooks_.on_refusal) hooks_.on_refusal(c);
}

std::optional<SysinfoFacts> ContainerSysinfoNow(const Container& c) {
  const MeminfoMode mode = c.Meminfo();
  struct sysinfo host {};
  if (::sysinfo(&host) != 0) return std::nullopt;
  const uint64_t unit = host.mem_unit == 0 ? 1 : host.mem_unit;
  SysinfoFacts facts;
  facts.uptime_s = host.uptime;
  for (size_t i = 0; i < 3; ++i) facts.loads[i] = host.loads[i];
  facts.totalram_bytes = host.totalram * unit;
  facts.freeram_bytes = host.freeram * unit;
  facts.sharedram_bytes = host.sharedram * unit;
  facts.bufferram_bytes = host.bufferram * unit;
  facts.totalswap_bytes = host.totalswap * unit;
  facts.freeswap_bytes = host.freeswap * unit;
  facts.procs = host.procs;
  facts.totalhigh_bytes = host.totalhigh * unit;
  facts.freehigh_bytes = host.freehigh * unit;
  const AccountingSnapshot snap = c.accounting->Published();
  // Tasks as the numproc row counts them, when it has been sampled: reading
  // them here would put /proc reads of every member on this call.
  uint64_t tasks = snap.processes;
  if (snap.numproc.limit_pages != kUnlimitedPages) {
    tasks = snap.numproc.held_pages;
  } else if (c.gauge) {
    if (const MeasuredResources m = c.gauge->Last(); m.numproc && m.numproc->held_pages > 0) {
      tasks = m.numproc->held_pages;
    }
  }
  const int64_t age_s =
      c.started_after_boot_s >= 0
          ? std::max<int64_t>(0, host.uptime - static_cast<int64_t>(c.started_after_boot_s))
          : -1;
  return ContainerSysinfo(mode, facts, snap.privvmpages, tasks, age_s);
}

seccomp_notif_resp NotifyResponder::AnswerSysinfo(Worker& w, const seccomp_notif& request,
                                                  const TrappedCall& call) {
  Container& c = *w.container;
  seccomp_notif_resp response{};
  response.id = request.id;
  response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;  // the host's answer, unless below
  if (c.Meminfo().kind == MeminfoMode::Kind::kNone) return response;
  const std::optional<SysinfoFacts> facts = ContainerSysinfoNow(c);
  if (!facts) return response;
  const SyscallAbi abi = AbiOf(call.arch, call.nr);
  const std::vector<uint8_t> bytes = EncodeSysinfo(abi, *facts);
  if (bytes.empty()) return response;
  // i386 passes a 32-bit pointer: the upper half of the register is not part of it.
  const uint64_t address = abi == SyscallAbi::kI386 ? (call.args[0] & 0xffffffffu) : call.args[0];
  // /proc/TID/mem writes through read-only mappings (as a debugger's do);
  // the kernel's copy_to_user would fail those with EFAULT.
  Result<bool> writable =
      CallerRangeWritable(*w.notifier, request.id, call.tid, address, bytes.size());
  if (!writable.ok()) {
    // A kernel without PROCMAP_QUERY: the whole listing.
    Result<std::vector<MapEntry>> maps = w.target->Maps();
    if (!maps.ok()) return response;  // gone, or unreadable: the kernel answers
    writable = RangeWritable(*maps, address, bytes.size());
  }
  if (!*writable) {
    response.flags = 0;
    response.error = -EFAULT;
    return response;
  }
  Status error;
  switch (WriteCallerMemory(*w.notifier, request.id, call.tid, address, bytes, &error)) {
    case CallerWrite::kWritten:
      response.flags = 0;
      response.val = 0;
      break;
    case CallerWrite::kFault:
      response.flags = 0;
      response.error = -EFAULT;
      break;
    case CallerWrite::kGone:
      break;  // nothing waits; the answer is ignored
    case CallerWrite::kFailed:
      // Fail open: the kernel answers with the host's figures.
      LogLimited(LogLevel::kWarning, "sysinfo " + c.id,
                 "sysinfo answered by the host in container=" + c.id,
                 "container " + c.id + ": sysinfo of pid " + std::to_string(call.tid) +
                     " answered with the host's figures: " + error.message());
      break;
  }
  return response;
}

void NotifyResponder::Answer(Worker& w, const seccomp_notif& request) {
  Container& c = *w.container;
  InflightSlot* slot = w.slot;
  if (slot != nullptr) {
    slot->id = request.id;
    slot->tid = static_cast<int32_t>(request.pid);
    slot->nr = request.data.nr;
    slot->arch = request.data.arch;
    for (int i = 0; i < 6; ++i) slot->args[i] = request.data.args[i];
    slot->deciding.store(1, std::memory_order_release);
  }
  const bool timed = w.decisions++ % kLatencySampleEvery == 0;
  std::chrono::steady_clock::time_point received;
  if (timed) received = std::chrono::steady_clock::now();
  TrappedCall call;
  call.tid = static_cast<int>(request.pid);
  call.arch = request.data.arch;
  call.nr = request.data.nr;
  for (int i = 0; i < 6; ++i) call.args[i] = request.data.args[i];
  w.target->Reset(request.id, call.tid);
  if (call.tid != w.last_tid) {
    c.members->NoteProcess(call.tid);
    w.last_tid = call.tid;
  }

  if (IsSysinfo(call.arch, call.nr)) {
    // Never charged: answered with the container's memory, or continued.
    if (Status s = w.notifier->Respond(AnswerSysinfo(w, request, call)); !s.ok()) {
      Log(LogLevel::kError, "container " + c.id + ": " + s.message());
    }
    metrics_.Record(MetricSyscall::kOther, MetricVerdict::kAllowed);
    if (slot != nullptr) {
      slot->last_id = request.id;
      slot->deciding.store(0, std::memory_order_release);
    }
    return;
  }

  // Built in place (returned, not assigned): moving a Decision just written
  // field by field would stall on store forwarding.
  Decision d = [&] {
    try {
      return c.accounting->Decide(call, *w.target, *c.members);
    } catch (const std::exception& e) {
      // Never leave the caller waiting.
      return UndecidableDecision(c.on_error, std::string("internal error: ") + e.what());
    }
  }();
  ApplyOnError(c.on_error, d);
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
  if (d.kill_caller) {
    KillExecdImage(w, request, c, d);
  } else if (d.refused) {
    // Before answering: afterwards the notification (and its pid) is gone.
    RefusalEvent e;
    e.time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    e.pid = call.tid;
    e.comm = w.target->Comm();
    e.syscall = SyscallName(call.arch, call.nr);
    e.resource = d.resource;
    e.requested_pages = d.plan.pages;
    e.held_pages = d.held_pages;
    e.checked = d.plan.check;
    e.bound_pages = d.bound_pages;
    e.error_number = d.action == Decision::Action::kFail ? d.error_number : 0;
    // The line is thinned per container, call and resource (a loop at the
    // barrier refuses thousands of calls a second); the event and the
    // counters are not.
    LogLimited(LogLevel::kWarning, c.id + " " + e.syscall + " " + e.resource,
               "refusals of " + e.syscall + " (resource=" + e.resource + ") in container=" + c.id,
               "refused container=" + c.id + " pid=" + std::to_string(e.pid) + " comm=" + e.comm +
                   " syscall=" + e.syscall + " pages=" + std::to_string(e.requested_pages) +
                   " held=" + std::to_string(e.held_pages) + " " + ChargeCheckName(e.checked) +
                   "=" + std::to_string(e.bound_pages) +
                   (e.error_number != 0 ? " errno=ENOMEM" : " returned=old-break") +
                   " resource=" + e.resource);
    c.events.Add(std::move(e));
    if (hooks_.on_refusal) hooks_.on_refusal(c);
  }
  // Recorded before answering: with SYNC_WAKE_UP the caller runs when this
  // thread next sleeps, so work after the answer delays it.
  metrics_.Record(MetricSyscallFor(d.call.native_nr),
                  d.refused
                      ? MetricVerdict::kRefused
                      : (d.note.empty() ? MetricVerdict::kAllowed : MetricVerdict::kUndecided));
  if (timed) {
    metrics_.RecordLatency(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - received)
                                  .count()));
  }
  if (Status s = w.notifier->Respond(response); !s.ok()) {
    Log(LogLevel::kError, "container " + c.id + ": " + s.message());
  }
  if (d.undecidable) {
    // What could not be decided is worth an operator's eye, but a container
    // whose /proc cannot be read fails every call: one line per 10 s per
    // container, then a count.
    LogLimited(LogLevel::kWarning, "undecided " + c.id, "undecided calls in container=" + c.id,
               "container " + c.id + ": pid " + std::to_string(call.tid) + " " +
                   SyscallName(call.arch, call.nr) + " undecided (" + d.note + "), answered " +
                   (d.action == Decision::Action::kFail ? "ENOMEM" : "continue") +
                   " as on_error says");
  } else if (!d.refused && !d.note.empty()) {
    Log(LogLevel::kDebug, "container " + c.id + ": pid " + std::to_string(call.tid) + " " +
                              SyscallName(call.arch, call.nr) + " allowed: " + d.note);
  }
  if (slot != nullptr) {
    slot->last_id = request.id;
    slot->deciding.store(0, std::memory_order_release);
  }
}

}  // namespace ubc
