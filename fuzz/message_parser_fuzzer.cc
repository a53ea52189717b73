// Fuzz target: the listener's message path. The input is the byte stream a runtime
// (or anyone able to connect to the listener socket) writes: it is framed by
// MessageFramer, fed whole and in pseudo-random chunks, and every framed message,
// plus the input itself, goes through ParseContainerProcessState.
//
// Invariants: the framer never returns more bytes than it was fed, nor a message
// that is not one '{'...'}' object within its bound; how the stream is split into
// reads does not change the messages; a poisoned framer stays poisoned and silent;
// a parsed state satisfies what container_state.h promises (one "seccompFd", a
// safe id, non-negative pids). No exception escapes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/container_state.h"
#include "core/message_framer.h"
#include "fuzz/fuzz_check.h"

namespace {

using ubc::fuzz::Show;

constexpr size_t kLargeBound = 1024 * 1024;  // the listener's (supervisor/listener.cc)
constexpr size_t kSmallBound = 200;          // so the bound is reached often

void CheckState(const ubc::ContainerProcessState& s) {
  size_t seccomp_fds = 0;
  for (const std::string& name : s.fds) seccomp_fds += name == ubc::kSeccompFdName ? 1 : 0;
  FUZZ_CHECK(seccomp_fds == 1, "fds must name seccompFd once");
  const std::optional<size_t> index = s.SeccompFdIndex();
  FUZZ_CHECK(index.has_value() && *index < s.fds.size() && s.fds[*index] == ubc::kSeccompFdName,
             "SeccompFdIndex");
  FUZZ_CHECK(!s.id.empty() && s.id.size() <= ubc::kMaxContainerIdBytes, Show(s.id));
  FUZZ_CHECK(s.id != "." && s.id != "..", Show(s.id));
  for (const char c : s.id) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(c != '/' && u >= 0x20 && u != 0x7f, Show(s.id));
  }
  FUZZ_CHECK(s.pid >= 0 && s.state_pid >= 0, "negative pid");
}

void Parse(std::string_view text) {
  const ubc::Result<ubc::ContainerProcessState> state = ubc::ParseContainerProcessState(text);
  if (state.ok()) {
    CheckState(*state);
  } else {
    FUZZ_CHECK(state.status().message().rfind("container process state: ", 0) == 0,
               state.status().message());
  }
}

struct FrameResult {
  std::vector<std::string> messages;
  bool poisoned = false;
};

// Feeds `data` in pieces of the given sizes (cycled; one piece if empty), draining
// the framer after every Append, and checks the framer's own invariants.
FrameResult Frame(std::string_view data, size_t bound, const std::vector<size_t>& pieces) {
  ubc::MessageFramer framer(bound);
  FrameResult out;
  size_t fed = 0, returned = 0, next_piece = 0;
  while (fed < data.size()) {
    size_t n = pieces.empty() ? data.size() : pieces[next_piece++ % pieces.size()];
    if (n > data.size() - fed) n = data.size() - fed;
    const ubc::Status s = framer.Append(data.substr(fed, n));
    fed += n;
    if (!s.ok()) {
      FUZZ_CHECK(framer.poisoned(), s.message());
      out.poisoned = true;
      break;
    }
    FUZZ_CHECK(!framer.poisoned(), "poisoned after an ok Append");
    while (std::optional<std::string> m = framer.NextMessage()) {
      FUZZ_CHECK(m->size() >= 2 && m->front() == '{' && m->back() == '}', Show(*m));
      FUZZ_CHECK(m->size() <= bound, Show(*m));
      FUZZ_CHECK(m->find('\0') == std::string::npos, Show(*m));
      returned += m->size();
      out.messages.push_back(std::move(*m));
    }
    FUZZ_CHECK(returned + framer.buffered_bytes() <= fed, "framer returned more than fed");
  }
  if (out.poisoned) {
    // Poisoned for good: the same error again, and nothing delivered.
    const ubc::Status again = framer.Append("{}");
    FUZZ_CHECK(!again.ok(), "Append ok after poisoning");
    FUZZ_CHECK(!framer.NextMessage().has_value(), "message after poisoning");
  }
  return out;
}

// Deterministic piece sizes derived from the input, so a crash reproduces.
std::vector<size_t> Pieces(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : data) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  std::vector<size_t> pieces;
  for (int i = 0; i < 16; ++i) {
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    pieces.push_back(1 + (h >> 33) % 48);
  }
  return pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  ubc::fuzz::RunGuarded([&] {
    Parse(data);

    const FrameResult whole = Frame(data, kLargeBound, {});
    const FrameResult chunked = Frame(data, kLargeBound, Pieces(data));
    const FrameResult bytewise = Frame(data, kLargeBound, {1});
    FUZZ_CHECK(whole.poisoned == chunked.poisoned && whole.poisoned == bytewise.poisoned,
               "splitting the stream changed whether it is an error");
    if (!whole.poisoned) {
      FUZZ_CHECK(whole.messages == chunked.messages && whole.messages == bytewise.messages,
                 "splitting the stream changed the messages");
    } else {
      // Fed whole, an error delivers nothing; fed in reads, the messages completed
      // before the error are delivered, so one split's messages are a prefix of the
      // other's (reads end at different bytes).
      FUZZ_CHECK(whole.messages.empty(), "messages delivered with an error");
      const auto& a =
          chunked.messages.size() < bytewise.messages.size() ? chunked.messages : bytewise.messages;
      const auto& b = &a == &chunked.messages ? bytewise.messages : chunked.messages;
      for (size_t i = 0; i < a.size(); ++i) FUZZ_CHECK(a[i] == b[i], Show(a[i]));
    }
    (void)Frame(data, kSmallBound, Pieces(data));

    for (const std::string& m : whole.messages) Parse(m);
  });
  return 0;
}
