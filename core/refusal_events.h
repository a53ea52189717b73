// RefusalEvents: the most recent refusals of one container, in a bounded ring.
//
// Operators asked "why is failcnt increasing?": each refusal keeps who, what
// and how much. The ring keeps the newest `capacity` events and counts the
// ones it dropped. Thread-safe (an internal mutex; Add is called on the
// notification path and costs one short critical section).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/beancounter.h"

namespace ubc {

struct RefusalEvent {
  int64_t time_unix_ns = 0;
  int pid = 0;  // thread id in ubcd's pid namespace
  std::string comm;
  std::string syscall;
  std::string resource = "privvmpages";
  uint64_t requested_pages = 0;
  uint64_t held_pages = 0;
  ChargeCheck checked = ChargeCheck::kBarrier;
  uint64_t bound_pages = 0;
  int error_number = 0;   // 0 when brk returned the old break instead
  int signal_number = 0;  // SIGKILL: an exec'd image took the container over its limit
};

class RefusalEvents {
 public:
  explicit RefusalEvents(size_t capacity = 256);
  void Add(RefusalEvent event);
  // Oldest first.
  std::vector<RefusalEvent> List() const;
  uint64_t dropped() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<RefusalEvent> events_;
  uint64_t dropped_ = 0;
};

}  // namespace ubc
