// ContainerRegistry: ubcd's containers by `state.id`: attaching notify fds,
// membership, limits, retirement, and what status readers and the state file
// see of them.
//
// The first notify fd of an id makes a Container: its limits are resolved
// (annotation > containers.d file > ubcd's defaults), its membership worked
// out through the ProcessView, its fast path's headroom taken from its init's
// RLIMIT_STACK hard limit (core/stack_headroom.h), its counters restored from the state file when
// it is recovered after a restart. Every later fd of the id (an exec) joins it.
// When its last fd hangs up it is retired: its final counters stay queryable
// for retire_after_seconds, and a new container of the same id starts afresh.
//
// Reports never take a container's decision mutex: they read the counters the
// decision path publishes (ContainerAccounting::Published()).
//
// Thread-safety: every method is thread-safe (one registry mutex, held
// briefly; /proc is never read under it). A Container is shared by the
// registry and its notify threads (shared_ptr); its accounting and members
// are safe as documented in their headers.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/container_accounting.h"
#include "core/container_config.h"
#include "core/container_report.h"
#include "core/container_state.h"
#include "core/limits_resolver.h"
#include "core/persisted_state.h"
#include "core/refusal_events.h"
#include "core/supervisor_config.h"
#include "supervisor/process_view.h"

namespace ubc {

struct Container {
  std::string id;
  OnError on_error = OnError::kContinue;  // fixed at creation
  std::unique_ptr<ContainerAccounting> accounting;
  std::unique_ptr<ContainerMembers> members;
  std::unique_ptr<ResourceGauge> gauge;  // null: the measured rows are not tracked
  RefusalEvents events;
  std::atomic<int> notify_fds{0};
  // When a status reader last had the counters refreshed (the snapshot
  // refresher's business; CLOCK_MONOTONIC_COARSE ms).
  std::atomic<int64_t> refresh_attempt_ms{0};
  // What sysinfo shows (core/container_sysinfo.h): the meminfo mode, changed
  // live through the API, and when the container's init started, in seconds
  // after boot (-1: unknown; fixed at creation).
  MeminfoMode Meminfo() const {
    std::lock_guard<std::mutex> lock(meminfo_mu);
    return meminfo;
  }
  mutable std::mutex meminfo_mu;
  MeminfoMode meminfo;  // guarded by meminfo_mu
  double started_after_boot_s = -1;
  // Guarded by the registry's mutex.
  ResolvedLimits limits;
  bool retired = false;
  std::chrono::steady_clock::time_point retired_at;
};

// When process `pid` started, in seconds after boot (/proc/PID/stat field
// 22); -1 when unknown.
double ProcessStartAfterBootSeconds(int pid);

class ContainerRegistry {
 public:
  // `restored`: the state file as read at start (applied to recovered
  // containers only).
  ContainerRegistry(SupervisorConfig config, ProcessView& view, PersistedState restored);

  // (Re)loads containers.d. On error the previous set stays in force.
  Status LoadContainerConfigs();

  // The running container `state.id` with one more notify fd, made when none
  // runs. `runtime_pid` is the peer that sent the fd; `recovered` says the fd
  // came back from the fd store after a restart.
  std::shared_ptr<Container> Attach(const ContainerProcessState& state, int runtime_pid,
                                    bool recovered);
  // One of `c`'s notify fds hung up; returns the fds left. The last one
  // retires the container (unless another of the same id replaced it).
  int Detach(const std::shared_ptr<Container>& c);

  // Running and recently retired containers.
  std::vector<std::shared_ptr<Container>> All();
  std::shared_ptr<Container> Find(const std::string& id);
  // The running container whose membership holds the process (an exec
  // event's); null when none. Asks each container's members without its
  // decision mutex and without the registry's lock held.
  std::shared_ptr<Container> FindByProcess(ProcessLocation& where);
  ContainerReport Report(const Container& c);
  // Live limit change (vzctl set); applies to the next decision. False when no
  // running or retired container has this id.
  bool SetLimits(const std::string& id, const LimitsChange& change);
  // maxheld, failcnt and live limits of every running container.
  PersistedState Persistable();

 private:
  void DropExpiredLocked();
  // The numproc limit to the container's pids cgroup (logged when it fails).
  void ApplyNumproc(Container& c, const BarrierLimit& tasks);
  std::shared_ptr<Container> MakeLocked(const ContainerProcessState& state, bool recovered,
                                        std::unique_ptr<ContainerMembers> members,
                                        std::unique_ptr<ResourceGauge> gauge,
                                        std::optional<uint64_t> stack_hard_limit_bytes);

  const SupervisorConfig config_;
  ProcessView& view_;
  const PersistedState restored_;
  std::mutex mu_;
  std::vector<ContainerConfig> container_configs_;
  std::map<std::string, std::shared_ptr<Container>> containers_;
};

}  // namespace ubc
