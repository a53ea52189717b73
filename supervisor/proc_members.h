// ProcMembers: the /proc MemberReader (core/accounting_readers.h) of one
// container.
//
// It enumerates the container's processes as its Membership says
// (supervisor/membership.h) and sums statm "data" over their distinct
// address spaces. It keeps one /proc/PID directory fd and statm fd open per
// member: an open /proc fd stays bound to its process, so a reused pid can
// never be misread, and pread of a kept statm fd is far cheaper than
// open/read/close. Those fds come out of one budget for all containers
// (SetKeptFdBudget); past it members are read by path. A member that cannot
// be opened for want of fds fails the sample (the decision follows on_error)
// instead of being taken for gone. A process forked by a member is looked for among the
// forking thread's children (/proc/PID/task/TID/children) rather than by
// listing the whole membership again: forks are far apart, the kernel's data
// is cold by then, and a cold cgroup v1 listing costs several times a cold
// children read. Under the openvz profile (CountSharedAnonymous) each
// distinct address space's maps is read as well, for its shared anonymous
// objects. Parsing is core/proc_text.h. Not thread-safe (except
// NoteProcess and Contains): its container's accounting mutex serialises every use.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/accounting_readers.h"
#include "core/memory_map.h"
#include "core/proc_text.h"
#include "core/unique_fd.h"
#include "supervisor/membership.h"
#include "supervisor/process_view.h"

namespace ubc {

class ProcMembers : public ContainerMembers {
 public:
  explicit ProcMembers(Membership membership);
  ~ProcMembers() override;

  // Every trapped call's thread. A thread not seen before may belong to a
  // process not listed yet (an exec, a spawned child): the next Sample()
  // lists the members afresh. kObserved membership is made of these.
  // Thread-safe.
  void NoteProcess(int tid) override;
  void ExpectNewProcess(int forker_tid) override;
  // Told only for a member's main thread, read through its kept fds: a
  // recycled tid is never read.
  bool ChildrenReaped(int tid) override;
  // By the membership alone (no listing): thread-safe, reads only `where`.
  bool Contains(ProcessLocation& where) override;

  Status Sample(MembersSample* out) override;
  // Every later Sample() reads each distinct address space's maps as well.
  void CountSharedAnonymous() override { count_shared_anon_ = true; }
  CallProgress Progress(int tid, int nr, const std::array<uint64_t, 6>& args) override;
  // The container's IPC namespace, opened when it was attached; null with
  // the reason it could not be (SharedMemory() then reports that).
  void SetShmReader(std::unique_ptr<ShmReader> reader, std::string why_not = {}) {
    shm_ = std::move(reader);
    shm_error_ = std::move(why_not);
  }
  Result<ShmUsage> SharedMemory() override {
    if (shm_) return shm_->Usage();
    return Status::Error(shm_error_.empty() ? "no IPC namespace" : shm_error_);
  }
  Result<ShmSegment> SharedSegment(int shmid) override {
    if (shm_) return shm_->Segment(shmid);
    return Status::Error(shm_error_.empty() ? "no IPC namespace" : shm_error_);
  }
  // VmLck of the members listed by the last Sample(), each address space
  // once, read through their kept fds.
  Result<uint64_t> LockedPages() override;
  // num_threads of the members listed by the last Sample().
  Result<uint64_t> Tasks() override;
  int ThreadGroupOf(int tid) override;
  void ReleaseAll() override;

  // At most `fds` /proc fds are kept by all members of all containers
  // together (ubcd sets half its fd limit): past it a member is read by path,
  // so however many processes containers run, the fds decisions need are
  // never taken by the reads of them. Members already open keep theirs.
  static void SetKeptFdBudget(int64_t fds);
  static int64_t KeptFds();

  const Membership& membership() const { return membership_; }
  std::string Describe() const override { return membership_.Describe(); }

 private:
  std::unique_ptr<ShmReader> shm_;
  std::string shm_error_;
  struct Process;
  Result<std::set<int>> ListTgids();
  Process* Open(int tgid);
  // Opens the children of every thread that forked since the last sample;
  // false when one could not be read (not a member's main thread, or it
  // exited and its children went to another parent): then the members must
  // be listed afresh.
  bool OpenChildrenOfForkers(MembersSample* out);
  Result<std::string> ReadChildren(int tid);
  void NoteSharedObjectsOf(int tgid, SharedAnonymousObjects* objects);

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
  // An Open() that failed for want of fds or memory (not because the
  // process is gone): the next Sample() fails with it.
  Status resource_error_;
  // kCgroup: the container's cgroup directory, opened at the first listing
  // and kept; on cgroup2 its cgroup.procs too (on v1 closed after each read).
  UniqueFd cgroup_dir_;
  UniqueFd cgroup_procs_;
  bool cgroup2_ = false;
  bool count_shared_anon_ = false;
  // Scratch of Sample(), kept for its capacity.
  std::vector<std::pair<Statm, int>> statm_scratch_;
};

// Thread-group id of a thread (from /proc/TID/status), or -1.
int ReadThreadGroupId(int tid);

}  // namespace ubc
