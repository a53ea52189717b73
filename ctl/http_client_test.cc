#include "ctl/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "core/unique_fd.h"

// LeakSanitizer (the clang build): cpprestsdk reports a failed request to the
// waiting get() first and only then, on its own I/O thread, completes the
// response's body stream. When the process exits in between (after a
// refused connection, say), those continuations are never run nor freed: an
// exit race inside cpprestsdk, now and then, not a leak of the adapter. The
// stacks through libcpprest are too short to name the function reliably, so
// the library is named.
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() { return "leak:libcpprest.so\n"; }

namespace ubc {
namespace {

using namespace std::chrono_literals;

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port.
UniqueFd ListenOnLoopback(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 4) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return UniqueFd();
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The value of header `name` (any case, surrounding blanks trimmed) in a
// request's head; nullopt when it is absent.
std::optional<std::string> HeaderOf(const std::string& request, const std::string& name) {
  const size_t head_end = request.find("\r\n\r\n");
  size_t line = request.find("\r\n");
  while (line != std::string::npos && line < head_end) {
    const size_t next = request.find("\r\n", line + 2);
    const std::string field = request.substr(line + 2, next - line - 2);
    const size_t colon = field.find(':');
    if (colon != std::string::npos && Lower(field.substr(0, colon)) == Lower(name)) {
      const size_t begin = field.find_first_not_of(" \t", colon + 1);
      const size_t end = field.find_last_not_of(" \t");
      return begin == std::string::npos ? "" : field.substr(begin, end - begin + 1);
    }
    line = next;
  }
  return std::nullopt;
}

// One HTTP exchange with canned answers, on its own thread: accepts one
// connection, reads one request (headers and a Content-Length body), and
// writes `response` (nothing, when empty: the client then times out).
class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(std::string response) : response_(std::move(response)) {
    listener_ = ListenOnLoopback(&port_);
    if (!listener_) return;
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotHttpServer() {
    if (thread_.joinable()) thread_.join();
  }
  OneShotHttpServer(const OneShotHttpServer&) = delete;
  OneShotHttpServer& operator=(const OneShotHttpServer&) = delete;

  bool ok() const { return listener_.valid(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The request as received; read it after the call returned (joins first).
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void Serve() {
    // Never wait forever, whatever the client does.
    pollfd p = {listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    size_t wanted = std::string::npos;
    while (wanted == std::string::npos || request_.size() < wanted) {
      pollfd c = {conn.get(), POLLIN, 0};
      if (::poll(&c, 1, 10000) != 1) return;
      char buffer[4096];
      const ssize_t n = ::recv(conn.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      request_.append(buffer, static_cast<size_t>(n));
      const size_t end = request_.find("\r\n\r\n");
      if (wanted == std::string::npos && end != std::string::npos) {
        const std::optional<std::string> length = HeaderOf(request_, "Content-Length");
        wanted = end + 4 + (length ? std::stoul(*length) : 0);
      }
    }
    if (response_.empty()) {
      // Hold the connection until the client gives up and closes it.
      pollfd c = {conn.get(), POLLIN, 0};
      (void)::poll(&c, 1, 10000);
      return;
    }
    (void)::send(conn.get(), response_.data(), response_.size(), MSG_NOSIGNAL);
  }

  std::string response_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

std::string CannedResponse(const std::string& status_line, const std::string& body) {
  return "HTTP/1.1 " + status_line +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpCallTest, AnyHttpStatusIsAReply) {
  const std::string body = R"({"error": "no container \"c 1\""})";
  OneShotHttpServer server(CannedResponse("404 Not Found", body));
  ASSERT_TRUE(server.ok());
  Result<HttpReply> reply = HttpCall(server.url(), "GET", "/v1/containers/c%201", "", "", 10s);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->http_status, 404);
  EXPECT_EQ(reply->body, body);
  const std::string& request = server.request();
  EXPECT_EQ(request.rfind("GET /v1/containers/c%201 HTTP/1.1\r\n", 0), 0u) << request;
  // Nothing to authorize and no body: neither header is sent.
  EXPECT_EQ(HeaderOf(request, "Authorization"), std::nullopt) << request;
  EXPECT_EQ(HeaderOf(request, "Content-Type"), std::nullopt) << request;
}

TEST(HttpCallTest, SendsTheBearerTokenAndTheJsonBody) {
  OneShotHttpServer server(CannedResponse("200 OK", R"({"id": "c1"})"));
  ASSERT_TRUE(server.ok());
  const std::string json_body = R"({"privvmpages": "8192:8192"})";
  Result<HttpReply> reply =
      HttpCall(server.url(), "PATCH", "/v1/containers/c1?dry_run=1", json_body, "t0ken", 10s);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->http_status, 200);
  EXPECT_EQ(reply->body, R"({"id": "c1"})");
  const std::string& request = server.request();
  EXPECT_EQ(request.rfind("PATCH /v1/containers/c1?dry_run=1 HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_EQ(HeaderOf(request, "Authorization"), "Bearer t0ken") << request;
  EXPECT_EQ(HeaderOf(request, "Content-Type").value_or("").rfind("application/json", 0), 0u)
      << request;
  const size_t end = request.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(request.substr(end + 4), json_body);
}

TEST(HttpCallTest, ARefusedConnectionSaysWhatToCheck) {
  // A port that was free a moment ago: listened on, then closed.
  uint16_t port = 0;
  {
    UniqueFd probe = ListenOnLoopback(&port);
    ASSERT_TRUE(probe.valid());
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  Result<HttpReply> reply = HttpCall(url, "GET", "/v1/containers", "", "", 10s);
  ASSERT_FALSE(reply.ok());
  const std::string& m = reply.status().message();
  EXPECT_EQ(m.rfind("cannot reach ubcd at " + url + ": ", 0), 0u) << m;
  EXPECT_NE(m.find("(is ubcd running with its REST API enabled? see --url)"), std::string::npos)
      << m;
}

TEST(HttpCallTest, ASilentServerTimesOut) {
  OneShotHttpServer server("");  // reads the request, never answers
  ASSERT_TRUE(server.ok());
  const auto start = std::chrono::steady_clock::now();
  Result<HttpReply> reply = HttpCall(server.url(), "GET", "/v1/containers", "", "", 1s);
  ASSERT_FALSE(reply.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_EQ(reply.status().message().rfind("cannot reach ubcd at " + server.url() + ": ", 0), 0u)
      << reply.status().message();
}

TEST(HttpCallTest, AMalformedUrlIsAnErrorNotAnException) {
  Result<HttpReply> reply = HttpCall("http://[not a host", "GET", "/v1/containers", "", "", 1s);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().message().rfind("cannot reach ubcd at http://[not a host: ", 0), 0u)
      << reply.status().message();

  Result<HttpReply> relative = HttpCall("127.0.0.1:8765", "GET", "/v1/containers", "", "", 1s);
  ASSERT_FALSE(relative.ok());
  EXPECT_EQ(relative.status().message().rfind("cannot reach ubcd at 127.0.0.1:8765: ", 0), 0u)
      << relative.status().message();
}

}  // namespace
}  // namespace ubc
