#include "core/beancounter.h"

#include <algorithm>

namespace ubc {

const char* ChargeCheckName(ChargeCheck check) {
  switch (check) {
    case ChargeCheck::kNone:
      return "none";
    case ChargeCheck::kBarrier:
      return "barrier";
    case ChargeCheck::kLimit:
      return "limit";
  }
  return "unknown";
}

bool ChargeFits(uint64_t held_pages, uint64_t request_pages, ChargeCheck check,
                uint64_t barrier_pages, uint64_t limit_pages) {
  if (check == ChargeCheck::kNone) return true;
  uint64_t after = 0;
  // A sum that wraps is larger than any bound, so it never fits.
  if (__builtin_add_overflow(held_pages, request_pages, &after)) return false;
  if (after > limit_pages) return false;
  // A barrier-checked charge must fit both bounds: barrier > limit is allowed
  // by SetLimits and then the limit is the tighter one.
  return check == ChargeCheck::kLimit || after <= barrier_pages;
}

Beancounter::Beancounter(uint64_t barrier_pages, uint64_t limit_pages) {
  SetLimits(barrier_pages, limit_pages);
}

void Beancounter::SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  v_.barrier_pages = barrier_pages;
  v_.limit_pages = limit_pages;
}

void Beancounter::ObserveHeld(uint64_t held_pages) {
  v_.held_pages = held_pages;
  v_.maxheld_pages = std::max(v_.maxheld_pages, held_pages);
}

bool Beancounter::Fits(uint64_t held_pages, uint64_t request_pages, ChargeCheck check) const {
  return ChargeFits(held_pages, request_pages, check, v_.barrier_pages, v_.limit_pages);
}

void Beancounter::RecordRefusal() { ++v_.failcnt; }

void Beancounter::RecordCharge(uint64_t held_pages, uint64_t request_pages) {
  v_.maxheld_pages = std::max(v_.maxheld_pages, SaturatingAdd(held_pages, request_pages));
}

uint64_t Beancounter::ShownHeld(uint64_t upper_bound_pages, uint64_t certain_pages) const {
  return std::min(upper_bound_pages, std::max(v_.limit_pages, certain_pages));
}

void Beancounter::ObserveHeldUpperBound(uint64_t held_pages, uint64_t certain_pages) {
  v_.held_pages = ShownHeld(held_pages, certain_pages);
  v_.maxheld_pages = std::max(v_.maxheld_pages, std::min(held_pages, certain_pages));
}

void Beancounter::Restore(uint64_t maxheld_pages, uint64_t failcnt) {
  v_.maxheld_pages = std::max(v_.maxheld_pages, maxheld_pages);
  v_.failcnt = std::max(v_.failcnt, failcnt);
}

}  // namespace ubc
