#include "supervisor/rest_worker.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "core/rest_frame.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    worker = UniqueFd(fds[0]);
    ubcd = UniqueFd(fds[1]);
  }
  UniqueFd worker, ubcd;
};

std::optional<RestRequestFrame> ReadRequest(int fd) {
  Result<std::string> payload = ReceiveRestFrame(fd, 1 << 20, 5000);
  if (!payload.ok()) return std::nullopt;
  Result<RestRequestFrame> r = DecodeRestRequestFrame(*payload);
  if (!r.ok()) return std::nullopt;
  return *r;
}

TEST(RestForwarderTest, ForwardsTheRequestAndReturnsUbcdsAnswer) {
  Pair p;
  RestForwarder forwarder(p.worker.get());
  std::thread ubcd([&] {
    for (int i = 0; i < 2; ++i) {
      std::optional<RestRequestFrame> q = ReadRequest(p.ubcd.get());
      ASSERT_TRUE(q.has_value());
      RestResponseFrame a;
      a.id = q->id;
      a.response.http_status = 200;
      a.response.body = q->request.method + " " + q->request.path + " " + q->request.authorization +
                        " " + q->request.body;
      ASSERT_TRUE(SendAll(p.ubcd.get(), EncodeRestResponseFrame(a), 2000));
    }
  });
  RestRequest r;
  r.method = "PATCH";
  r.path = "/v1/containers/x";
  r.authorization = "Bearer t";
  r.body = "{}";
  RestResponse got = forwarder.Forward(r);
  EXPECT_EQ(got.http_status, 200);
  EXPECT_EQ(got.body, "PATCH /v1/containers/x Bearer t {}");
  r.method = "GET";
  EXPECT_EQ(forwarder.Forward(r).body, "GET /v1/containers/x Bearer t {}");
  ubcd.join();
  EXPECT_FALSE(forwarder.broken());
}

TEST(RestForwarderTest, NoAnswerIsA503AndBreaksTheForwarder) {
  Pair p;
  RestForwarder forwarder(p.worker.get());
  RestRequest r;
  r.method = "GET";
  r.path = "/healthz";
  const auto start = std::chrono::steady_clock::now();
  RestResponse got = forwarder.Forward(r);  // nobody answers
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(kForwardDeadlineMs - 500));
  EXPECT_EQ(got.http_status, 503);
  EXPECT_NE(got.body.find("ubcd is not answering"), std::string::npos);
  EXPECT_TRUE(forwarder.broken());
  EXPECT_EQ(forwarder.Forward(r).http_status, 503);
  // Its own end is shut down: the process's main loop sees the hang-up.
  char c;
  EXPECT_EQ(::recv(p.worker.get(), &c, 1, MSG_DONTWAIT), 0);
}

TEST(RestForwarderTest, AnAnswerWithAnotherIdOrMalformedBreaksIt) {
  for (const bool malformed : {false, true}) {
    Pair p;
    RestForwarder forwarder(p.worker.get());
    std::thread ubcd([&] {
      std::optional<RestRequestFrame> q = ReadRequest(p.ubcd.get());
      ASSERT_TRUE(q.has_value());
      RestResponseFrame a;
      a.id = q->id + 1;
      std::string frame = EncodeRestResponseFrame(a);
      if (malformed) frame = std::string("\x03\x00\x00\x00xyz", 7);
      ASSERT_TRUE(SendAll(p.ubcd.get(), frame, 2000));
    });
    RestRequest r;
    r.method = "GET";
    r.path = "/healthz";
    EXPECT_EQ(forwarder.Forward(r).http_status, 503) << malformed;
    EXPECT_TRUE(forwarder.broken());
    ubcd.join();
  }
}

TEST(RestForwarderTest, UbcdGoneIsA503) {
  Pair p;
  RestForwarder forwarder(p.worker.get());
  p.ubcd.reset();
  RestRequest r;
  r.method = "GET";
  r.path = "/healthz";
  EXPECT_EQ(forwarder.Forward(r).http_status, 503);
  EXPECT_TRUE(forwarder.broken());
}

}  // namespace
}  // namespace ubc
