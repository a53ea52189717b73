// Beancounter: the per-container, per-resource counter of docs/ubc-semantics.md §1.
//
// Holds held, maxheld, barrier, limit and failcnt for one resource. Held is not
// a ledger of guesses: the supervisor computes it from the kernel's truth and
// reports it with ObserveHeld(); Fits() applies the charge rule to a request.
// Not thread-safe: the owner (one container's accounting) serialises access.
#pragma once

#include <cstdint>

#include "core/units.h"

namespace ubc {

// Which bound a charge is checked against (docs/ubc-semantics.md §1).
enum class ChargeCheck { kNone, kBarrier, kLimit };

const char* ChargeCheckName(ChargeCheck check);  // "none", "barrier", "limit"

// The charge rule alone: does held + n stay within the bound(s)? Equality is
// allowed; a barrier-checked charge must also fit the limit. Overflow-safe for
// any inputs (a sum that wraps never fits). kNone always fits.
bool ChargeFits(uint64_t held_pages, uint64_t request_pages, ChargeCheck check,
                uint64_t barrier_pages, uint64_t limit_pages);

struct BeancounterValues {
  uint64_t held_pages = 0;
  uint64_t maxheld_pages = 0;
  uint64_t barrier_pages = kUnlimitedPages;
  uint64_t limit_pages = kUnlimitedPages;
  uint64_t failcnt = 0;
};

class Beancounter {
 public:
  Beancounter() = default;
  Beancounter(uint64_t barrier_pages, uint64_t limit_pages);

  // Setting limits never checks barrier <= limit and never reclaims.
  void SetLimits(uint64_t barrier_pages, uint64_t limit_pages);

  // Records the current held value; maxheld follows it upwards.
  void ObserveHeld(uint64_t held_pages);
  // Records a held value that may count calls in flight twice (a safe upper
  // bound for decisions): held shows ShownHeld() of it, maxheld follows only
  // `certain_pages`, what the kernel itself reported.
  void ObserveHeldUpperBound(uint64_t held_pages, uint64_t certain_pages);
  // What held shows for an upper bound that decisions use: the bound itself,
  // but never more than the limit unless the kernel's own figure is (then no
  // more than that figure). Every charge was admitted within the limit, so an upper bound past it
  // is made of calls counted twice (a fork whose child is already in the
  // kernel's figure, say), not of memory; shown as is, an operator would read
  // a breach that never happened. Decisions keep using the upper bound itself:
  // at or past the limit either one refuses every charge.
  uint64_t ShownHeld(uint64_t upper_bound_pages, uint64_t certain_pages) const;

  // Charge rule against the current bounds with the given held value.
  bool Fits(uint64_t held_pages, uint64_t request_pages, ChargeCheck check) const;

  // A refusal: failcnt += 1 (held unchanged).
  void RecordRefusal();

  // A successful charge of n pages on top of held: maxheld = max(maxheld, held + n).
  void RecordCharge(uint64_t held_pages, uint64_t request_pages);

  // After a supervisor restart: the record kept in its state file.
  void Restore(uint64_t maxheld_pages, uint64_t failcnt);

  const BeancounterValues& values() const { return v_; }

 private:
  BeancounterValues v_;
};

}  // namespace ubc
