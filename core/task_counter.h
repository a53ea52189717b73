// TaskCounter: one container's numproc beancounter where ubcd enforces it
// itself, because the container has no pids cgroup of its own (crun with
// cgroups disabled; docs/accounting.md, "The rows of the table"). Where it
// has one the kernel enforces numproc and this counter stays unlimited.
//
// Every clone, fork and vfork is trapped then (ubc-hook's filter for a
// finite numproc). Held is the kernel's truth, the sum of num_threads over
// the container's processes (MemberReader::Tasks), plus the creations this
// counter admitted that may not have run yet: one per thread, released by the
// thread's next trapped call or once /proc shows it out of that call. One more
// task past the limit is refused with EAGAIN, as fork(2) and the pids
// controller answer. The bound is the limit: OpenVZ sets numproc's barrier
// equal to it, and pids.max has one value.
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

namespace ubc {

class TaskCounter {
 public:
  // Unlimited until SetLimits: nothing is read and nothing refused.
  bool limited() const { return counter_.values().limit_pages != kUnlimitedPages; }

  // Thread `tid` makes a new trapped call: the task it created exists now.
  void CallCompleted(int tid) { in_flight_.Erase(tid); }
  // One more task for `call`: admitted (counted in flight, pending until
  // CommitPending() or CancelPending()) and true, or refused with EAGAIN
  // (failcnt moves) or undecidable (`d` says so), and false.
  bool Charge(const TrappedCall& call, MemberReader& members, Decision& d);
  // Another counter refused the same call (privvmpages a fork): the task is
  // not created, and numproc is as if it had never been asked.
  void CancelPending();
  void CommitPending() { pending_tid_ = -1; }
  bool has_pending() const { return pending_tid_ >= 0; }

  // Reads held from the kernel now; on failure the last values stand.
  Status Refresh(MemberReader& members);

  // Barrier and limit in tasks (the fields say pages; they hold counts).
  void SetLimits(uint64_t barrier, uint64_t limit) { counter_.SetLimits(barrier, limit); }
  void Restore(uint64_t maxheld, uint64_t failcnt) { counter_.Restore(maxheld, failcnt); }
  void Retire();

  const BeancounterValues& values() const { return counter_.values(); }
  uint64_t in_flight_calls() const { return in_flight_.size(); }

 private:
  Result<uint64_t> ReadHeld(MemberReader& members, uint64_t* kernel_tasks);

  Beancounter counter_{kUnlimitedPages, kUnlimitedPages};
  InFlightCalls in_flight_;
  int pending_tid_ = -1;
  uint64_t pending_held_ = 0;
  uint64_t pending_kernel_ = 0;
};

}  // namespace ubc
