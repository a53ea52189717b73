// /proc readers behind the accounting interfaces of core/container_accounting.h.
//
// ProcTarget reads the thread that made one notification; every /proc file it
// opens is checked with SECCOMP_IOCTL_NOTIF_ID_VALID after opening, so a
// recycled pid is never read. It lives for one decision.
//
// ProcMembers enumerates a container's processes and sums statm "data" over
// their distinct address spaces. Membership (see docs/accounting.md) comes
// from the container's own cgroup when the runtime gave it one, else from its
// pid namespace, else from the processes seen trapping. It keeps one
// /proc/PID directory fd and statm fd open per member: an open /proc fd stays
// bound to its process, so a reused pid can never be misread, and pread of a
// kept statm fd is far cheaper than open/read/close. A process forked by a
// member is looked for among the forking thread's children
// (/proc/PID/task/TID/children) rather than by listing the whole membership
// again: forks are far apart, the kernel's data is cold by then, and a cold
// cgroup v1 listing costs several times a cold children read. Not
// thread-safe (except NoteProcess): its container's accounting mutex
// serialises every use.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/container_accounting.h"
#include "core/unique_fd.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {

class ProcTarget : public TargetReader {
 public:
  ProcTarget(const SeccompNotifier& notifier, uint64_t notification_id, int tid);
  Result<uint64_t> DataPages() override;
  Result<std::vector<MapEntry>> Maps() override;
  Result<ImageFacts> Image() override;
  // The thread's command name, for refusal logs ("?" when unreadable).
  std::string Comm();

 private:
  Result<std::string> ReadVerified(const char* file);
  const SeccompNotifier& notifier_;
  uint64_t id_;
  int tid_;
};

struct Membership {
  enum class Kind { kCgroup, kPidNamespace, kObserved };
  Kind kind = Kind::kObserved;
  std::string cgroup_dir;  // kCgroup: the container's cgroup directory
  dev_t pidns_dev = 0;     // kPidNamespace
  ino_t pidns_ino = 0;
  std::string Describe() const;
};

// Works out how to find a container's processes from its init pid and the pid
// of the runtime that sent the notify fd.
Membership DetermineMembership(int init_pid, int runtime_pid);

class ProcMembers : public MemberReader {
 public:
  explicit ProcMembers(Membership membership);
  ~ProcMembers() override;

  // Every trapped call's thread. A thread not seen before may belong to a
  // process not listed yet (an exec, a spawned child): the next Sample()
  // lists the members afresh. kObserved membership is made of these.
  // Thread-safe.
  void NoteProcess(int tid);
  void ExpectNewProcess(int forker_tid) override;
  // Told only for a member's main thread, read through its kept fds: a
  // recycled tid is never read.
  bool ChildrenReaped(int tid) override;

  Status Sample(MembersSample* out) override;
  CallProgress Progress(int tid, int nr, const std::array<uint64_t, 6>& args) override;
  int ThreadGroupOf(int tid) override;
  void ReleaseAll() override;

  const Membership& membership() const { return membership_; }

 private:
  struct Process;
  Result<std::set<int>> ListTgids();
  Process* Open(int tgid);
  // Opens the children of every thread that forked since the last sample;
  // false when one could not be read (not a member's main thread, or it
  // exited and its children went to another parent): then the members must
  // be listed afresh.
  bool OpenChildrenOfForkers(MembersSample* out);
  Result<std::string> ReadChildren(int tid);

  Membership membership_;
  std::mutex observed_mu_;  // NoteProcess runs outside the accounting lock
  std::set<int> observed_tids_;
  std::set<int> seen_tids_;
  // Listing the members (cgroup.procs, or a /proc scan) costs more than the
  // rest of a decision; it is done again only when the membership may have
  // changed, and at least every kRelistInterval.
  std::atomic<bool> relist_{true};
  // Threads that forked since the last sample (cgroup and pid-namespace
  // membership; bounded, past it a relist is cheaper).
  std::vector<int> forkers_;
  std::chrono::milliseconds listed_at_{};  // CLOCK_MONOTONIC_COARSE
  uint32_t samples_since_clock_ = 0;
  std::map<int, std::unique_ptr<Process>> processes_;
  // kCgroup: the container's cgroup directory, opened at the first listing
  // and kept; on cgroup2 its cgroup.procs too (on v1 closed after each read).
  UniqueFd cgroup_dir_;
  UniqueFd cgroup_procs_;
  bool cgroup2_ = false;
  // Scratch of Sample(), kept for its capacity. Statm is private to the .cc.
  std::vector<std::pair<std::array<uint64_t, 7>, int>> statm_scratch_;
};

// Thread-group id of a thread (from /proc/TID/status), or -1.
int ReadThreadGroupId(int tid);

}  // namespace ubc
