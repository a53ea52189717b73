// ExecEnforcer: what ubcd does when the kernel reports an exec (ExecWatcher):
// the new image's data, bss and stack were mapped without a trapped call, and
// a container they took over its privvmpages limit has the process killed,
// as OpenVZ did at exec's point of no return (docs/ubc-semantics.md §3,
// "exec's own mappings": limit-checked, SIGKILL).
//
// OnExec() finds the process's container (ContainerRegistry::FindByProcess:
// one small /proc file for a process of no container, and no container's
// decision mutex), pins the process (a pidfd and its image, through `pin`),
// checks again that the pinned process is a member, has the container's
// accounting read held exactly (ContainerAccounting::CheckImage, which counts
// the failcnt), and over the limit kills it through the pidfd if it still
// runs that image, logs the refusal and keeps it in the container's events.
// OnEventsLost() (the watcher's buffer overran) gives every running container
// one exact read, since an exec may have gone unseen.
//
// Holds references to the registry and view, which outlive it. Thread-safety:
// called from the watcher's one thread; the counters may be read from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "supervisor/container_registry.h"
#include "supervisor/exec_watcher.h"
#include "supervisor/process_pin.h"
#include "supervisor/process_view.h"

namespace ubc {

class ExecEnforcer {
 public:
  // Pins a process; an error when it is gone. ProcessPin in ubcd.
  using Pinner = std::function<Result<std::unique_ptr<PinnedImage>>(int tgid)>;
  // After a kill was recorded (the state file wants writing).
  using OnKill = std::function<void(Container&)>;

  ExecEnforcer(ContainerRegistry& registry, ProcessView& view, Pinner pin, OnKill on_kill);

  void OnExec(const ExecEvent& event);
  void OnEventsLost();

  uint64_t checks() const { return checks_.load(std::memory_order_relaxed); }
  uint64_t kills() const { return kills_.load(std::memory_order_relaxed); }

 private:
  ContainerRegistry& registry_;
  ProcessView& view_;
  const Pinner pin_;
  const OnKill on_kill_;
  std::atomic<uint64_t> checks_{0};
  std::atomic<uint64_t> kills_{0};
};

// ProcessPin::Pin as a Pinner.
Result<std::unique_ptr<PinnedImage>> PinProcess(int tgid);

// Records that the image process `tgid` exec'd took container `c` over its
// limit: the refusal log line and event ("execve", checked against the
// limit, signal 9 when `killed` is ok). Used by the watcher's path and by the
// notify path when the image's first trapped call came first.
void RecordExecKill(Container& c, int tgid, std::string comm,
                    const ContainerAccounting::ImageCheck& check, const Status& killed);

}  // namespace ubc
