// LockedCounter: one container's lockedpages beancounter (docs/accounting.md,
// "Locked memory"), decided as the 2006 beancounter patch does: a locking
// call is checked against the lockedpages barrier, and a mapping that is
// locked as it is made (MAP_LOCKED, or after mlockall(MCL_FUTURE)) is charged
// to lockedpages first and to privvmpages second, the lockedpages charge
// taken back if privvmpages refuses.
//
// Held is the kernel's truth, VmLck summed over the container's distinct
// address spaces plus the SysV segments locked with SHM_LOCK
// (MemberReader::LockedPages, SharedMemory), plus the calls this counter
// admitted that may not have run yet: one per thread, released by the
// thread's next trapped call or once /proc shows it out of that call.
// Whether a process is under MCL_FUTURE is not in /proc; it is remembered
// from the mlockall/munlockall/exec calls ubcd decided (per process).
//
// Not thread-safe: ContainerAccounting owns one and calls it under its
// decision mutex.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <set>

#include "core/accounting_readers.h"
#include "core/beancounter.h"
#include "core/decision.h"
#include "core/in_flight_calls.h"

namespace ubc {

class LockedCounter {
 public:
  LockedCounter() = default;

  // With an unlimited bound nothing can be refused: decisions read nothing
  // (held is still read for reports).
  bool limited() const {
    return counter_.values().limit_pages != kUnlimitedPages ||
           counter_.values().barrier_pages != kUnlimitedPages;
  }

  // Thread `tid` makes a new trapped call: its previous locking call has run.
  void CallCompleted(int tid) { in_flight_.Erase(tid); }
  // Checks `pages` of `call` against the barrier on a fresh read of the
  // kernel's figure. If they fit they are counted in flight, pending until
  // CommitPending() or CancelPending(); true. On refusal failcnt moves and `d`
  // says ENOMEM (or, `refuse_with_zero`, returns 0 without running the
  // call: mlockall(MCL_CURRENT)); undecidable when the kernel's figure
  // cannot be read. Either way false. d.plan is left alone.
  bool Charge(const TrappedCall& call, uint64_t pages, bool refuse_with_zero, MemberReader& members,
              Decision& d);
  // The call Charge() admitted goes ahead (privvmpages admitted it too, or
  // charges nothing), or does not (privvmpages refused it): then lockedpages
  // is as if it had never been asked.
  void CommitPending() { pending_tid_ = -1; }
  void CancelPending();
  bool has_pending() const { return pending_tid_ >= 0; }

  // MCL_FUTURE of a process (its thread-group id): every later mapping of
  // its address space is locked as it is made.
  bool Future(int tgid) const { return !future_.empty() && future_.count(tgid) != 0; }
  void SetFuture(int tgid, bool future);
  bool any_future() const { return !future_.empty(); }
  // Forgets the MCL_FUTURE of processes `gone` says have exited.
  void PruneGone(const std::function<bool(int tgid)>& gone);

  // Reads held from the kernel now; on failure the last values stand.
  Status Refresh(MemberReader& members);

  void SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
    counter_.SetLimits(barrier_pages, limit_pages);
  }
  void Restore(uint64_t maxheld_pages, uint64_t failcnt) {
    counter_.Restore(maxheld_pages, failcnt);
  }
  // The container is gone: its address spaces and namespace with it.
  void Retire();

  const BeancounterValues& values() const { return counter_.values(); }
  uint64_t in_flight_calls() const { return in_flight_.size(); }

 private:
  // The kernel's pages plus what is still in flight; releases the calls
  // /proc shows done first.
  Result<uint64_t> ReadHeld(MemberReader& members, uint64_t* kernel_pages);

  Beancounter counter_;
  InFlightCalls in_flight_;
  int pending_tid_ = -1;
  uint64_t pending_held_pages_ = 0;  // held and the kernel's figure before it
  uint64_t pending_kernel_pages_ = 0;
  std::set<int> future_;  // processes under MCL_FUTURE
};

}  // namespace ubc
