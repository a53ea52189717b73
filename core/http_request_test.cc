#include "core/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

using Kind = HttpParse::Kind;

HttpParse Parse(std::string_view text, HttpLimits limits = HttpLimits{}) {
  return ParseHttpRequest(text, limits);
}

TEST(HttpRequest, AGetWithItsHeaders) {
  const std::string text =
      "GET /v1/containers?x=1 HTTP/1.1\r\nHost: a\r\nauthorization:  Bearer t \r\n\r\n";
  HttpParse p = Parse(text + "GET /next");
  ASSERT_EQ(p.kind, Kind::kRequest) << p.error_message;
  EXPECT_EQ(p.consumed, text.size());
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/v1/containers?x=1");
  EXPECT_EQ(p.request.authorization, "Bearer t");
  EXPECT_TRUE(p.request.body.empty());
  EXPECT_TRUE(p.request.keep_alive);
}

TEST(HttpRequest, EveryPrefixOfARequestNeedsMore) {
  const std::string text =
      "PATCH /v1/containers/c HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\n\r\nhello";
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(Parse(text.substr(0, n)).kind, Kind::kNeedMore) << n;
  }
  HttpParse p = Parse(text);
  ASSERT_EQ(p.kind, Kind::kRequest);
  EXPECT_EQ(p.request.body, "hello");
  EXPECT_EQ(p.consumed, text.size());
}

TEST(HttpRequest, BareLineFeedsAndLeadingEmptyLinesAreAccepted) {
  HttpParse p = Parse("\r\n\nGET /healthz HTTP/1.1\nHost: a\n\n");
  ASSERT_EQ(p.kind, Kind::kRequest) << p.error_message;
  EXPECT_EQ(p.request.target, "/healthz");
}

TEST(HttpRequest, KeepAliveFollowsTheVersionAndConnection) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n").request.keep_alive);
}

TEST(HttpRequest, AnAbsoluteFormTargetIsItsPath) {
  EXPECT_EQ(Parse("GET http://h:1/v1/containers HTTP/1.1\r\n\r\n").request.target,
            "/v1/containers");
  EXPECT_EQ(Parse("GET http://h:1 HTTP/1.1\r\n\r\n").request.target, "/");
  EXPECT_EQ(Parse("OPTIONS * HTTP/1.1\r\n\r\n").request.target, "*");
}

TEST(HttpRequest, OddTargetsAreLeftToTheRouter) {
  // Percent-encoding is the API's to judge (a JSON 400 from core/rest_api).
  EXPECT_EQ(Parse("GET /%%%%% HTTP/1.1\r\n\r\n").request.target, "/%%%%%");
  EXPECT_EQ(Parse("GET /a%2 HTTP/1.1\r\n\r\n").request.target, "/a%2");
}

TEST(HttpRequest, MalformedHeadsAreErrorsWithTheirStatus) {
  struct Case {
    const char* text;
    int status;
  } cases[] = {
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1 x\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.1\r\n\r\n", 400},
      {"GET nopath HTTP/1.1\r\n\r\n", 400},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
  };
  for (const Case& c : cases) {
    HttpParse p = Parse(c.text);
    EXPECT_EQ(p.kind, Kind::kError) << c.text;
    EXPECT_EQ(p.error_status, c.status) << c.text;
    EXPECT_FALSE(p.error_message.empty()) << c.text;
  }
}

TEST(HttpRequest, AHeadOverItsBoundIsA431EvenBeforeItEnds) {
  HttpLimits limits;
  limits.max_head_bytes = 100;
  EXPECT_EQ(Parse("GET /" + std::string(200, 'a'), limits).error_status, 431);
  EXPECT_EQ(
      Parse("GET / HTTP/1.1\r\nA: " + std::string(200, 'a') + "\r\n\r\n", limits).error_status,
      431);
  limits.max_headers = 2;
  limits.max_head_bytes = 8192;
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).error_status, 431);
}

TEST(HttpRequest, ABodyOverItsBoundIsNotKeptAndEndsTheConnection) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  HttpParse p = Parse("PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits);
  ASSERT_EQ(p.kind, Kind::kRequest);
  EXPECT_TRUE(p.request.body_too_large);
  EXPECT_TRUE(p.request.body.empty());
  EXPECT_FALSE(p.request.keep_alive);
  p = Parse("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n", limits);
  ASSERT_EQ(p.kind, Kind::kRequest);
  EXPECT_TRUE(p.request.body_too_large);
  EXPECT_FALSE(p.request.keep_alive);
}

TEST(HttpRequest, AChunkedBodyIsDecoded) {
  const std::string text =
      "PATCH /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n";
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(Parse(text.substr(0, n)).kind, Kind::kNeedMore) << n;
  }
  HttpParse p = Parse(text + "GET");
  ASSERT_EQ(p.kind, Kind::kRequest) << p.error_message;
  EXPECT_EQ(p.request.body, "{\"a\":1}");
  EXPECT_EQ(p.consumed, text.size());
  EXPECT_EQ(Parse("PATCH /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error_status,
            400);
  EXPECT_EQ(Parse("PATCH /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n")
                .error_status,
            400);
}

TEST(HttpRequest, ExpectContinueIsAskedOnlyWhileTheBodyIsMissing) {
  const std::string head = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  HttpParse p = Parse(head);
  EXPECT_EQ(p.kind, Kind::kNeedMore);
  EXPECT_TRUE(p.expects_continue);
  EXPECT_FALSE(Parse(head.substr(0, head.size() - 2)).expects_continue);
  p = Parse(head + "{}");
  ASSERT_EQ(p.kind, Kind::kRequest);
  EXPECT_FALSE(p.expects_continue);
}

TEST(HttpReason, NamesTheStatusesTheServerSends) {
  EXPECT_EQ(HttpReason(404), "Not Found");
  EXPECT_EQ(HttpReason(431), "Request Header Fields Too Large");
  EXPECT_EQ(HttpReason(299), "Unknown");
}

}  // namespace
}  // namespace ubc
