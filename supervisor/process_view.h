// ProcessView: how ubcd looks at a container's processes, behind interfaces
// so that the supervisor is unit-tested with fakes.
//
// ContainerMembers is a container's MemberReader plus what the supervisor
// itself asks of it (the threads it sees, how membership was decided).
// CallTarget is a TargetReader for one notification at a time, kept per notify
// thread and pointed at each new notification with Reset() (the notification
// path allocates nothing). ProcessView makes both; the /proc implementation is
// supervisor/proc_process_view.h. Thread-safety: Members() and Target() may be
// called from any thread; a ContainerMembers is used under its container's
// accounting mutex except NoteProcess() and Describe(), which are
// thread-safe; a CallTarget belongs to one notify thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/accounting_readers.h"
#include "supervisor/notifier.h"

namespace ubc {

class ContainerMembers : public MemberReader {
 public:
  // Every trapped call's thread: a thread not seen before may belong to a
  // process not listed yet. Thread-safe.
  virtual void NoteProcess(int tid) = 0;
  // "cgroup /sys/fs/cgroup/...", "pid namespace N", "observed processes".
  virtual std::string Describe() const = 0;
};

class CallTarget : public TargetReader {
 public:
  // The thread of notification `id`; its files are read only while `id` is
  // valid on the notifier the target was made for.
  virtual void Reset(uint64_t notification_id, int tid) = 0;
  // The thread's command name, for refusal logs ("?" when unreadable).
  virtual std::string Comm() = 0;
};

class ProcessView {
 public:
  virtual ~ProcessView() = default;
  // How to find a container's processes, from its init pid and the pid of the
  // runtime that sent the notify fd (<= 0 when unknown).
  virtual std::unique_ptr<ContainerMembers> Members(int init_pid, int runtime_pid) = 0;
  virtual std::unique_ptr<CallTarget> Target(const Notifier& notifier) = 0;
};

}  // namespace ubc
