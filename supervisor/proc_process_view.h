// ProcProcessView: ubcd's ProcessView (supervisor/process_view.h) over /proc,
// built from one concept per header:
//
// - supervisor/proc_target.h: ProcTarget reads the thread that made a
//   notification; every file it opens is checked with
//   SECCOMP_IOCTL_NOTIF_ID_VALID after opening, so a recycled pid is never
//   read. One per notify thread.
// - supervisor/membership.h: Membership and DetermineMembership(), how a
//   container's processes are found (its cgroup, else its pid namespace, else
//   the processes seen trapping).
// - supervisor/proc_members.h: ProcMembers enumerates a container's processes
//   and samples their statm through fds kept per member; ReadThreadGroupId().
// - supervisor/proc_location.h: ProcLocation, a host process named by an
//   exec event (its cgroup, its pid namespace), to find its container.
// - supervisor/proc_read.h: the read discipline they share (from offset 0,
//   stopping as soon as a read has seen the whole file).
//
// They only read; what the text says is parsed by core/proc_text.h and
// core/memory_map.h, pure and unit-tested. Thread-safety is stated in each
// header.
// - supervisor/ipc_namespace_service.h: the container's IPC namespace, opened
//   with its members (shmpages).
// ProcProcessView holds only the IPC namespace reader it is given (not
// owned; may be null); its methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/stack_headroom.h"
#include "supervisor/ipc_namespace_service.h"
#include "supervisor/membership.h"
#include "supervisor/proc_location.h"
#include "supervisor/proc_members.h"
#include "supervisor/proc_read.h"
#include "supervisor/proc_target.h"

namespace ubc {

class ProcProcessView : public ProcessView {
 public:
  explicit ProcProcessView(IpcNamespaceService* ipc_reader = nullptr) : ipc_reader_(ipc_reader) {}

  std::unique_ptr<ContainerMembers> Members(int init_pid, int runtime_pid) override {
    auto members = std::make_unique<ProcMembers>(
        init_pid > 0 ? DetermineMembership(init_pid, runtime_pid) : Membership{});
    if (init_pid > 0) {
      // Opened with the init, the namespace stays readable after it exits.
      if (auto ns = ContainerIpcNamespace::Open(ipc_reader_, init_pid); ns.ok()) {
        members->SetShmReader(std::move(ns).value());
      } else {
        members->SetShmReader(nullptr, ns.status().message());
      }
    }
    return members;
  }
  std::unique_ptr<ResourceGauge> Gauge(int init_pid, int runtime_pid) override {
    if (init_pid <= 0) return nullptr;
    return std::make_unique<ResourceGauge>(FindGaugeSources(init_pid, runtime_pid));
  }
  std::unique_ptr<CallTarget> Target(const Notifier& notifier) override {
    return std::make_unique<ProcTarget>(notifier);
  }
  std::unique_ptr<ProcessLocation> Locate(int tgid) override {
    return std::make_unique<ProcLocation>(tgid);
  }
  // /proc/PID/limits is readable by anyone (prlimit() on another process
  // would need CAP_SYS_RESOURCE, which ubcd has dropped).
  std::optional<uint64_t> StackHardLimitBytes(int pid) override {
    Result<std::string> text =
        ReadProcFile("/proc/" + std::to_string(pid) + "/limits", ProcRecords::kOne);
    if (!text.ok()) return std::nullopt;
    return ParseStackHardLimitBytes(*text);
  }

 private:
  IpcNamespaceService* ipc_reader_;
};

}  // namespace ubc
