#include "core/task_counter.h"

#include <algorithm>
#include <cerrno>

#include "core/units.h"

namespace ubc {

Result<uint64_t> TaskCounter::ReadHeld(MemberReader& members, uint64_t* kernel_tasks) {
  Result<uint64_t> tasks = members.Tasks();
  if (!tasks.ok()) return tasks.status();
  in_flight_.Prune(members, pending_tid_);
  *kernel_tasks = *tasks;
  return SaturatingAdd(*tasks, in_flight_.Total());
}

bool TaskCounter::Charge(const TrappedCall& call, MemberReader& members, Decision& d) {
  uint64_t kernel_tasks = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_tasks);
  if (!held.ok()) {
    d.resource = "numproc";
    d.undecidable = true;
    d.note = "numproc: " + held.status().message();
    return false;
  }
  counter_.ObserveHeldUpperBound(*held, kernel_tasks);
  if (!counter_.Fits(*held, 1, ChargeCheck::kLimit)) {
    counter_.RecordRefusal();
    d.resource = "numproc";
    d.exact = true;
    d.held_pages = *held;
    d.bound_pages = counter_.values().limit_pages;
    d.refused = true;
    d.action = Decision::Action::kFail;
    d.error_number = EAGAIN;
    return false;
  }
  in_flight_.Add(call, 1);
  pending_tid_ = call.tid;
  pending_held_ = *held;
  pending_kernel_ = kernel_tasks;
  // maxheld follows the kernel's count only: the clone may still fail.
  counter_.ObserveHeldUpperBound(SaturatingAdd(*held, 1), kernel_tasks);
  return true;
}

void TaskCounter::CancelPending() {
  if (pending_tid_ < 0) return;
  in_flight_.Erase(pending_tid_);
  pending_tid_ = -1;
  counter_.ObserveHeldUpperBound(pending_held_, pending_kernel_);
}

Status TaskCounter::Refresh(MemberReader& members) {
  uint64_t kernel_tasks = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_tasks);
  if (!held.ok()) return held.status();
  counter_.ObserveHeldUpperBound(*held, kernel_tasks);
  return Status::Ok();
}

void TaskCounter::Retire() {
  in_flight_.Clear();
  pending_tid_ = -1;
  counter_.ObserveHeld(0);
}

}  // namespace ubc
