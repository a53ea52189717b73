// TcpPeer: who is on the other end of an accepted TCP connection, for the
// REST API's per-peer connection caps (supervisor/rest_server.h).
//
// A connection from this host is keyed by the uid that owns the connecting
// socket, asked of the kernel with one exact sock_diag (NETLINK_SOCK_DIAG,
// inet_diag) lookup of the peer's 4-tuple: what the kernel records when the
// socket is created, so no client can claim another's. A connection from
// elsewhere (no such local socket) is keyed by its address. TcpPeerLookup
// owns one netlink socket; Lookup() is called from one thread (the server's).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/unique_fd.h"

namespace ubc {

struct TcpPeer {
  std::optional<uid_t> uid;  // a local peer's socket owner
  std::string address;       // "127.0.0.1", "::1": the key of a remote peer
  // "uid 65534" or "address 192.0.2.7".
  std::string Key() const { return uid ? "uid " + std::to_string(*uid) : "address " + address; }
};

class TcpPeerLookup {
 public:
  TcpPeerLookup();
  // The peer of connected socket `fd`; the uid only when the kernel knows
  // the other end as a socket of this host's network namespace.
  TcpPeer Lookup(int fd);

 private:
  UniqueFd netlink_;
  uint32_t sequence_ = 0;
};

}  // namespace ubc
