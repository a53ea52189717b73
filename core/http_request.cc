#include "core/http_request.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace ubc {
namespace {

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A comma-separated header value lists `token` (Connection: keep-alive, Upgrade).
bool ListsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (IEquals(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

HttpParse Error(int status, std::string message) {
  HttpParse p;
  p.kind = HttpParse::Kind::kError;
  p.error_status = status;
  p.error_message = std::move(message);
  return p;
}

std::optional<size_t> ParseDecimal(std::string_view s) {
  size_t v = 0;
  if (s.empty() || s.size() > 18) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The next line of `text` from `*pos` without its CRLF (or bare LF); nullopt
// when no line end has arrived yet.
std::optional<std::string_view> NextLine(std::string_view text, size_t* pos) {
  const size_t lf = text.find('\n', *pos);
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(*pos, lf - *pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  *pos = lf + 1;
  return line;
}

// A chunked body from `text` at `*pos`: kRequest with the decoded body (or
// body_too_large once over the bound), kNeedMore, or an error.
HttpParse ReadChunked(std::string_view text, size_t* pos, const HttpLimits& limits,
                      HttpRequest* request) {
  size_t total = 0;
  for (;;) {
    std::optional<std::string_view> line = NextLine(text, pos);
    if (!line) return HttpParse{};
    if (line->size() > 64) return Error(400, "malformed chunk size");
    std::string_view size_text = line->substr(0, line->find(';'));  // extensions ignored
    size_text = Trim(size_text);
    size_t size = 0;
    auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc() || end != size_text.data() + size_text.size() ||
        size_text.size() > 15) {
      return Error(400, "malformed chunk size");
    }
    if (size == 0) {
      // Trailers, then the empty line.
      for (;;) {
        std::optional<std::string_view> trailer = NextLine(text, pos);
        if (!trailer) return HttpParse{};
        if (trailer->empty()) break;
        if (*pos > limits.max_head_bytes + limits.max_body_bytes + 64 * 1024) {
          return Error(431, "trailers too large");
        }
      }
      HttpParse p;
      p.kind = HttpParse::Kind::kRequest;
      return p;
    }
    total += size;
    if (total > limits.max_body_bytes) {
      // Not worth reading on: the API answers 413 and the connection closes.
      request->body.clear();
      request->body_too_large = true;
      HttpParse p;
      p.kind = HttpParse::Kind::kRequest;
      return p;
    }
    if (text.size() - *pos < size + 1) return HttpParse{};
    request->body.append(text.substr(*pos, size));
    *pos += size;
    std::optional<std::string_view> after = NextLine(text, pos);
    if (!after) return HttpParse{};
    if (!after->empty()) return Error(400, "malformed chunk");
  }
}

}  // namespace

HttpParse ParseHttpRequest(std::string_view buffer, const HttpLimits& limits) {
  // Empty lines before a request are allowed (RFC 9112 section 2.2).
  size_t start = 0;
  while (start < buffer.size() && (buffer[start] == '\r' || buffer[start] == '\n')) ++start;
  if (start > 64) return Error(400, "empty lines instead of a request");
  const std::string_view text = buffer.substr(start);
  // The head ends at the first empty line.
  size_t head_end = std::string_view::npos, body_start = 0;
  for (size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') {
      head_end = i;
      body_start = i + 2;
      break;
    }
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
      head_end = i;
      body_start = i + 3;
      break;
    }
  }
  if (head_end == std::string_view::npos) {
    if (text.size() > limits.max_head_bytes) return Error(431, "request head too large");
    return HttpParse{};
  }
  if (head_end > limits.max_head_bytes) return Error(431, "request head too large");

  HttpParse out;
  HttpRequest& r = out.request;
  size_t pos = 0;
  const std::string_view head = text.substr(0, head_end + 1);
  std::string_view line = *NextLine(head, &pos);
  // request-line = method SP request-target SP HTTP-version
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != line.npos) {
    return Error(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), [](char c) { return IsTokenChar(c); })) {
    return Error(400, "malformed method");
  }
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      })) {
    return Error(400, "malformed request target");
  }
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version != "HTTP/1.1") {
    return version.rfind("HTTP/", 0) == 0 ? Error(505, "only HTTP/1.0 and HTTP/1.1")
                                          : Error(400, "malformed HTTP version");
  }
  r.method.assign(method);
  if (target.front() == '/' || target == "*") {
    r.target.assign(target);
  } else if (const size_t scheme = target.find("://"); scheme != std::string_view::npos) {
    const size_t path = target.find('/', scheme + 3);
    r.target = path == std::string_view::npos ? "/" : std::string(target.substr(path));
  } else {
    return Error(400, "malformed request target");
  }

  std::optional<size_t> content_length;
  bool chunked = false, close = false, keep_alive = false;
  size_t headers = 0;
  while (pos < head.size()) {
    std::optional<std::string_view> h = NextLine(head, &pos);
    if (!h || h->empty()) break;
    if (++headers > limits.max_headers) return Error(431, "too many header fields");
    if (h->front() == ' ' || h->front() == '\t') return Error(400, "obsolete line folding");
    const size_t colon = h->find(':');
    if (colon == 0 || colon == std::string_view::npos) return Error(400, "malformed header field");
    const std::string_view name = h->substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](char c) { return IsTokenChar(c); })) {
      return Error(400, "malformed header field name");
    }
    const std::string_view value = Trim(h->substr(colon + 1));
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return c == '\0' || c == '\r' || c == '\n'; })) {
      return Error(400, "malformed header field value");
    }
    if (IEquals(name, "Content-Length")) {
      std::optional<size_t> n = ParseDecimal(value);
      if (!n || (content_length && *content_length != *n)) {
        return Error(400, "malformed Content-Length");
      }
      content_length = n;
    } else if (IEquals(name, "Transfer-Encoding")) {
      if (!IEquals(value, "chunked") || chunked) {
        return Error(501, "only the chunked transfer coding is supported");
      }
      chunked = true;
    } else if (IEquals(name, "Connection")) {
      close = close || ListsToken(value, "close");
      keep_alive = keep_alive || ListsToken(value, "keep-alive");
    } else if (IEquals(name, "Authorization")) {
      if (r.authorization.empty()) r.authorization.assign(value);
    } else if (IEquals(name, "Expect")) {
      if (!IEquals(value, "100-continue")) return Error(417, "only Expect: 100-continue");
      out.expects_continue = true;
    }
  }
  if (chunked && content_length) return Error(400, "both Content-Length and Transfer-Encoding");
  r.keep_alive = !close && (!http10 || keep_alive);

  size_t body_pos = body_start;
  if (chunked) {
    HttpParse body = ReadChunked(text, &body_pos, limits, &r);
    if (body.kind == HttpParse::Kind::kError) return body;
    if (body.kind == HttpParse::Kind::kNeedMore) {
      out.kind = HttpParse::Kind::kNeedMore;
      out.request = HttpRequest{};
      return out;
    }
    if (r.body_too_large) r.keep_alive = false;
  } else if (content_length.value_or(0) > limits.max_body_bytes) {
    r.body_too_large = true;
    r.keep_alive = false;  // the rest of the body is not read
  } else if (content_length) {
    if (text.size() - body_start < *content_length) {
      out.kind = HttpParse::Kind::kNeedMore;
      out.request = HttpRequest{};
      return out;
    }
    r.body.assign(text.substr(body_start, *content_length));
    body_pos = body_start + *content_length;
  }
  out.expects_continue = false;
  out.kind = HttpParse::Kind::kRequest;
  out.consumed = start + body_pos;
  return out;
}

std::string_view HttpReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace ubc
