#include "core/shm_counter.h"

#include <algorithm>
#include <cerrno>

#include "core/units.h"

namespace ubc {

Result<uint64_t> ShmCounter::ReadHeld(MemberReader& members, uint64_t* kernel_pages) {
  Result<ShmUsage> usage = members.SharedMemory();
  if (!usage.ok()) return usage.status();
  in_flight_.Prune(members);
  *kernel_pages = SaturatingAdd(usage->pages, shared_anon_pages_);
  return SaturatingAdd(*kernel_pages, in_flight_.Total());
}

void ShmCounter::Decide(const TrappedCall& call, const ClassifiedCall& classified,
                        MemberReader& members, Decision& d) {
  d.resource = "shmpages";
  // newseg() rounds the size up to pages; a size of 0 is EINVAL and creates
  // nothing.
  const uint64_t pages = PagesForBytes(classified.length_bytes);
  if (pages == 0) return;
  d.plan.check = ChargeCheck::kBarrier;
  d.plan.pages = pages;
  d.plan.grows_caller_data = false;
  (void)Charge(call, pages, members, d);
}

bool ShmCounter::Charge(const TrappedCall& call, uint64_t pages, MemberReader& members,
                        Decision& d) {
  uint64_t kernel_pages = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_pages);
  if (!held.ok()) {
    d.undecidable = true;
    d.note = "shmpages: " + held.status().message();
    return false;
  }
  counter_.ObserveHeldUpperBound(*held, kernel_pages);
  d.exact = true;
  d.held_pages = *held;
  d.bound_pages = std::min(counter_.values().barrier_pages, counter_.values().limit_pages);
  if (!counter_.Fits(*held, pages, ChargeCheck::kBarrier)) {
    counter_.RecordRefusal();
    d.resource = "shmpages";
    d.refused = true;
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
    return false;
  }
  in_flight_.Add(call, pages);
  // maxheld follows the kernel's figure only: the call may still fail
  // (EEXIST, ENOSPC) and create nothing.
  counter_.ObserveHeldUpperBound(SaturatingAdd(*held, pages), kernel_pages);
  return true;
}

Status ShmCounter::Refresh(MemberReader& members) {
  uint64_t kernel_pages = 0;
  Result<uint64_t> held = ReadHeld(members, &kernel_pages);
  if (!held.ok()) return held.status();
  counter_.ObserveHeldUpperBound(*held, kernel_pages);
  return Status::Ok();
}

void ShmCounter::Retire() {
  in_flight_.Clear();
  shared_anon_pages_ = 0;
  counter_.ObserveHeld(0);
}

}  // namespace ubc
