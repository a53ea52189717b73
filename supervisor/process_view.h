// ProcessView: how ubcd looks at a container's processes, behind interfaces
// so that the supervisor is unit-tested with fakes.
//
// ContainerMembers is a container's MemberReader plus what the supervisor
// itself asks of it (the threads it sees, how membership was decided, whether
// a process found through an exec event is one of its own).
// ProcessLocation is what is read of one host process to find its container
// (every exec on the host is reported, so it reads little).
// CallTarget is a TargetReader for one notification at a time, kept per notify
// thread and pointed at each new notification with Reset() (the notification
// path allocates nothing). ProcessView makes all three, and reads a process's
// RLIMIT_STACK; the /proc implementation is supervisor/proc_process_view.h.
// Thread-safety: ProcessView's methods may be called from any thread; a
// ContainerMembers is used under its container's accounting mutex except
// NoteProcess(), Describe() and Contains(), which are thread-safe (an exec
// event must not wait for the decisions of a container the process is not
// in); a CallTarget belongs to one notify thread, a ProcessLocation to one
// exec event.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/accounting_readers.h"
#include "supervisor/notifier.h"
#include "supervisor/resource_gauge.h"

namespace ubc {

// One host process, for finding its container after an exec: its
// /proc/PID/cgroup is read once when it is made (one small file per exec on
// the host), its pid namespace only when a container asks.
class ProcessLocation {
 public:
  virtual ~ProcessLocation() = default;
  virtual int tgid() const = 0;
  // Its cgroup path in the hierarchy of `controllers` ("" is cgroup2);
  // nullopt when unknown. The view lives as long as this object.
  virtual std::optional<std::string_view> CgroupPath(std::string_view controllers) = 0;
  // Its pid namespace; false when it cannot be told (the process is gone).
  virtual bool PidNamespace(dev_t* dev, ino_t* ino) = 0;
};

class ContainerMembers : public MemberReader {
 public:
  // Every trapped call's thread: a thread not seen before may belong to a
  // process not listed yet. Thread-safe.
  virtual void NoteProcess(int tid) = 0;
  // "cgroup /sys/fs/cgroup/...", "pid namespace N", "observed processes".
  virtual std::string Describe() const = 0;
  // Whether the process is one of the container's, by its membership
  // (cgroup, pid namespace, or observed). Thread-safe; reads nothing but
  // what `where` reads.
  virtual bool Contains(ProcessLocation& where) = 0;
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
  // Process `tgid` of the host, as an exec event names it.
  virtual std::unique_ptr<ProcessLocation> Locate(int tgid) = 0;
  // The RLIMIT_STACK hard limit of `pid` in bytes (kUnlimitedStackBytes in
  // core/stack_headroom.h for none); nullopt when it cannot be read.
  virtual std::optional<uint64_t> StackHardLimitBytes(int pid) = 0;
  // What measures the container's other rows (resource_gauge.h); null: none
  // (they show as not tracked).
  virtual std::unique_ptr<ResourceGauge> Gauge(int /*init_pid*/, int /*runtime_pid*/) {
    return nullptr;
  }
};

}  // namespace ubc
