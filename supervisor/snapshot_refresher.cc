#include "supervisor/snapshot_refresher.h"

#include <time.h>

#include <chrono>

namespace ubc {

namespace {

bool Stale(const Container& c, int64_t now_ms) {
  if (c.notify_fds.load() == 0) return false;  // retired: its counters are final
  return now_ms - c.accounting->Published().exact_at_ms >= SnapshotRefresher::kFreshMs &&
         now_ms - c.refresh_attempt_ms.load() >= SnapshotRefresher::kFreshMs;
}

}  // namespace

SnapshotRefresher::SnapshotRefresher() : thread_([this] { Run(); }) {}

SnapshotRefresher::~SnapshotRefresher() { Stop(); }

void SnapshotRefresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  done_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotRefresher::Freshen(const std::vector<std::shared_ptr<Container>>& containers) {
  const int64_t now = CoarseMonotonicMs();
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  bool queued = false;
  for (const std::shared_ptr<Container>& c : containers) {
    if (!Stale(*c, now)) continue;
    queue_.push_back(c);
    queued = true;
  }
  if (!queued) return;
  // What was just queued is taken by the next round to start.
  const uint64_t wanted = started_rounds_ + 1;
  wake_.notify_one();
  done_.wait_for(lock, std::chrono::milliseconds(kWaitMs),
                 [&] { return stopping_ || finished_rounds_ >= wanted; });
}

void SnapshotRefresher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::deque<std::shared_ptr<Container>> round;
    round.swap(queue_);
    ++started_rounds_;
    lock.unlock();
    for (const std::shared_ptr<Container>& c : round) {
      const int64_t now = CoarseMonotonicMs();
      if (!Stale(*c, now)) continue;  // another reader's request, or a decision, came first
      c->refresh_attempt_ms = now;
      (void)c->accounting->Refresh(*c->members);
    }
    lock.lock();
    ++finished_rounds_;
    done_.notify_all();
  }
}

}  // namespace ubc
