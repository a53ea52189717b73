// LogRateLimiter: bounds how often one kind of log line is written.
//
// A container in an allocation loop at its barrier is refused thousands of
// times a second; one line per refusal would fill the disk and cost ubcd more
// CPU than the decisions. Lines are grouped by a key (the container, the call
// and the resource of a refusal; the text of a repeated error). In each window
// of `interval_ms`, opened by a key's first line, the first `lines` lines of
// the key are written and the rest counted; once the window is over its count
// comes out as one summary ("N more ... in the last S s"), either before the
// key's next line or at the next Flush(). The counters and the refusal events
// are kept elsewhere and stay exact: only the log is thinned.
//
// Pure (the caller passes the time); not thread-safe: its owner serialises it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ubc {

class LogRateLimiter {
 public:
  struct Budget {
    uint32_t lines = 10;          // written per key and window
    int64_t interval_ms = 10000;  // the window
  };
  struct Summary {
    std::string what;  // as given with the key's first line of the window
    uint64_t suppressed = 0;
    int64_t interval_ms = 0;
    std::string Line() const;  // "37 more refusals of mmap ... in the last 10 s"
  };

  LogRateLimiter() = default;
  explicit LogRateLimiter(Budget budget) : budget_(budget) {}

  // One line of `key` at `now_ms`: true when it is to be written. `what`
  // names lines of this key in a summary ("refusals of mmap by container
  // web-1"). A summary of the key's previous window, if it suppressed any,
  // is put in *ended (to be written first).
  bool Admit(const std::string& key, const std::string& what, int64_t now_ms,
             std::optional<Summary>* ended);
  // Summaries of every window over by `now_ms` that suppressed lines; those
  // windows are forgotten (keys that went quiet cost nothing).
  std::vector<Summary> Flush(int64_t now_ms);

  size_t keys() const { return windows_.size(); }

 private:
  struct Window {
    int64_t start_ms = 0;
    uint32_t written = 0;
    uint64_t suppressed = 0;
    std::string what;
  };
  bool Over(const Window& w, int64_t now_ms) const {
    return now_ms - w.start_ms >= budget_.interval_ms;
  }

  Budget budget_;
  std::map<std::string, Window> windows_;
};

}  // namespace ubc
