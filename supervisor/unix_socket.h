// Unix sockets of ubcd: the listener, the status socket and the fd store.
//
// BindUnixSocket() is the one place that creates a listening socket file: it
// refuses a path that is not a socket or that another process listens on,
// removes a stale one, and binds under umask 0177 so the socket is 0600 from
// its first moment. Pure functions over fds; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

// A non-blocking listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) at
// `path`; missing parent directories are created 0700.
Result<UniqueFd> BindUnixSocket(const std::string& path, int type);

// A blocking connected socket of `type`; errors read "connect PATH: reason".
Result<UniqueFd> ConnectUnixSocket(const std::string& path, int type);

// Packets with fds (SCM_RIGHTS) over SOCK_SEQPACKET or SOCK_DGRAM sockets.
// At most this many fds are taken from one packet.
inline constexpr size_t kMaxFdsPerPacket = 8;

// One packet of at most `len` bytes; every fd it carried is in *fds, close-on-
// exec (an oversized packet is cut, MSG_TRUNC set in *flags). -1 and errno
// as recvmsg; EINTR is retried.
ssize_t ReceiveWithFds(int sock, void* buf, size_t len, int recv_flags, int* flags,
                       std::vector<UniqueFd>* fds);

// Sends one packet and, when `fd` >= 0, that fd; 0 or an errno. Never SIGPIPE.
int SendPacket(int sock, const void* data, size_t len, int fd, int send_flags);

// Exactly `len` bytes from a stream socket within `timeout_ms` in all:
// false on EOF, an error or the timeout (what arrived is then unspecified).
bool ReceiveAll(int fd, char* buf, size_t len, int64_t timeout_ms);
// All of `data` within `timeout_ms` in all; false otherwise. Never SIGPIPE.
bool SendAll(int fd, std::string_view data, int64_t timeout_ms);

// The payload of one frame of core/rest_frame.h (its 4-byte length, then
// that many bytes) within `timeout_ms` in all. A length over `max_bytes` is
// an error without an errno (the peer misbehaves); EOF, a socket error or the
// timeout is ECONNABORTED (the peer is gone or stalled).
Result<std::string> ReceiveRestFrame(int fd, size_t max_bytes, int64_t timeout_ms);

}  // namespace ubc
