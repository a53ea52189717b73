#include "supervisor/tcp_peer.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace ubc {
namespace {

struct DiagRequest {
  nlmsghdr header;
  inet_diag_req_v2 request;
};

}  // namespace

TcpPeerLookup::TcpPeerLookup()
    : netlink_(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {
  if (netlink_) {
    timeval timeout{0, 200000};  // the kernel answers at once; never hang the server
    ::setsockopt(netlink_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
}

TcpPeer TcpPeerLookup::Lookup(int fd) {
  TcpPeer peer;
  sockaddr_storage local{}, remote{};
  socklen_t local_len = sizeof local, remote_len = sizeof remote;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_len) != 0 ||
      local.ss_family != remote.ss_family ||
      (remote.ss_family != AF_INET && remote.ss_family != AF_INET6)) {
    peer.address = "unknown";
    return peer;
  }
  DiagRequest req{};
  req.header.nlmsg_len = sizeof req;
  req.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.header.nlmsg_flags = NLM_F_REQUEST;
  req.header.nlmsg_seq = ++sequence_;
  req.request.sdiag_family = static_cast<uint8_t>(remote.ss_family);
  req.request.sdiag_protocol = IPPROTO_TCP;
  req.request.idiag_states = ~0U;
  req.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  char text[INET6_ADDRSTRLEN] = "";
  // The peer's socket: its source is the remote end of ours.
  if (remote.ss_family == AF_INET) {
    const auto& r = reinterpret_cast<const sockaddr_in&>(remote);
    const auto& l = reinterpret_cast<const sockaddr_in&>(local);
    req.request.id.idiag_sport = r.sin_port;
    req.request.id.idiag_dport = l.sin_port;
    std::memcpy(req.request.id.idiag_src, &r.sin_addr, sizeof r.sin_addr);
    std::memcpy(req.request.id.idiag_dst, &l.sin_addr, sizeof l.sin_addr);
    ::inet_ntop(AF_INET, &r.sin_addr, text, sizeof text);
  } else {
    const auto& r = reinterpret_cast<const sockaddr_in6&>(remote);
    const auto& l = reinterpret_cast<const sockaddr_in6&>(local);
    req.request.id.idiag_sport = r.sin6_port;
    req.request.id.idiag_dport = l.sin6_port;
    std::memcpy(req.request.id.idiag_src, &r.sin6_addr, sizeof r.sin6_addr);
    std::memcpy(req.request.id.idiag_dst, &l.sin6_addr, sizeof l.sin6_addr);
    ::inet_ntop(AF_INET6, &r.sin6_addr, text, sizeof text);
  }
  peer.address = text;
  if (!netlink_) return peer;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(netlink_.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(sizeof req)) {
    return peer;
  }
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = ::recv(netlink_.get(), buf, sizeof buf, 0);
    if (n <= 0) return peer;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != sequence_) continue;  // a late answer to an earlier lookup
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) return peer;
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
          h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        continue;
      }
      const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      peer.uid = msg->idiag_uid;
      return peer;
    }
  }
}

}  // namespace ubc
