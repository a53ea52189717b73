#include "supervisor/rest_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/api_token.h"
#include "supervisor/rest_bridge.h"
#include "supervisor/rest_worker.h"
#include "supervisor/supervisor.h"
#include "tests/unit/fake_notifier.h"
#include "tests/unit/fake_process_view.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using std::chrono::milliseconds;

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A TCP connection to 127.0.0.1 or ::1 (blocking, 10 s timeouts).
UniqueFd ConnectTcp(uint16_t port, bool ipv6 = false) {
  UniqueFd fd(::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  timeval timeout{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  int rc;
  if (ipv6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0) return UniqueFd();
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response: the status line, the headers and Content-Length bytes
// of body (or everything up to EOF without one).
std::optional<HttpResponse> ReadResponse(int fd) {
  std::string data;
  char buf[16384];
  size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    data.append(buf, static_cast<size_t>(n));
  }
  HttpResponse r;
  const std::string head = data.substr(0, header_end);
  if (std::sscanf(head.c_str(), "HTTP/1.%*d %d", &r.status) != 1) return std::nullopt;
  size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const size_t start = line + 2;
    line = head.find("\r\n", start);
    const std::string h = head.substr(start, line == std::string::npos ? line : line - start);
    const size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[Lower(h.substr(0, colon))] = value;
  }
  r.body = data.substr(header_end + 4);
  const std::string length = r.Header("content-length");
  const size_t want = length.empty() ? std::string::npos : std::stoul(length);
  while (r.body.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.body.append(buf, static_cast<size_t>(n));
  }
  if (want != std::string::npos && r.body.size() != want) return std::nullopt;
  return r;
}

std::string Request(const std::string& method, const std::string& target,
                    const std::vector<std::string>& headers = {}, const std::string& body = "") {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : headers) text += h + "\r\n";
  if (!body.empty() || method == "PATCH" || method == "PUT") {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return text + "\r\n" + body;
}

// One request on a connection of its own.
std::optional<HttpResponse> Http(uint16_t port, const std::string& request) {
  UniqueFd fd = ConnectTcp(port);
  if (!fd || !SendAll(fd.get(), request)) return std::nullopt;
  return ReadResponse(fd.get());
}

// A port nobody listens on right now, chosen by the kernel.
uint16_t FreePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "no free port: " << std::strerror(errno);
    return 0;
  }
  return ntohs(addr.sin_port);
}

// RestServer needs a port number up front (its url() names it): take a free
// one, and another if someone else took it in between.
Result<std::unique_ptr<RestServer>> StartOnFreePort(const std::string& address,
                                                    const RestServer::Handler& handler,
                                                    uint16_t* port, RestServerLimits limits = {}) {
  Result<std::unique_ptr<RestServer>> server = Status::Error("not started");
  for (int attempt = 0; attempt < 5 && !server.ok(); ++attempt) {
    RestConfig config;
    config.enabled = true;
    config.address = address;
    config.port = FreePort();
    *port = config.port;
    server = RestServer::Start(config, handler, limits);
  }
  return server;
}

seccomp_notif Mmap(uint64_t id, uint64_t pages) {
  seccomp_notif n{};
  n.id = id;
  n.pid = FakeProcesses::kTgid;
  n.data.arch = 0xC000003E;  // AUDIT_ARCH_X86_64
  n.data.nr = 9;             // mmap
  n.data.args[1] = pages * 4096;
  n.data.args[2] = 3;     // PROT_READ | PROT_WRITE
  n.data.args[3] = 0x22;  // MAP_PRIVATE | MAP_ANONYMOUS
  n.data.args[4] = ~0ULL;
  return n;
}

// A real Supervisor (fake processes, one container "web-1" on a scripted
// notifier) behind a real RestServer on a free loopback port, wired as in
// ubcd but in one process: the server's handler is the HTTP process's
// RestForwarder, whose socket's other end a RestBridge serves with the
// token from a token file of its own. Torn down in order (server, bridge,
// then supervisor) whatever the test did.
class RestServerTest : public ::testing::Test {
 protected:
  RestServerTest() : view_(processes_) {}

  void SetUp() override {
    Result<std::string> token = LoadOrCreateApiToken(dir_.Path("etc/api-token").string());
    ASSERT_TRUE(token.ok()) << token.status().message();
    token_ = *token;
    ASSERT_EQ(token_.size(), 64u);
    Result<SupervisorConfig> c = DefaultSupervisorConfig();
    ASSERT_TRUE(c.ok()) << c.status().message();
    SupervisorConfig config = *c;
    config.state_dir = dir_.path().string();
    config.containers_dir = dir_.Path("containers.d").string();
    Supervisor::Parts parts;
    parts.view = &view_;
    supervisor_ = std::make_unique<Supervisor>(config, std::move(parts));
    supervisor_->Start();
    auto notifier = std::make_unique<FakeNotifier>();
    notifier_ = notifier.get();
    ContainerProcessState state;
    state.id = "web-1";
    state.status = "creating";
    state.pid = 4242;
    state.annotations["ubc.privvmpages"] = "1000:1100";
    supervisor_->Attach(state, std::move(notifier), -1, 0);
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    worker_end_ = UniqueFd(pair[0]);
    backend_ = std::make_unique<SupervisorRestBackend>(*supervisor_);
    bridge_ = std::make_unique<RestBridge>(*backend_, token_, -1);
    bridge_->Adopt(UniqueFd(pair[1]));
    bridge_thread_ = std::thread([this] { bridge_->Run(); });
    forwarder_ = std::make_unique<RestForwarder>(worker_end_.get());
    Result<std::unique_ptr<RestServer>> server = StartOnFreePort("127.0.0.1", Handler(), &port_);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    server_.reset();
    if (bridge_) {
      bridge_->Stop();
      bridge_thread_.join();
    }
    if (supervisor_) supervisor_->Stop();
  }
  RestServer::Handler Handler() {
    return [this](const RestRequest& r) { return forwarder_->Forward(r); };
  }

  HttpResponse Get(const std::string& target) {
    std::optional<HttpResponse> r = Http(port_, Request("GET", target));
    EXPECT_TRUE(r.has_value()) << "no response to GET " << target;
    return r.value_or(HttpResponse{});
  }
  HttpResponse Patch(const std::string& target, const std::string& body,
                     const std::string& authorization) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!authorization.empty()) headers.push_back("Authorization: " + authorization);
    std::optional<HttpResponse> r = Http(port_, Request("PATCH", target, headers, body));
    EXPECT_TRUE(r.has_value()) << "no response to PATCH " << target;
    return r.value_or(HttpResponse{});
  }
  uint64_t Barrier() {
    std::optional<ContainerReport> report = supervisor_->GetContainer("web-1");
    EXPECT_TRUE(report.has_value());
    return report ? report->privvmpages.barrier_pages : 0;
  }

  TempDir dir_{"ubc-rest-server-test"};
  FakeProcesses processes_;
  FakeProcessView view_;
  std::string token_;
  std::unique_ptr<Supervisor> supervisor_;
  FakeNotifier* notifier_ = nullptr;  // owned by the supervisor
  UniqueFd worker_end_;
  std::unique_ptr<SupervisorRestBackend> backend_;
  std::unique_ptr<RestBridge> bridge_;
  std::thread bridge_thread_;
  std::unique_ptr<RestForwarder> forwarder_;
  uint16_t port_ = 0;
  std::unique_ptr<RestServer> server_;
};

TEST_F(RestServerTest, TheUrlNamesTheAddressAndThePort) {
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(port_));
}

TEST_F(RestServerTest, HealthzAnswersOkAndNothingIsCached) {
  HttpResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.Header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.Header("cache-control"), "no-store");
}

TEST_F(RestServerTest, ContainersAreTheSupervisorsReports) {
  HttpResponse list = Get("/v1/containers");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Header("content-type"), "application/json");
  nlohmann::json doc = nlohmann::json::parse(list.body, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << list.body;
  ASSERT_EQ(doc["containers"].size(), 1u);
  EXPECT_EQ(doc["containers"][0]["id"], "web-1");
  HttpResponse one = Get("/v1/containers/web-1");
  ASSERT_EQ(one.status, 200) << one.body;
  nlohmann::json c = nlohmann::json::parse(one.body, nullptr, false);
  ASSERT_TRUE(c.is_object()) << one.body;
  EXPECT_EQ(c["id"], "web-1");
  EXPECT_EQ(c["notify_fds"], 1);
  EXPECT_EQ(c["beancounters"]["privvmpages"]["barrier"]["pages"], 1000);
  EXPECT_EQ(c["beancounters"]["privvmpages"]["limit"]["pages"], 1100);
  EXPECT_EQ(c["beancounters"]["privvmpages"]["source"], "annotation");
  // Percent-encoded ids are decoded ("web%2D1" is "web-1").
  EXPECT_EQ(Get("/v1/containers/web%2D1").status, 200);
}

TEST_F(RestServerTest, UnknownContainersAndPathsAre404JsonErrors) {
  HttpResponse unknown = Get("/v1/containers/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(nlohmann::json::parse(unknown.body, nullptr, false)["error"], "no container \"nope\"");
  HttpResponse path = Get("/v2/whatever");
  EXPECT_EQ(path.status, 404);
  EXPECT_TRUE(nlohmann::json::parse(path.body, nullptr, false).contains("error")) << path.body;
  // An id that decodes to something with '/' is refused, not routed.
  EXPECT_EQ(Get("/v1/containers/a%2Fb").status, 400);
}

TEST_F(RestServerTest, EventsListTheContainersRefusals) {
  HttpResponse none = Get("/v1/containers/web-1/events");
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(nlohmann::json::parse(none.body, nullptr, false)["events"].empty());
  {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.data_pages = 900;
  }
  notifier_->Push(Mmap(1, 650));  // 900 + 650 > 1000: refused
  ASSERT_TRUE(notifier_->WaitForResponses(1));
  ASSERT_EQ(notifier_->responses()[0].error, -ENOMEM);
  HttpResponse one = Get("/v1/containers/web-1/events");
  ASSERT_EQ(one.status, 200) << one.body;
  nlohmann::json doc = nlohmann::json::parse(one.body, nullptr, false);
  ASSERT_EQ(doc["events"].size(), 1u) << one.body;
  EXPECT_EQ(doc["events"][0]["requested_pages"], 650);
  EXPECT_EQ(Get("/v1/containers/nope/events").status, 404);
}

TEST_F(RestServerTest, MetricsAndUserBeancountersAreText) {
  HttpResponse metrics = Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("web-1"), std::string::npos) << metrics.body;
  HttpResponse table = Get("/v1/user_beancounters");
  ASSERT_EQ(table.status, 200);
  EXPECT_NE(table.body.find("privvmpages"), std::string::npos) << table.body;
  EXPECT_NE(table.body.find("web-1"), std::string::npos) << table.body;
}

TEST_F(RestServerTest, AChangeOfLimitsNeedsTheTokenFromTheTokenFile) {
  const std::string body = R"({"privvmpages": "2000:2200"})";
  HttpResponse anonymous = Patch("/v1/containers/web-1", body, "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("www-authenticate"), "Bearer realm=\"ubcd\"");
  HttpResponse wrong = Patch("/v1/containers/web-1", body, "Bearer " + std::string(64, '0'));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Barrier(), 1000u);
  HttpResponse ok = Patch("/v1/containers/web-1", body, "Bearer " + token_);
  ASSERT_EQ(ok.status, 200) << ok.body;
  nlohmann::json c = nlohmann::json::parse(ok.body, nullptr, false);
  EXPECT_EQ(c["beancounters"]["privvmpages"]["barrier"]["pages"], 2000);
  EXPECT_EQ(c["beancounters"]["privvmpages"]["source"], "api");
  EXPECT_EQ(Barrier(), 2000u);
  // A bad body is a 400 naming the field, and changes nothing.
  HttpResponse bad = Patch("/v1/containers/web-1", R"({"privvmpages": "12Q"})", "Bearer " + token_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("privvmpages"), std::string::npos) << bad.body;
  EXPECT_EQ(Barrier(), 2000u);
  EXPECT_EQ(Patch("/v1/containers/nope", body, "Bearer " + token_).status, 404);
}

TEST_F(RestServerTest, SetTokenRetiresTheOldTokenAtOnce) {
  const std::string body = R"({"privvmpages": "3000"})";
  bridge_->SetToken("rotated-token");
  EXPECT_EQ(Patch("/v1/containers/web-1", body, "Bearer " + token_).status, 401);
  EXPECT_EQ(Barrier(), 1000u);
  EXPECT_EQ(Patch("/v1/containers/web-1", body, "Bearer rotated-token").status, 200);
  EXPECT_EQ(Barrier(), 3000u);
}

TEST_F(RestServerTest, ABodyOverSixtyFourKibibytesIs413AndChangesNothing) {
  const std::string padding(100 * 1024, ' ');
  HttpResponse big = Patch("/v1/containers/web-1", R"({"privvmpages": "4000")" + padding + "}",
                           "Bearer " + token_);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Barrier(), 1000u);
  // Also on a GET, and without a Content-Length to go by (chunked).
  std::string chunked =
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "2800\r\n" + std::string(0x2800, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  std::optional<HttpResponse> r = Http(port_, chunked);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
}

TEST_F(RestServerTest, OtherMethodsAre405WithTheAllowedOnes) {
  std::optional<HttpResponse> del = Http(port_, Request("DELETE", "/v1/containers/web-1"));
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->Header("allow"), "GET, PATCH, PUT");
  std::optional<HttpResponse> post = Http(port_, Request("POST", "/healthz", {}, "x"));
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->Header("allow"), "GET");
}

TEST_F(RestServerTest, TraceAndOptionsAreOursAndNeverEchoTheToken) {
  for (const char* method : {"TRACE", "OPTIONS"}) {
    std::optional<HttpResponse> r =
        Http(port_, Request(method, "/v1/containers/web-1", {"Authorization: Bearer " + token_}));
    ASSERT_TRUE(r.has_value()) << method;
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(r->body.find(token_), std::string::npos) << method << ": " << r->body;
    for (const auto& [name, value] : r->headers) {
      EXPECT_EQ(value.find(token_), std::string::npos) << method << " header " << name;
    }
  }
}

TEST_F(RestServerTest, StalledClientsDoNotHoldUpOtherRequests) {
  std::vector<UniqueFd> stalled;
  for (int i = 0; i < 32; ++i) {
    UniqueFd fd = ConnectTcp(port_);
    ASSERT_TRUE(fd);
    // Half a request line, a request without its end, or a body that never comes.
    const std::string part =
        i % 3 == 0 ? "GET /heal"
        : i % 3 == 1
            ? "GET /healthz HTTP/1.1\r\nHost: x\r\n"
            : "PATCH /v1/containers/web-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    ASSERT_TRUE(SendAll(fd.get(), part));
    stalled.push_back(std::move(fd));
  }
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    HttpResponse r = Get("/v1/containers/web-1");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  }
}

TEST_F(RestServerTest, SeveralRequestsOnOneKeptAliveConnectionAreEachAnswered) {
  UniqueFd fd = ConnectTcp(port_);
  ASSERT_TRUE(fd);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SendAll(fd.get(), Request("GET", "/healthz")));
    std::optional<HttpResponse> r = ReadResponse(fd.get());
    ASSERT_TRUE(r.has_value()) << "request " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
  }
}

TEST_F(RestServerTest, DestroyingTheServerClosesThePort) {
  ASSERT_EQ(Get("/healthz").status, 200);
  server_.reset();
  EXPECT_FALSE(ConnectTcp(port_));
}

TEST_F(RestServerTest, StartingOnAPortAnotherSocketHoldsIsAnErrorNamingTheUrl) {
  // Another process's listener on the port (not a second RestServer in this
  // process: cpprestsdk keeps one registry per process).
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  ASSERT_EQ(::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  RestConfig config;
  config.enabled = true;
  config.address = "127.0.0.1";
  config.port = ntohs(addr.sin_port);
  Result<std::unique_ptr<RestServer>> second = RestServer::Start(config, Handler());
  ASSERT_FALSE(second.ok());
  const std::string prefix = "rest api on http://127.0.0.1:" + std::to_string(config.port) + ": ";
  EXPECT_EQ(second.status().message().rfind(prefix, 0), 0u) << second.status().message();
  EXPECT_EQ(Get("/healthz").status, 200);  // the fixture's server goes on
}

TEST_F(RestServerTest, AnIpv6AddressIsBracketedAndEitherServesOrFailsAsAnError) {
  RestConfig config;
  config.enabled = true;
  config.address = "::1";
  config.port = FreePort();
  const std::string url = "http://[::1]:" + std::to_string(config.port);
  Result<std::unique_ptr<RestServer>> v6 = RestServer::Start(config, Handler());
  if (!v6.ok()) {
    // A host without IPv6 on loopback: an error naming the URL.
    EXPECT_EQ(v6.status().message().rfind("rest api on " + url + ": ", 0), 0u)
        << v6.status().message();
    return;
  }
  EXPECT_EQ((*v6)->url(), url);
  UniqueFd fd = ConnectTcp(config.port, /*ipv6=*/true);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(SendAll(fd.get(), Request("GET", "/healthz")));
  std::optional<HttpResponse> r = ReadResponse(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

// ---------------------------------------------------------------- bounds

// A server with small bounds and a handler that answers every request with
// 200 and "METHOD PATH BODY".
struct BoundedServer {
  explicit BoundedServer(RestServerLimits limits) {
    Result<std::unique_ptr<RestServer>> s = StartOnFreePort(
        "127.0.0.1",
        [](const RestRequest& r) {
          RestResponse a;
          a.content_type = "text/plain";
          a.body = r.method + " " + r.path + " " + r.body;
          return a;
        },
        &port, limits);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (s.ok()) server = std::move(s).value();
  }
  uint16_t port = 0;
  std::unique_ptr<RestServer> server;
};

// True when the server closed `fd` (EOF or reset) within 5 s.
bool ClosedByServer(int fd) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

TEST(RestServerBoundsTest, AConnectionOverTheCapGetsA503AndTheOthersAreServed) {
  RestServerLimits limits;
  limits.max_connections = 4;
  limits.reserved_for_root = 0;
  BoundedServer b(limits);
  std::vector<UniqueFd> held;
  for (int i = 0; i < 4; ++i) held.push_back(ConnectTcp(b.port));
  ::usleep(100000);  // accepted before the next arrives
  UniqueFd extra = ConnectTcp(b.port);
  ASSERT_TRUE(extra);
  std::optional<HttpResponse> refused = ReadResponse(extra.get());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("too many connections"), std::string::npos) << refused->body;
  ASSERT_TRUE(SendAll(held[0].get(), Request("GET", "/a")));
  std::optional<HttpResponse> served = ReadResponse(held[0].get());
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->body, "GET /a ");
}

// A user other than root at its cap is refused, and root still gets in: the
// flood of one user never locks out another (here root, the test process).
TEST(RestServerBoundsTest, APeerAtItsCapIsRefusedWhileRootStillGetsIn) {
  UBC_REQUIRE(::geteuid() == 0, "connecting as another user needs root");
  RestServerLimits limits;
  limits.max_connections = 8;
  limits.reserved_for_root = 2;
  limits.max_connections_per_peer = 3;
  BoundedServer b(limits);
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(1);
    }
    std::vector<UniqueFd> mine;
    for (int i = 0; i < 3; ++i) mine.push_back(ConnectTcp(b.port));
    ::usleep(100000);
    UniqueFd fourth = ConnectTcp(b.port);
    std::optional<HttpResponse> r = fourth ? ReadResponse(fourth.get()) : std::nullopt;
    const char status = r ? static_cast<char>(r->status / 100) : 0;
    (void)!::write(report[1], &status, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(report[1]);
  char status = 0;
  const bool got = ::read(report[0], &status, 1) == 1;
  ::close(report[0]);
  std::optional<HttpResponse> root = Http(b.port, Request("GET", "/root"));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(status, 5) << "uid 65534's fourth connection got a 503";
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->status, 200);
}

TEST(RestServerBoundsTest, ARequestNotCompleteByItsDeadlineGets408AndIsClosed) {
  RestServerLimits limits;
  limits.request_deadline_ms = 300;
  BoundedServer b(limits);
  UniqueFd fd = ConnectTcp(b.port);
  ASSERT_TRUE(SendAll(fd.get(), "GET /slow HTTP/1.1\r\nHost: x\r\n"));
  std::optional<HttpResponse> r = ReadResponse(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(ClosedByServer(fd.get()));
}

TEST(RestServerBoundsTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  RestServerLimits limits;
  limits.idle_timeout_ms = 300;
  BoundedServer b(limits);
  UniqueFd fd = ConnectTcp(b.port);
  ASSERT_TRUE(SendAll(fd.get(), Request("GET", "/once")));
  ASSERT_TRUE(ReadResponse(fd.get()).has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ClosedByServer(fd.get()));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(250));
}

TEST(RestServerBoundsTest, AHalfClosedRequestIsStillAnswered) {
  BoundedServer b(RestServerLimits{});
  UniqueFd fd = ConnectTcp(b.port);
  ASSERT_TRUE(SendAll(fd.get(), Request("PUT", "/x", {}, "{}")));
  ::shutdown(fd.get(), SHUT_WR);
  std::optional<HttpResponse> r = ReadResponse(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "PUT /x {}");
  EXPECT_EQ(r->Header("connection"), "close");
}

TEST(RestServerBoundsTest, ExpectContinueGetsA100BeforeTheBody) {
  BoundedServer b(RestServerLimits{});
  UniqueFd fd = ConnectTcp(b.port);
  ASSERT_TRUE(
      SendAll(fd.get(), "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  // The interim answer has no body: read exactly its head.
  std::string interim;
  char c;
  while (interim.find("\r\n\r\n") == std::string::npos && ::recv(fd.get(), &c, 1, 0) == 1) {
    interim.push_back(c);
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(fd.get(), "{}"));
  std::optional<HttpResponse> r = ReadResponse(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /x {}");
}

TEST(RestServerBoundsTest, AnErrorAnswerIsTheApisJsonAndEndsTheConnection) {
  BoundedServer b(RestServerLimits{});
  UniqueFd fd = ConnectTcp(b.port);
  ASSERT_TRUE(SendAll(fd.get(), "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"));
  std::optional<HttpResponse> r = ReadResponse(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 501);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body).value("error", ""),
            "only the chunked transfer coding is supported");
  EXPECT_TRUE(ClosedByServer(fd.get()));
}

}  // namespace
}  // namespace ubc
