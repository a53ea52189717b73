// Unix sockets of ubcd: the listener, the status socket and the fd store.
//
// BindUnixSocket() is the one place that creates a listening socket file: it
// refuses a path that is not a socket or that another process listens on,
// removes a stale one, and binds under umask 0177 so the socket is 0600 from
// its first moment. Pure functions over fds; thread-safe.
#pragma once

#include <string>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

// A non-blocking listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) at
// `path`; missing parent directories are created 0700.
Result<UniqueFd> BindUnixSocket(const std::string& path, int type);

// A blocking connected socket of `type`; errors read "connect PATH: reason".
Result<UniqueFd> ConnectUnixSocket(const std::string& path, int type);

}  // namespace ubc
