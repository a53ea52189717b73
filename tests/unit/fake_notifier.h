// FakeNotifier (test-only): a Notifier that plays scripted notifications and
// records the responses, so that the supervisor's threads are driven in unit
// tests without a kernel filter.
//
// Push() queues a notification (Receive() returns them in order, blocking
// while the queue is empty); HangUp() makes Receive() report a hang-up once
// the queue is drained; Push(n, true) and Withdraw()
// make IdValid() false for an id (its caller was killed). WaitForResponses(n) blocks until n
// responses were sent. Thread-safe: the test thread scripts, the responder's thread receives.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <vector>

#include "supervisor/notifier.h"

namespace ubc {

class FakeNotifier : public Notifier {
 public:
  // `withdrawn`: its caller is killed before the supervisor answers (IdValid
  // false from the start).
  void Push(const seccomp_notif& n, bool withdrawn = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(n);
      if (!withdrawn) waiting_.insert(n.id);
    }
    cv_.notify_all();
  }
  void HangUp() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hung_up_ = true;
    }
    cv_.notify_all();
  }
  void Withdraw(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_.erase(id);
  }
  // Blocks (at most 10 s) until `n` responses were sent; false on timeout.
  bool WaitForResponses(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return responses_.size() >= n; });
  }
  std::vector<seccomp_notif_resp> responses() {
    std::lock_guard<std::mutex> lock(mu_);
    return responses_;
  }
  int interrupts() {
    std::lock_guard<std::mutex> lock(mu_);
    return interrupts_;
  }
  // Counts Interrupt() calls also where the test cannot look once the
  // notifier's owner has destroyed it.
  void CountInterruptsIn(std::atomic<int>* counter) { interrupt_counter_ = counter; }

  RecvResult Receive(seccomp_notif* request) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || hung_up_ || interrupted_; });
    if (!queue_.empty()) {
      *request = queue_.front();
      queue_.pop_front();
      return RecvResult::kNotification;
    }
    if (interrupted_) {
      interrupted_ = false;
      return RecvResult::kRetry;
    }
    return RecvResult::kHangup;
  }
  bool IdValid(uint64_t id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_.count(id) != 0;
  }
  Status Respond(const seccomp_notif_resp& response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiting_.erase(response.id) == 0) return Status::Ok();  // gone: not an error
      responses_.push_back(response);
    }
    cv_.notify_all();
    return Status::Ok();
  }
  void Interrupt() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      interrupted_ = true;
      ++interrupts_;
      if (interrupt_counter_ != nullptr) ++*interrupt_counter_;
    }
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<seccomp_notif> queue_;
  std::set<uint64_t> waiting_;
  std::vector<seccomp_notif_resp> responses_;
  bool hung_up_ = false;
  bool interrupted_ = false;
  int interrupts_ = 0;
  std::atomic<int>* interrupt_counter_ = nullptr;
};

}  // namespace ubc
