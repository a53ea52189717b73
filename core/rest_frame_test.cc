#include "core/rest_frame.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

std::string_view Payload(const std::string& frame) {
  return std::string_view(frame).substr(kRestFrameHeaderBytes);
}

TEST(RestFrame, ARequestRoundTripsWithAnyBytes) {
  RestRequestFrame f;
  f.id = 0x0102030405060708ULL;
  f.request.method = "PATCH";
  f.request.path = "/v1/containers/a%2Fb?x=1";
  f.request.authorization = "Bearer t0k";
  f.request.body = std::string("{\"privvmpages\":\"1G\"}\0\xff\xfe", 24);
  f.request.body_too_large = true;
  const std::string frame = EncodeRestRequestFrame(f);
  Result<size_t> n = RestFramePayloadBytes(std::string_view(frame).substr(0, 4), 1 << 20);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, frame.size() - kRestFrameHeaderBytes);
  Result<RestRequestFrame> back = DecodeRestRequestFrame(Payload(frame));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->id, f.id);
  EXPECT_EQ(back->request.method, "PATCH");
  EXPECT_EQ(back->request.path, f.request.path);
  EXPECT_EQ(back->request.authorization, f.request.authorization);
  EXPECT_EQ(back->request.body, f.request.body);
  EXPECT_TRUE(back->request.body_too_large);
}

TEST(RestFrame, AResponseRoundTrips) {
  RestResponseFrame f;
  f.id = 7;
  f.response = RestErrorResponse(405, "method not allowed");
  f.response.allow = "GET, PATCH, PUT";
  f.response.www_authenticate = true;
  const std::string frame = EncodeRestResponseFrame(f);
  Result<RestResponseFrame> back = DecodeRestResponseFrame(Payload(frame));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->id, 7u);
  EXPECT_EQ(back->response.http_status, 405);
  EXPECT_EQ(back->response.content_type, f.response.content_type);
  EXPECT_EQ(back->response.body, f.response.body);
  EXPECT_EQ(back->response.allow, "GET, PATCH, PUT");
  EXPECT_TRUE(back->response.www_authenticate);
}

TEST(RestFrame, LongPathsAndTokensAreCutToTheirBounds) {
  RestRequestFrame f;
  f.request.method = "GET";
  f.request.path = "/" + std::string(16 * 1024 * 1024, 'a');
  f.request.authorization = "Bearer " + std::string(100000, 'x');
  const std::string frame = EncodeRestRequestFrame(f);
  EXPECT_LT(frame.size(), kMaxRestRequestFrameBytes);
  Result<RestRequestFrame> back = DecodeRestRequestFrame(Payload(frame));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->request.path.size(), kMaxRestPathBytes);
  EXPECT_EQ(back->request.authorization.size(), kMaxRestAuthorizationBytes);
}

TEST(RestFrame, AHeaderOverTheBoundIsAnError) {
  const std::string header("\x01\x00\x01\x00", 4);  // 65537
  EXPECT_FALSE(RestFramePayloadBytes(header, 65536).ok());
  ASSERT_TRUE(RestFramePayloadBytes(header, 65537).ok());
  EXPECT_EQ(*RestFramePayloadBytes(header, 65537), 65537u);
  EXPECT_FALSE(RestFramePayloadBytes("abc", 10).ok());
}

TEST(RestFrame, EveryTruncationAndTrailingByteIsMalformed) {
  RestRequestFrame q;
  q.request.method = "GET";
  q.request.path = "/healthz";
  const std::string request = std::string(Payload(EncodeRestRequestFrame(q)));
  RestResponseFrame r;
  r.response.body = "{}";
  const std::string response = std::string(Payload(EncodeRestResponseFrame(r)));
  for (size_t n = 0; n < request.size(); ++n) {
    EXPECT_FALSE(DecodeRestRequestFrame(request.substr(0, n)).ok()) << n;
  }
  for (size_t n = 0; n < response.size(); ++n) {
    EXPECT_FALSE(DecodeRestResponseFrame(response.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeRestRequestFrame(request + "x").ok());
  EXPECT_FALSE(DecodeRestResponseFrame(response + "x").ok());
  EXPECT_TRUE(DecodeRestRequestFrame(request).ok());
  EXPECT_TRUE(DecodeRestResponseFrame(response).ok());
}

TEST(RestFrame, UnknownFlagsAndImpossibleStatusesAreMalformed) {
  RestRequestFrame q;
  std::string request = std::string(Payload(EncodeRestRequestFrame(q)));
  request[8] = 2;  // the flags byte after the id
  EXPECT_FALSE(DecodeRestRequestFrame(request).ok());
  RestResponseFrame r;
  r.response.http_status = 99;
  EXPECT_FALSE(DecodeRestResponseFrame(Payload(EncodeRestResponseFrame(r))).ok());
  r.response.http_status = 600;
  EXPECT_FALSE(DecodeRestResponseFrame(Payload(EncodeRestResponseFrame(r))).ok());
}

TEST(RestFrame, AStringLongerThanItsFieldAllowsIsMalformed) {
  RestRequestFrame q;
  q.request.method = "GET";
  std::string request = std::string(Payload(EncodeRestRequestFrame(q)));
  // The method's length field (after id and flags) claims 65 bytes.
  request[9] = 65;
  request.insert(13 + 3, std::string(62, 'G'));
  EXPECT_FALSE(DecodeRestRequestFrame(request).ok());
}

}  // namespace
}  // namespace ubc
