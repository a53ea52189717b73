// ReservationLedger: the estimate of a container's privvmpages held between
// exact reads, and the calls it admitted that may not have completed yet.
//
// Held is the kernel's truth (statm data summed over the container's address
// spaces) plus reservations for admitted calls still on their way
// (docs/accounting.md, "Where held comes from"). The ledger keeps:
//  - one Reservation per thread (reused: the notification path allocates
//    nothing for a thread it has seen before), released when the thread makes
//    its next trapped call or /proc shows it done;
//  - per address space (by tgid) its statm data when it last had nothing
//    outstanding (its base) and the pages admitted for it since, so that while
//    calls are outstanding it counts max(data now, base + admitted);
//  - the estimate: the last exact held value plus every charge admitted since,
//    which decides calls far from the bound without reading /proc;
//  - the forks admitted since the last exact read, whose charges can leave the
//    estimate once their forker has no child left.
// Not thread-safe: the owning ContainerAccounting serialises every call.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "core/accounting_readers.h"
#include "core/decision.h"
#include "core/syscall_classifier.h"

namespace ubc {

class ReservationLedger {
 public:
  // ---- The estimate
  bool have_exact() const { return have_exact_; }
  // The last exact held value plus every charge admitted since.
  uint64_t Estimate() const {
    return SaturatingAdd(exact_held_pages_, admitted_since_exact_pages_);
  }
  // Charges that appear without a reservation (a new image after an exec).
  void AddToEstimate(uint64_t pages);
  // Fast decisions since the last exact read (the estimate is refreshed after
  // a number of them).
  uint32_t fast_decisions() const { return fast_decisions_; }
  void NoteFastDecision() { ++fast_decisions_; }

  // ---- Calls
  // Thread `tid` makes a new call: its previous one has completed. A completed
  // fork has a child to be found (told to `members`).
  void CallCompleted(int tid, MemberReader& members);
  // An admitted charge that lasts after the call: reserved for `call.tid`
  // until the call is known complete; `tgid` is the caller's process.
  void Reserve(const TrappedCall& call, const ClassifiedCall& classified, const ChargePlan& plan,
               int tgid);
  // Threads with an entry (active or not): their tgid is still of interest.
  bool KnowsThread(int tid) const { return reservations_.count(tid) != 0; }
  uint64_t ActiveReservations() const { return active_; }

  // ---- Address spaces
  // Whether `tgid` was listed at the last exact read (so it is a process's
  // main thread).
  bool HasSpace(int tgid) const { return spaces_.count(tgid) != 0; }
  // The private pages of a process as estimated: its statm at the last exact
  // read plus what was admitted for it since. False when unknown.
  bool SpaceEstimate(int tgid, uint64_t* pages) const;

  // ---- Forks
  bool HasForks() const { return !forks_since_exact_.empty(); }
  // Takes out of the estimate the charges of completed forks whose forker has
  // no child left; true when anything was taken out.
  bool DropReapedForks(MemberReader& members);

  // ---- Exact reads, in this order:
  // 1. Releases calls /proc shows done, and forgets threads that had nothing
  //    outstanding at two exact reads in a row (probably gone), appending
  //    their ids to *forgotten_tids.
  void ReleaseFinished(MemberReader& members, std::vector<int>* forgotten_tids);
  // 2. The exact held value from a fresh sample: its statm data plus what
  //    outstanding calls add; the estimate restarts from it. `prune` drops the
  //    address spaces the sample does not list (the member set changed).
  uint64_t ApplySample(const MembersSample& sample, bool prune);

  // The container is gone.
  void Clear();

 private:
  struct Reservation {
    bool active;
    bool idle_at_last_read;  // inactive at the previous exact read too: pruned next
    int nr;
    std::array<uint64_t, 6> args;
    uint64_t pages;
    int tgid;
    // The call grows the caller's own statm data (mmap, brk, mremap,
    // mprotect); fork and shared anonymous charges show up elsewhere.
    bool grows_caller_data;
    // A fork: the thread whose children the new process is among (-1 for
    // CLONE_PARENT), told to the reader when the call completes. 0: no fork.
    int forker_tid;
  };
  // What is known about one address space (by tgid) between exact reads.
  struct AddressSpace {
    bool has_base = false;
    uint64_t base_data_pages = 0;
    uint64_t admitted_pages = 0;
  };
  // A fork charge in the estimate since the last exact read. It stands for
  // the child; once the fork completed and its forker has no child left, the
  // child is gone and the charge can leave the estimate. Without this, a
  // process forking and waiting for children (a shell, a pre-fork server
  // restarting workers) over a third of the bound would have each fork
  // decided exactly because of the previous, dead child.
  struct ForkCharge {
    int forker_tid;
    uint64_t pages;
    bool completed;
  };

  void Release(Reservation& r, MemberReader& members);

  bool have_exact_ = false;
  uint64_t exact_held_pages_ = 0;            // held at the last exact read
  uint64_t admitted_since_exact_pages_ = 0;  // charges admitted since then
  uint32_t fast_decisions_ = 0;
  uint64_t active_ = 0;  // reservations with `active` set, kept for status readers
  std::map<int, Reservation> reservations_;  // by thread id
  std::map<int, AddressSpace> spaces_;       // by tgid, as of the last exact read
  std::vector<ForkCharge> forks_since_exact_;
};

}  // namespace ubc
