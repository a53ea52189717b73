#include "core/locked_counter.h"

#include <algorithm>
#include <cerrno>

#include "core/units.h"

namespace ubc {

Result<uint64_t> LockedCounter::ReadHeld(MemberReader& members, uint64_t* kernel_pages) {
  Result<uint64_t> vm_locked = members.LockedPages();
  if (!vm_locked.ok()) return vm_locked.status();
  // Segments locked with SHM_LOCK are in no process's VmLck. A container
  // whose namespace cannot be read has none ubcd could have admitted.
  Result<ShmUsage> sysv = members.SharedMemory();
  const uint64_t sysv_locked = sysv.ok() ? sysv->locked_pages : 0;
  in_flight_.Prune(members, pending_tid_);
  *kernel_pages = SaturatingAdd(*vm_locked, sysv_locked);
  return SaturatingAdd(*kernel_pages, in_flight_.Total());
}

bool LockedCounter::Charge(const TrappedCall& call, uint64_t pages, bool refuse_with_zero,
                           MemberReader& members, Decision& d) {
  uint64_t kernel_pages = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_pages);
  if (!held.ok()) {
    d.resource = "lockedpages";
    d.undecidable = true;
    d.note = "lockedpages: " + held.status().message();
    return false;
  }
  counter_.ObserveHeldUpperBound(*held, kernel_pages);
  if (!counter_.Fits(*held, pages, ChargeCheck::kBarrier)) {
    counter_.RecordRefusal();
    d.resource = "lockedpages";
    d.exact = true;
    d.held_pages = *held;
    d.bound_pages = std::min(counter_.values().barrier_pages, counter_.values().limit_pages);
    d.refused = true;
    if (refuse_with_zero) {
      d.action = Decision::Action::kReturn;
      d.return_value = 0;
    } else {
      d.action = Decision::Action::kFail;
      d.error_number = ENOMEM;
    }
    return false;
  }
  if (pages > 0) {
    in_flight_.Add(call, pages);
    pending_tid_ = call.tid;
    pending_held_pages_ = *held;
    pending_kernel_pages_ = kernel_pages;
  }
  // maxheld follows the kernel's figure only: the call may still fail
  // (RLIMIT_MEMLOCK, EPERM, a hole in the range) and lock nothing.
  counter_.ObserveHeldUpperBound(SaturatingAdd(*held, pages), kernel_pages);
  return true;
}

void LockedCounter::CancelPending() {
  if (pending_tid_ < 0) return;
  in_flight_.Erase(pending_tid_);
  pending_tid_ = -1;
  // Held shows what it showed before the charge (maxheld never took it).
  counter_.ObserveHeldUpperBound(pending_held_pages_, pending_kernel_pages_);
}

void LockedCounter::SetFuture(int tgid, bool future) {
  if (tgid < 0) return;
  if (future) {
    future_.insert(tgid);
  } else if (!future_.empty()) {
    future_.erase(tgid);
  }
}

void LockedCounter::PruneGone(const std::function<bool(int tgid)>& gone) {
  std::erase_if(future_, gone);
}

Status LockedCounter::Refresh(MemberReader& members) {
  uint64_t kernel_pages = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_pages);
  if (!held.ok()) return held.status();
  counter_.ObserveHeldUpperBound(*held, kernel_pages);
  return Status::Ok();
}

void LockedCounter::Retire() {
  in_flight_.Clear();
  pending_tid_ = -1;
  future_.clear();
  counter_.ObserveHeld(0);
}

}  // namespace ubc
