// Supervisor: ubcd's core as one object: it owns the container registry, the
// notify responder (a thread per notify fd), the fd custody, the state
// persister and the snapshot refresher, and wires them together.
//
// Attach() takes a notify fd from the listener: a copy goes to the fd store,
// the container is found or made, and a notify thread starts deciding its
// calls. RecoverFromStore() does the same for every fd a previous ubcd left in
// the store. OnExec() checks an exec'd image the kernel reported
// (supervisor/exec_enforcer.h). Status readers (the status socket, the REST API) get reports
// built from the counters the decision path publishes; they never take a
// container's decision mutex. Stop() (also run by the destructor) stops every
// thread it started and writes the state file one last time: the notify fds
// stay in the fd store, so the containers' calls wait for the next ubcd.
//
// Thread-safety: every public method is thread-safe except Stop(), which the
// owner calls once.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/container_report.h"
#include "core/container_state.h"
#include "core/decision_metrics.h"
#include "core/refusal_events.h"
#include "core/supervisor_config.h"
#include "core/unique_fd.h"
#include "supervisor/container_registry.h"
#include "supervisor/exec_enforcer.h"
#include "supervisor/fd_custody.h"
#include "supervisor/fd_store.h"
#include "supervisor/inflight_slots.h"
#include "supervisor/notifier.h"
#include "supervisor/notify_responder.h"
#include "supervisor/proc_view_fs.h"
#include "supervisor/process_view.h"
#include "supervisor/snapshot_refresher.h"
#include "supervisor/state_persister.h"

namespace ubc {

class Supervisor {
 public:
  struct Parts {
    ProcessView* view = nullptr;         // required
    FdKeeper* store = nullptr;           // null: no fd custody
    std::function<bool()> ensure_store;  // starts a store when none answers
    InflightSlots* slots = nullptr;      // null: no in-flight slots
    std::string state_path;              // empty: no state file
  };
  Supervisor(SupervisorConfig config, Parts parts);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the persister and refresher threads.
  void Start();
  void Stop();

  // (Re)loads containers.d. On error the previous set stays in force.
  Status LoadContainerConfigs();

  // A notify fd from the listener (`runtime_pid`: the peer that sent it).
  void Attach(const ContainerProcessState& state, std::unique_ptr<Notifier> notifier, int notify_fd,
              int runtime_pid);
  // The same with a real listener fd.
  void Attach(const ContainerProcessState& state, UniqueFd notify_fd, int runtime_pid);
  // After a restart: takes every fd the store kept and resumes deciding for
  // their containers, answering calls the previous ubcd left unanswered.
  // Returns the number of fds recovered.
  size_t RecoverFromStore();

  // Every running and recently retired container, by id.
  std::vector<ContainerReport> ListContainers();
  std::optional<ContainerReport> GetContainer(const std::string& id);
  bool SetLimits(const std::string& id, const LimitsChange& change);
  // Most recent refusals, oldest first; nullopt for an unknown container.
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id);
  DecisionMetricsSnapshot Metrics() const { return responder_.Metrics(); }

  // The kernel reported an exec (ExecWatcher's thread); see
  // supervisor/exec_enforcer.h.
  void OnExec(const ExecEvent& event) { exec_enforcer_.OnExec(event); }
  void OnExecEventsLost() { exec_enforcer_.OnEventsLost(); }

  // The /proc/user_beancounters table, and the /v1/containers document.
  std::string StatusText();
  std::string StatusJson();

  // Serves the proc view (supervisor/proc_view_fs.h) on `fuse_fd`, which the
  // fd store keeps under `store_key` with `meta`; `recovered`: a previous
  // ubcd's. Failures are logged; ubcd runs on without the view.
  void ServeProcView(UniqueFd fuse_fd, bool recovered, const std::string& store_key,
                     const nlohmann::json& meta);
  // The view's text for thread `tid` of the host: its container's, or the
  // host's when no container of ubcd's holds it (logged when `reading`).
  ProcViewContent ProcViewText(ProcViewFile file, int tid, bool reading = true);

  // Writes the state file now if anything changed.
  Status PersistNow() { return persister_.PersistNow(); }
  size_t NotifyThreads() { return responder_.Workers(); }

 private:
  void Tick();

  const SupervisorConfig config_;
  ProcessView* const view_;
  ContainerRegistry registry_;
  FdCustody custody_;
  InflightSlots* const slots_;
  StatePersister persister_;
  NotifyResponder responder_;
  SnapshotRefresher refresher_;
  ExecEnforcer exec_enforcer_;
  std::unique_ptr<ProcViewFs> proc_view_;  // its thread calls ProcViewText
  std::string proc_view_key_;
  std::string HostMeminfo();  // the host's /proc/meminfo, at most 100 ms old
  std::mutex host_meminfo_mu_;
  std::string host_meminfo_;  // guarded by host_meminfo_mu_
  int64_t host_meminfo_at_ms_ = 0;
  bool stopped_ = false;
};

// The state file at `path`, or an empty state (logged) when it is missing or
// unreadable.
PersistedState ReadStateFile(const std::string& path);

}  // namespace ubc
