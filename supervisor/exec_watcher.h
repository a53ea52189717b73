// ExecWatcher: the kernel's exec events (the proc connector, NETLINK_CONNECTOR
// CN_IDX_PROC), so that ubcd checks an exec'd image right after the kernel
// mapped it (docs/accounting.md, "exec"): the data, bss and stack of a new
// image come without any trapped call.
//
// Open() makes the socket, joins the proc connector's multicast group and
// subscribes (PROC_CN_MCAST_LISTEN, asking kernels >= 6.6 for exec events
// only): joining needs CAP_NET_ADMIN, so it runs before ubcd drops its
// capabilities; receiving needs none. It fails (and ubcd goes on without it)
// when the capability is missing or the kernel lacks CONFIG_PROC_EVENTS.
// Start() starts the one thread it owns, which reports each PROC_EVENT_EXEC
// to the callback; when the socket's receive buffer overran (ENOBUFS: events
// were lost) it counts and logs it and calls the overrun callback instead.
// Stop() (also the destructor) wakes the thread through an eventfd and joins
// it; the thread is never detached.
//
// Owns its socket, eventfd and thread. Thread-safety: Open, Start and Stop
// from the owner; the callbacks run on the watcher's thread, one at a time;
// the counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

// One exec as the kernel reports it, in the host's pid namespace.
struct ExecEvent {
  int tid = 0;   // process_pid: the thread that exec'd (its tgid after the exec)
  int tgid = 0;  // process_tgid
};

class ExecWatcher {
 public:
  using OnExec = std::function<void(const ExecEvent&)>;
  using OnOverrun = std::function<void()>;

  // The socket subscribed; errors say why (EPERM: no CAP_NET_ADMIN; no
  // answer from the kernel: no CONFIG_PROC_EVENTS).
  static Result<std::unique_ptr<ExecWatcher>> Open();
  ~ExecWatcher();
  ExecWatcher(const ExecWatcher&) = delete;
  ExecWatcher& operator=(const ExecWatcher&) = delete;

  void Start(OnExec on_exec, OnOverrun on_overrun);
  void Stop();

  uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  uint64_t overruns() const { return overruns_.load(std::memory_order_relaxed); }
  // The receive buffer the kernel granted (SO_RCVBUF as read back).
  int receive_buffer_bytes() const { return receive_buffer_bytes_; }

 private:
  ExecWatcher(UniqueFd socket, UniqueFd wake, int receive_buffer_bytes);
  void Run();
  // Parses one datagram; reports every exec in it.
  void Dispatch(const uint8_t* data, size_t len);

  UniqueFd socket_;
  UniqueFd wake_;  // eventfd: Stop() writes it
  const int receive_buffer_bytes_;
  OnExec on_exec_;
  OnOverrun on_overrun_;
  std::thread thread_;
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> overruns_{0};
};

}  // namespace ubc
