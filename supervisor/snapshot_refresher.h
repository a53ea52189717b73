// SnapshotRefresher: keeps the counters status readers see fresh without the
// readers touching the decision path.
//
// A report reads the counters a container's decision path published. Those
// are as fresh as its last exact read: a container that unmapped memory and
// made no trapped call since still shows the old held. A reader calls
// Freshen() with the containers it is about to report; those whose last exact
// read is older than kFreshMs are refreshed by this object's own thread (one
// exact read under the container's decision mutex), and Freshen() waits for
// that at most kWaitMs. A container is refreshed at most once per kFreshMs
// however many readers ask (a `ubcctl top` loop costs each container at most
// 1000/kFreshMs exact reads a second), and a reader is never blocked by a
// decision in progress for longer than kWaitMs.
//
// Thread-safety: Freshen() from any thread; Stop() (also run by the
// destructor) from the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/monotonic_clock.h"
#include "supervisor/container_registry.h"

namespace ubc {

class SnapshotRefresher {
 public:
  static constexpr int64_t kFreshMs = 100;
  static constexpr int64_t kWaitMs = 250;

  SnapshotRefresher();
  ~SnapshotRefresher();
  SnapshotRefresher(const SnapshotRefresher&) = delete;
  SnapshotRefresher& operator=(const SnapshotRefresher&) = delete;

  void Freshen(const std::vector<std::shared_ptr<Container>>& containers);
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::deque<std::shared_ptr<Container>> queue_;
  uint64_t started_rounds_ = 0;  // rounds that took the queue
  uint64_t finished_rounds_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ubc
