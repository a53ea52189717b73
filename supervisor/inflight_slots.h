// InflightSlots: which notification each notify-fd thread is deciding, kept
// in a shared file mapping so that it outlives ubcd.
//
// A notification that ubcd received but had not answered when it died is in
// the kernel's SENT state: no later RECV returns it again, and its thread
// would wait forever. Each notify fd owns one slot (its index travels with the
// fd through the fd store); the thread writes the call into its slot after
// RECV and marks it done after SEND, plain stores into a MAP_SHARED page of a
// file in the state directory, so the cost on the notification path is a few
// memory writes. A restarted ubcd reads the slot of every recovered fd and
// answers what was left. Each slot has one writer (its fd's thread);
// Acquire/Release of slot indices are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/container_accounting.h"
#include "core/status.h"

namespace ubc {

struct InflightSlot {
  std::atomic<uint32_t> deciding;  // 1 between RECV and SEND
  uint32_t arch;
  int32_t tid;
  int32_t nr;
  uint64_t id;       // the notification being decided
  uint64_t last_id;  // the last notification answered
  uint64_t args[6];
};

class InflightSlots {
 public:
  static constexpr uint32_t kSlots = 65536;

  // Maps `path` (created when missing; its contents are kept, they are what a
  // restart recovers).
  static Result<std::unique_ptr<InflightSlots>> Open(const std::string& path);
  ~InflightSlots();

  // A free slot index (cleared), or -1 when all are taken.
  int Acquire();
  void Claim(int index);  // a recovered fd's slot
  void Release(int index);
  InflightSlot& at(int index) { return slots_[index]; }

 private:
  InflightSlots(InflightSlot* slots, size_t bytes);
  InflightSlot* slots_;
  size_t bytes_;
  std::mutex mu_;
  std::vector<bool> used_;
};

}  // namespace ubc
