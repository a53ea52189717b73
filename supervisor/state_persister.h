// StatePersister: keeps ubcd's state file (maxheld, failcnt, live limits;
// core/persisted_state.h) current, and runs ubcd's once-a-second chores.
//
// Its thread wakes at once after WakeSoon() (a refusal or a limit change) and
// otherwise every second; each time it asks `state` for the document, writes
// it when it changed (whole, fsync'd, renamed over the old file: a crash
// leaves the old file or the new one), then runs `tick` (keeping the fd store
// stocked, starting parked notify threads). An empty path writes nothing but
// still ticks. Stop() writes one last time and joins the thread.
//
// Thread-safety: WakeSoon() and PersistNow() from any thread; Start/Stop from
// the owner.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/persisted_state.h"
#include "core/status.h"

namespace ubc {

class StatePersister {
 public:
  StatePersister(std::string path, std::function<PersistedState()> state,
                 std::function<void()> tick);
  ~StatePersister();
  StatePersister(const StatePersister&) = delete;
  StatePersister& operator=(const StatePersister&) = delete;

  void Start();
  void Stop();
  void WakeSoon();
  // Writes the file now if the state changed since the last write.
  Status PersistNow();

  const std::string& path() const { return path_; }

 private:
  void Run();

  const std::string path_;
  const std::function<PersistedState()> state_;
  const std::function<void()> tick_;
  std::mutex write_mu_;
  std::string last_written_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool soon_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ubc
