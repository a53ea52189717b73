// Supervisor: ubcd's registry of containers and the threads deciding for them.
//
// Keeps one Container per `state.id` with its beancounter (ContainerAccounting),
// its resolved limits and its membership reader. Every notify fd, the
// container's init fd and one per exec, gets its own thread blocking in
// SECCOMP_IOCTL_NOTIF_RECV and answers every notification exactly once. When a
// container's last fd hangs up it is retired: its final counters stay
// queryable for retire_after_seconds. Attach() is called from the listener
// thread; the status methods from the status thread; all are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <linux/seccomp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <optional>

#include <nlohmann/json.hpp>

#include "core/beancounter.h"
#include "core/container_config.h"
#include "core/container_state.h"
#include "core/decision_metrics.h"
#include "core/limits_resolver.h"
#include "core/persisted_state.h"
#include "core/refusal_events.h"
#include "supervisor/fd_store.h"
#include "supervisor/inflight_slots.h"
#include "core/supervisor_config.h"
#include "core/unique_fd.h"
#include "supervisor/listener.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {

// One container as status readers see it.
struct ContainerView {
  std::string id;
  bool retired = false;
  int notify_fds = 0;
  uint64_t processes = 0;
  std::string profile;
  std::string membership;
  ResolvedLimits limits;
  BeancounterValues privvmpages;
};

class Supervisor {
 public:
  // `store` (may be null: no custody) gets a copy of every notify fd;
  // `slots` (may be null) records the call each fd's thread is deciding;
  // `state_path` (may be empty) keeps maxheld, failcnt and live limits.
  Supervisor(SupervisorConfig config, FdStoreClient* store, InflightSlots* slots,
             std::string state_path);
  explicit Supervisor(SupervisorConfig config) : Supervisor(std::move(config), nullptr, nullptr, "") {}
  ~Supervisor();

  // After a restart: takes every fd the store kept and resumes deciding for
  // their containers, answering calls the previous ubcd left unanswered.
  // Returns the number of fds recovered.
  size_t RecoverFromStore();

  // Writes the state file if anything changed since the last write.
  void PersistIfChanged();
  // Body of the thread that keeps the state file current (it writes soon
  // after every refusal or limit change, and checks maxheld every second)
  // and the fd store stocked (KeepFdStore).
  void RunPersister();

  // `ensure` starts a fd store when none answers (returns whether one does).
  // Set before threads start.
  void SetFdStoreStarter(std::function<bool()> ensure) { ensure_store_ = std::move(ensure); }

  // (Re)loads containers.d. On error the previous set stays in force.
  Status LoadContainerConfigs();

  void Attach(const ContainerProcessState& state, UniqueFd notify_fd, const PeerInfo& peer);

  // Every container (running ones with held read from the kernel now), by id.
  std::vector<ContainerView> ListContainers();
  std::optional<ContainerView> GetContainer(const std::string& id);
  // Live limit change (vzctl set): applies to the next decision. False when
  // no running or retired container has this id.
  bool SetLimits(const std::string& id, const BarrierLimit& privvmpages);
  // Most recent refusals, oldest first; nullopt for an unknown container.
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id);
  DecisionMetricsSnapshot Metrics() const { return metrics_.Snapshot(); }

  // The /proc/user_beancounters table, and the same data as JSON.
  std::string StatusText();
  std::string StatusJson();

 private:
  struct Container;
  std::shared_ptr<Container> Find(const std::string& id);
  ContainerView View(Container& c, bool retired);
  struct Attachment;
  // A notify fd handed to the fd store, kept so it can be handed again to a
  // store that was restarted. `fd` stays open while listed (Serve unlists it
  // before closing it).
  struct Deposit {
    nlohmann::json meta;
    int fd;
  };
  void KeepFdStore();
  void Unlist(const std::string& key);
  void AttachFd(const ContainerProcessState& state, UniqueFd notify_fd, int runtime_pid,
                const Attachment& attachment);
  void Serve(std::shared_ptr<Container> container, UniqueFd fd, int slot, bool recovered,
             std::string key);
  void Answer(Container& c, SeccompNotifier& notifier, const seccomp_notif& request,
              InflightSlot* slot);
  void DropExpiredLocked();

  const SupervisorConfig config_;
  FdStoreClient* const store_;
  InflightSlots* const slots_;
  const std::string state_path_;
  const std::string run_token_;  // makes fd store keys unique across restarts
  std::atomic<uint64_t> next_key_{0};
  PersistedState restored_;      // read at start, applied to recovered containers
  std::mutex persist_mu_;
  std::string last_persisted_;
  std::mutex deposit_mu_;
  std::map<std::string, Deposit> deposits_;
  uint64_t deposited_generation_ = 0;
  std::function<bool()> ensure_store_;
  std::mutex wake_mu_;
  std::condition_variable wake_persister_;
  bool persist_soon_ = false;
  void WakePersister();
  std::mutex mu_;
  std::vector<ContainerConfig> container_configs_;
  std::map<std::string, std::shared_ptr<Container>> containers_;
  DecisionMetrics metrics_;
};

}  // namespace ubc
