#include "core/rest_frame.h"

#include <algorithm>

namespace ubc {
namespace {

constexpr uint8_t kBodyTooLarge = 1;
constexpr uint8_t kWwwAuthenticate = 1;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Replaces the first four bytes (reserved by the caller) with the payload's length.
std::string Sealed(std::string frame) {
  const uint32_t payload = static_cast<uint32_t>(frame.size() - kRestFrameHeaderBytes);
  for (size_t i = 0; i < 4; ++i) frame[i] = static_cast<char>((payload >> (8 * i)) & 0xff);
  return frame;
}

// Reads fields front to back; any read past the end fails the whole decode.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U8(uint8_t* v) {
    if (data_.size() < 1) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= uint32_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    data_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    data_.remove_prefix(8);
    return true;
  }
  bool String(std::string* s, size_t max_bytes) {
    uint32_t n = 0;
    if (!U32(&n) || n > data_.size() || n > max_bytes) return false;
    s->assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }
  bool AtEnd() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace

std::string EncodeRestRequestFrame(const RestRequestFrame& frame) {
  const RestRequest& r = frame.request;
  std::string out(kRestFrameHeaderBytes, '\0');
  PutU64(out, frame.id);
  out.push_back(static_cast<char>(r.body_too_large ? kBodyTooLarge : 0));
  PutString(out, r.method.substr(0, 64));
  PutString(out, std::string_view(r.path).substr(0, kMaxRestPathBytes));
  PutString(out, std::string_view(r.authorization).substr(0, kMaxRestAuthorizationBytes));
  PutString(out, std::string_view(r.body).substr(0, kMaxRestBodyBytes));
  return Sealed(std::move(out));
}

std::string EncodeRestResponseFrame(const RestResponseFrame& frame) {
  const RestResponse& r = frame.response;
  std::string out(kRestFrameHeaderBytes, '\0');
  PutU64(out, frame.id);
  PutU32(out, static_cast<uint32_t>(r.http_status));
  out.push_back(static_cast<char>(r.www_authenticate ? kWwwAuthenticate : 0));
  PutString(out, r.content_type);
  PutString(out, r.allow);
  PutString(out, r.body);
  return Sealed(std::move(out));
}

Result<size_t> RestFramePayloadBytes(std::string_view header, size_t max_bytes) {
  if (header.size() != kRestFrameHeaderBytes) return Status::Error("rest frame: short header");
  uint32_t n = 0;
  Reader(header).U32(&n);
  if (n > max_bytes) {
    return Status::Error("rest frame: " + std::to_string(n) + " bytes, over the bound of " +
                         std::to_string(max_bytes));
  }
  return size_t{n};
}

Result<RestRequestFrame> DecodeRestRequestFrame(std::string_view payload) {
  RestRequestFrame f;
  Reader in(payload);
  uint8_t flags = 0;
  if (!in.U64(&f.id) || !in.U8(&flags) || (flags & ~kBodyTooLarge) != 0 ||
      !in.String(&f.request.method, 64) || !in.String(&f.request.path, kMaxRestPathBytes) ||
      !in.String(&f.request.authorization, kMaxRestAuthorizationBytes) ||
      !in.String(&f.request.body, kMaxRestBodyBytes) || !in.AtEnd()) {
    return Status::Error("rest frame: malformed request");
  }
  f.request.body_too_large = (flags & kBodyTooLarge) != 0;
  return f;
}

Result<RestResponseFrame> DecodeRestResponseFrame(std::string_view payload) {
  RestResponseFrame f;
  Reader in(payload);
  uint32_t status = 0;
  uint8_t flags = 0;
  if (!in.U64(&f.id) || !in.U32(&status) || status < 100 || status > 599 || !in.U8(&flags) ||
      (flags & ~kWwwAuthenticate) != 0 || !in.String(&f.response.content_type, 256) ||
      !in.String(&f.response.allow, 256) ||
      !in.String(&f.response.body, kMaxRestResponseFrameBytes) || !in.AtEnd()) {
    return Status::Error("rest frame: malformed response");
  }
  f.response.http_status = static_cast<int>(status);
  f.response.www_authenticate = (flags & kWwwAuthenticate) != 0;
  return f;
}

}  // namespace ubc
