#include "supervisor/exec_watcher.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <vector>

#include "supervisor/log.h"

namespace ubc {
namespace {

// The subscription with an event filter (Linux >= 6.6, struct proc_input):
// the kernel then sends this socket exec events only, not every fork and
// exit on the host. Older kernels ignore a message of this length; the
// plain subscription before it stands there, and the thread filters.
struct ProcInput {
  uint32_t mcast_op;
  uint32_t event_type;
};

// Every exec on the host comes through here; a burst (a build, a shell
// loop) must not overrun the buffer while the thread checks one image.
// Forced past net.core.rmem_max (CAP_NET_ADMIN, which Open() still has).
constexpr int kReceiveBufferBytes = 8 << 20;
constexpr size_t kDatagramBytes = 64 << 10;
constexpr auto kAckTimeout = std::chrono::milliseconds(1000);

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

Status SendControl(int fd, uint32_t ack, const void* payload, uint16_t len) {
  alignas(nlmsghdr) uint8_t buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(ProcInput))] = {};
  nlmsghdr nl{};
  nl.nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + len);
  nl.nlmsg_type = NLMSG_DONE;
  cn_msg cn{};
  cn.id.idx = CN_IDX_PROC;
  cn.id.val = CN_VAL_PROC;
  cn.ack = ack;
  cn.len = len;
  std::memcpy(buf, &nl, sizeof nl);
  std::memcpy(buf + NLMSG_HDRLEN, &cn, sizeof cn);
  std::memcpy(buf + NLMSG_HDRLEN + sizeof cn, payload, len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, buf, nl.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return Status::FromErrno(errno, "proc connector: sending the subscription");
  }
  return Status::Ok();
}

// One proc_event of a datagram: its type, the cn_msg ack number, and
// the event's data (zero-filled past what the kernel sent).
struct RawEvent {
  uint32_t what = 0;
  uint32_t ack = 0;
  proc_event event{};
};

// Calls visit(RawEvent) for every proc connector message in a datagram;
// anything else (other connector ids, truncated parts) is skipped.
template <typename Visit>
void ForEachProcEvent(const uint8_t* data, size_t len, Visit visit) {
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    nlmsghdr nl;
    std::memcpy(&nl, data + off, sizeof nl);
    if (nl.nlmsg_len < NLMSG_HDRLEN || nl.nlmsg_len > len - off) return;
    const size_t payload = nl.nlmsg_len - NLMSG_HDRLEN;
    if (nl.nlmsg_type != NLMSG_ERROR && nl.nlmsg_type != NLMSG_NOOP && payload >= sizeof(cn_msg)) {
      cn_msg cn;
      std::memcpy(&cn, data + off + NLMSG_HDRLEN, sizeof cn);
      if (cn.id.idx == CN_IDX_PROC && cn.id.val == CN_VAL_PROC &&
          cn.len <= payload - sizeof(cn_msg) && cn.len >= offsetof(proc_event, event_data)) {
        RawEvent e;
        std::memcpy(&e.event, data + off + NLMSG_HDRLEN + sizeof(cn_msg),
                    std::min<size_t>(cn.len, sizeof e.event));
        e.what = e.event.what;
        e.ack = cn.ack;
        visit(e);
      }
    }
    off += NLMSG_ALIGN(nl.nlmsg_len);
  }
}

// A datagram from the kernel (port 0): nothing else may speak for it.
ssize_t ReceiveFromKernel(int fd, uint8_t* buf, size_t len, int flags) {
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        ::recvfrom(fd, buf, len, flags, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0 && from.nl_pid != 0) continue;
    return n;
  }
}

// Waits for the kernel's answer to the subscription sent with ack number
// `nonce`: PROC_EVENT_NONE with ack nonce + 1 and the error, broadcast to
// every listener among other events.
Status AwaitAck(int fd, uint32_t nonce) {
  std::vector<uint8_t> buf(kDatagramBytes);
  const auto deadline = std::chrono::steady_clock::now() + kAckTimeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      return Status::Error(
          "proc connector: no answer to the subscription (kernel without CONFIG_PROC_EVENTS?)");
    }
    const ssize_t n = ReceiveFromKernel(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) continue;
      return Status::FromErrno(errno, "proc connector: receiving");
    }
    int err = -1;
    ForEachProcEvent(buf.data(), static_cast<size_t>(n), [&](const RawEvent& e) {
      if (e.what == proc_event::PROC_EVENT_NONE && e.ack == nonce + 1)
        err = static_cast<int>(e.event.event_data.ack.err);
    });
    if (err == 0) return Status::Ok();
    if (err > 0) {
      return Status::FromErrno(err, "proc connector: subscription refused");
    }
  }
}

}  // namespace

Result<std::unique_ptr<ExecWatcher>> ExecWatcher::Open() {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  if (!sock) return Status::FromErrno(errno, "proc connector: socket");
  int want = kReceiveBufferBytes;
  if (::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    (void)::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  int granted = 0;
  socklen_t granted_len = sizeof granted;
  (void)::getsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &granted, &granted_len);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = CN_IDX_PROC;
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Status::FromErrno(errno,
                             "proc connector: joining the multicast group (needs CAP_NET_ADMIN)");
  }
  socklen_t local_len = sizeof local;
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return Status::FromErrno(errno, "proc connector: getsockname");
  }
  // Acks go to every listener: a number of this socket's own, which the
  // kernel answers plus one (it sets the sequence number itself).
  const uint32_t nonce = local.nl_pid << 8;
  const uint32_t listen = PROC_CN_MCAST_LISTEN;
  if (Status s = SendControl(sock.get(), nonce, &listen, sizeof listen); !s.ok()) return s;
  if (Status s = AwaitAck(sock.get(), nonce); !s.ok()) return s;
  const ProcInput exec_only{PROC_CN_MCAST_LISTEN, proc_event::PROC_EVENT_EXEC};
  if (Status s = SendControl(sock.get(), nonce + 2, &exec_only, sizeof exec_only); !s.ok())
    return s;
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Status::FromErrno(errno, "eventfd");
  return std::unique_ptr<ExecWatcher>(new ExecWatcher(std::move(sock), std::move(wake), granted));
}

ExecWatcher::ExecWatcher(UniqueFd socket, UniqueFd wake, int receive_buffer_bytes)
    : socket_(std::move(socket)),
      wake_(std::move(wake)),
      receive_buffer_bytes_(receive_buffer_bytes) {}

ExecWatcher::~ExecWatcher() { Stop(); }

void ExecWatcher::Start(OnExec on_exec, OnOverrun on_overrun) {
  if (thread_.joinable()) return;
  on_exec_ = std::move(on_exec);
  on_overrun_ = std::move(on_overrun);
  thread_ = std::thread([this] { Run(); });
}

void ExecWatcher::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    // An eventfd write of 1 fails only on a signal: the thread must be woken.
    while (::write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  if (socket_) {
    // Best effort: ubcd has dropped CAP_NET_ADMIN by now and the kernel may
    // refuse it; closing the socket ends the delivery either way.
    const uint32_t ignore = PROC_CN_MCAST_IGNORE;
    (void)SendControl(socket_.get(), 0, &ignore, sizeof ignore);
    socket_.reset();
  }
}

void ExecWatcher::Dispatch(const uint8_t* data, size_t len) {
  ForEachProcEvent(data, len, [&](const RawEvent& e) {
    if (e.what != proc_event::PROC_EVENT_EXEC) return;
    events_.fetch_add(1, std::memory_order_relaxed);
    ExecEvent exec;
    exec.tid = e.event.event_data.exec.process_pid;
    exec.tgid = e.event.event_data.exec.process_tgid;
    if (on_exec_) on_exec_(exec);
  });
}

void ExecWatcher::Run() {
  std::vector<uint8_t> buf(kDatagramBytes);
  pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, Errno("exec watcher: poll") + "; exec images are checked no more");
      return;
    }
    if (fds[1].revents != 0) return;
    // Drain what is queued, then sleep again.
    for (;;) {
      const ssize_t n = ReceiveFromKernel(socket_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n >= 0) {
        Dispatch(buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (errno == ENOBUFS) {
        const uint64_t lost = overruns_.fetch_add(1, std::memory_order_relaxed) + 1;
        Log(LogLevel::kWarning, "exec watcher: receive buffer overran, exec events lost (" +
                                    std::to_string(lost) +
                                    " overruns so far); checking every running container exactly");
        if (on_overrun_) on_overrun_();
        continue;
      }
      if (errno != EAGAIN) {
        Log(LogLevel::kError,
            Errno("exec watcher: receiving") + "; exec images are checked no more");
        return;
      }
      break;
    }
  }
}

}  // namespace ubc
