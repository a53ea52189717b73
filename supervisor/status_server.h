// StatusServer: the local socket `ubcd --status` reads the beancounters from.
//
// A unix stream socket (mode 0600, so root only) served by one thread that
// runs Run(): a client writes one request line ("text" or "json") and reads
// the reply until EOF. The request is what comes before the first '\n', or
// the first kMaxRequestBytes if no newline comes; a client that half-closes
// before the newline is served with what it sent.
//
// Run() is a single-threaded non-blocking event loop (poll(2)) that serves
// many clients at once, so that no client can hold up another:
// - every connection has one total deadline, kClientDeadlineMs from its
//   accept to the last byte of its reply; a connection past it is closed,
//   whatever it is doing (silent, sending a byte at a time, not reading its
//   reply);
// - the handler is called once per client, on the Run() thread, when its
//   request line is complete; its reply is written as fast as the socket
//   takes it (MSG_NOSIGNAL), then the connection is closed. So a stuck client
//   delays another by at most the time the handler takes;
// - at most kMaxClients connections are open: a new one arriving at the cap
//   closes the oldest (the one nearest its deadline), so a flood of stuck
//   clients cannot lock a real reader out;
// - an accept that fails for want of fds or memory (EMFILE, ENFILE, ...) is
//   logged (rate-limited) and the listening socket rests kAcceptBackoffMs
//   while the open connections are served on.
//
// Ownership: the server owns the listening socket, the eventfd Stop() wakes
// Run() with, and (inside Run()) every client connection; all of them are
// closed when Run() returns or the server is destroyed. It does not remove
// the socket file (ubcd unlinks it). Thread-safety: Run() on one thread;
// Stop() from any thread, any number of times, also before Run(). The server
// must outlive the Run() call. QueryStatus() is a free, thread-safe function.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

class StatusServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;

  // A connection's whole life, from accept to the last byte of its reply.
  static constexpr int kClientDeadlineMs = 2000;
  // Open connections at most; the oldest is closed to make room for a new one.
  static constexpr size_t kMaxClients = 128;
  // The longest request line (the rest of a longer one is ignored).
  static constexpr size_t kMaxRequestBytes = 1024;
  // How long accepting pauses after an accept failure such as EMFILE.
  static constexpr int kAcceptBackoffMs = 50;

  static Result<std::unique_ptr<StatusServer>> Create(const std::string& path, Handler handler);
  // The body of the status thread; returns after Stop(), with every client
  // connection closed.
  void Run();
  // Makes Run() return promptly (from any thread); connections arriving
  // afterwards are refused.
  void Stop();

 private:
  StatusServer(UniqueFd socket, UniqueFd wake, Handler handler);
  UniqueFd socket_;  // listening, non-blocking
  UniqueFd wake_;    // eventfd: Stop() writes it, Run() polls it
  Handler handler_;
  std::atomic<bool> stopping_{false};
};

// Client side: sends `request` to the socket at `path` and returns the reply
// (blocking; the server's deadline bounds how long it waits).
Result<std::string> QueryStatus(const std::string& path, const std::string& request);

}  // namespace ubc
