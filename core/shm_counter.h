// ShmCounter: one container's shmpages beancounter and its shmget decisions
// (docs/accounting.md, "Shared memory").
//
// Held is the kernel's truth, the SysV segments of the container's IPC
// namespace (MemberReader::SharedMemory: every segment's size in pages,
// attached or not, until it is destroyed), under openvz also the writable
// shared anonymous objects its processes map, plus the calls this counter
// admitted that may not have run yet: one per thread, released by the
// thread's next trapped call or once /proc shows it out of that call. A
// shmget that may create a segment (IPC_PRIVATE or IPC_CREAT) is checked
// against the barrier for its whole size; one that names an existing key
// with IPC_CREAT creates nothing, which cannot be told without a listing, so
// it is checked the same way (an approximation near the barrier only).
//
// Not thread-safe: ContainerAccounting owns one and calls it under its
// decision mutex.
#pragma once

#include <array>
#include <cstdint>
#include <map>

#include "core/accounting_readers.h"
#include "core/beancounter.h"
#include "core/decision.h"
#include "core/in_flight_calls.h"
#include "core/syscall_classifier.h"

namespace ubc {

class ShmCounter {
 public:
  ShmCounter() = default;
  ShmCounter(uint64_t barrier_pages, uint64_t limit_pages) : counter_(barrier_pages, limit_pages) {}

  // Thread `tid` makes a new trapped call: its previous shmget has run.
  void CallCompleted(int tid) { in_flight_.Erase(tid); }
  // Decides `classified` (a kShmget) of `call`: admits it, refuses it with
  // ENOMEM (a beancounter refusal), or marks it undecidable when the
  // namespace cannot be read.
  void Decide(const TrappedCall& call, const ClassifiedCall& classified, MemberReader& members,
              Decision& d);
  // Checks `pages` of `call` against the barrier on a fresh read and counts
  // them in flight if they fit; on refusal or when undecidable fills `d` as
  // Decide does and returns false. Leaves d.plan alone.
  bool Charge(const TrappedCall& call, uint64_t pages, MemberReader& members, Decision& d);
  // openvz: the container's writable shared anonymous objects (from its
  // last exact read) count in held beside the SysV segments.
  void SetSharedAnonymousPages(uint64_t pages) { shared_anon_pages_ = pages; }
  // Reads held from the kernel now; on failure the last values stand.
  Status Refresh(MemberReader& members);

  void SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
    counter_.SetLimits(barrier_pages, limit_pages);
  }
  void Restore(uint64_t maxheld_pages, uint64_t failcnt) {
    counter_.Restore(maxheld_pages, failcnt);
  }
  // The container is gone: its namespace and every segment in it with it.
  void Retire();

  const BeancounterValues& values() const { return counter_.values(); }
  uint64_t in_flight_calls() const { return in_flight_.size(); }

 private:
  // The kernel's pages plus what is still in flight; releases the calls
  // /proc shows done first.
  Result<uint64_t> ReadHeld(MemberReader& members, uint64_t* kernel_pages);

  Beancounter counter_;
  InFlightCalls in_flight_;
  uint64_t shared_anon_pages_ = 0;
};

}  // namespace ubc
