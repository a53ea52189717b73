// NotifyResponder: one thread per notify fd, deciding every notification and
// answering each exactly once.
//
// Serve() starts a worker thread for a notifier of a container: it blocks in
// Receive(), has the container's accounting decide the call (the CallTarget
// reads the calling thread, the container's members the rest), turns the
// Decision into a seccomp_notif_resp (undecidable calls by the container's
// on_error, core/decision.h) and answers. Refusals are logged and kept in the
// container's events; every decision is counted in the metrics. The in-flight
// slot of the fd (supervisor/inflight_slots.h) records the call being decided,
// so that a restarted ubcd can answer it (Serve with `recovered`).
//
// The responder owns its threads: Stop() interrupts every blocked Receive()
// and joins the workers (a decision under way finishes and is answered
// first); a worker whose filter hung up is joined by the next Serve() or
// Tick(). A worker that cannot be started (no threads left) is parked with its
// notifier, so its fd stays open and its container's calls wait rather than
// fail; Tick() starts parked workers again.
//
// Thread-safety: Serve, Tick and Metrics from any thread; Stop from the owner.
// The hooks run on worker threads.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/container_sysinfo.h"
#include "core/decision_metrics.h"
#include "supervisor/container_registry.h"
#include "supervisor/inflight_slots.h"
#include "supervisor/notifier.h"
#include "supervisor/process_view.h"

namespace ubc {

// What sysinfo(2) shows in `c` now, its meminfo mode applied (the host's
// figures under "none"); nullopt when the host's own sysinfo fails. Reads
// only published counters: never waits for a decision. Thread-safe.
std::optional<SysinfoFacts> ContainerSysinfoNow(const Container& c);

class NotifyResponder {
 public:
  struct Hooks {
    // After a refusal was answered (the state file wants writing).
    std::function<void(Container&)> on_refusal;
    // The notifier hung up; called before its fd is closed. `key` is Serve's.
    std::function<void(const std::shared_ptr<Container>&, const std::string& key)> on_hangup;
  };

  // `slots` may be null (no restart protection).
  NotifyResponder(ProcessView& view, InflightSlots* slots, Hooks hooks);
  ~NotifyResponder();
  NotifyResponder(const NotifyResponder&) = delete;
  NotifyResponder& operator=(const NotifyResponder&) = delete;

  // Decides every notification of `notifier` for `container` until it hangs
  // up. `slot` is the fd's in-flight slot (-1: none); `recovered` replays what
  // the slot says the previous ubcd left unanswered.
  void Serve(std::shared_ptr<Container> container, std::unique_ptr<Notifier> notifier, int slot,
             bool recovered, std::string key);
  // Joins finished workers and retries parked ones.
  void Tick();
  void Stop();

  DecisionMetricsSnapshot Metrics() const { return metrics_.Snapshot(); }
  // Workers running (for tests and status).
  size_t Workers();

 private:
  struct Worker;
  void Start(std::unique_ptr<Worker> worker);
  void Run(Worker& w);
  void Replay(Worker& w);
  // d.kill_caller: kills the caller's process (its exec'd image is over
  // the limit) and records the refusal as the exec watcher would.
  void KillExecdImage(Worker& w, const seccomp_notif& request, Container& c, const Decision& d);
  // sysinfo(2): the container's figures written into the caller's struct
  // (supervisor/caller_memory.h), EFAULT for a bad pointer, or CONTINUE.
  seccomp_notif_resp AnswerSysinfo(Worker& w, const seccomp_notif& request,
                                   const TrappedCall& call);
  void Answer(Worker& w, const seccomp_notif& request);
  void ReapLocked();

  ProcessView& view_;
  InflightSlots* const slots_;
  const Hooks hooks_;
  DecisionMetrics metrics_;
  std::mutex mu_;
  bool stopping_ = false;
  std::list<std::unique_ptr<Worker>> workers_;
  std::list<std::unique_ptr<Worker>> parked_;
};

}  // namespace ubc
