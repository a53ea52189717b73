#include "supervisor/rest_bridge.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "core/rest_frame.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

// One container "c1" with default reports; records limit changes.
class FakeBackend : public RestBackend {
 public:
  std::vector<ContainerReport> ListContainers() override { return {Report()}; }
  std::optional<ContainerReport> GetContainer(const std::string& id) override {
    if (id != "c1") return std::nullopt;
    return Report();
  }
  bool SetLimits(const std::string& id, const LimitsChange&) override {
    ++changes;
    return id == "c1";
  }
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id) override {
    if (id != "c1") return std::nullopt;
    return std::vector<RefusalEvent>{};
  }
  DecisionMetricsSnapshot Metrics() override { return {}; }
  int changes = 0;

 private:
  static ContainerReport Report() {
    ContainerReport r;
    r.id = "c1";
    return r;
  }
};

// A bridge serving one end of a socketpair in its own thread; the test is
// the HTTP process on the other end.
class RestBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    worker_ = UniqueFd(pair[0]);
    bridge_.Adopt(UniqueFd(pair[1]));
    thread_ = std::thread([this] { bridge_.Run(); });
  }
  void TearDown() override {
    bridge_.Stop();
    thread_.join();
  }
  // Sends a request frame and reads the answer; nullopt when the bridge
  // closed the socket instead.
  std::optional<RestResponseFrame> RoundTrip(uint64_t id, const std::string& method,
                                             const std::string& path, const std::string& auth = "",
                                             const std::string& body = "") {
    RestRequestFrame f;
    f.id = id;
    f.request.method = method;
    f.request.path = path;
    f.request.authorization = auth;
    f.request.body = body;
    if (!SendAll(worker_.get(), EncodeRestRequestFrame(f), 2000)) return std::nullopt;
    return ReadAnswer();
  }
  std::optional<RestResponseFrame> ReadAnswer() {
    Result<std::string> payload = ReceiveRestFrame(worker_.get(), 1 << 20, 5000);
    if (!payload.ok()) return std::nullopt;
    Result<RestResponseFrame> r = DecodeRestResponseFrame(*payload);
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  // True when the bridge closed its end (EOF within 5 s).
  bool ClosedByBridge() {
    char c;
    return !ReceiveAll(worker_.get(), &c, 1, 5000);
  }

  FakeBackend backend_;
  RestBridge bridge_{backend_, "sekrit", -1};
  UniqueFd worker_;
  std::thread thread_;
};

TEST_F(RestBridgeTest, AnswersEachRequestWithItsIdFromTheApi) {
  std::optional<RestResponseFrame> r = RoundTrip(41, "GET", "/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 41u);
  EXPECT_EQ(r->response.http_status, 200);
  r = RoundTrip(42, "GET", "/v1/containers/c1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 42u);
  EXPECT_EQ(r->response.http_status, 200);
  EXPECT_NE(r->response.body.find("\"c1\""), std::string::npos) << r->response.body;
  r = RoundTrip(43, "GET", "/v1/containers/nope");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->response.http_status, 404);
}

TEST_F(RestBridgeTest, TheTokenIsCheckedHereAndSetTokenRetiresTheOldOne) {
  const std::string body = R"({"privvmpages": "1000:2000"})";
  std::optional<RestResponseFrame> r =
      RoundTrip(1, "PATCH", "/v1/containers/c1", "Bearer wrong", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->response.http_status, 401);
  EXPECT_TRUE(r->response.www_authenticate);
  EXPECT_EQ(backend_.changes, 0);
  r = RoundTrip(2, "PATCH", "/v1/containers/c1", "Bearer sekrit", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->response.http_status, 200) << r->response.body;
  EXPECT_EQ(backend_.changes, 1);
  bridge_.SetToken("fresh");
  r = RoundTrip(3, "PATCH", "/v1/containers/c1", "Bearer sekrit", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->response.http_status, 401);
  r = RoundTrip(4, "PATCH", "/v1/containers/c1", "Bearer fresh", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->response.http_status, 200);
  EXPECT_EQ(backend_.changes, 2);
}

TEST_F(RestBridgeTest, AFrameOverTheBoundClosesTheWorkersSocket) {
  std::string header("\xff\xff\xff\x7f", 4);
  ASSERT_TRUE(SendAll(worker_.get(), header, 1000));
  EXPECT_TRUE(ClosedByBridge());
}

TEST_F(RestBridgeTest, AMalformedFrameClosesTheWorkersSocket) {
  std::string frame("\x05\x00\x00\x00garbg", 9);
  ASSERT_TRUE(SendAll(worker_.get(), frame, 1000));
  EXPECT_TRUE(ClosedByBridge());
}

TEST_F(RestBridgeTest, HalfAFrameIsDroppedAfterTheDeadline) {
  RestRequestFrame f;
  f.request.method = "GET";
  f.request.path = "/healthz";
  const std::string frame = EncodeRestRequestFrame(f);
  ASSERT_TRUE(SendAll(worker_.get(), frame.substr(0, frame.size() - 3), 1000));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ClosedByBridge());
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(kFrameDeadlineMs - 500));
}

TEST_F(RestBridgeTest, StopReturnsWhileAWorkerIsConnected) {
  bridge_.Stop();
  thread_.join();
  thread_ = std::thread([] {});  // TearDown joins it
}

}  // namespace
}  // namespace ubc
