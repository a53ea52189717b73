#include "core/log_rate_limiter.h"

#include <utility>

namespace ubc {

std::string LogRateLimiter::Summary::Line() const {
  // Whole seconds unless the window is shorter than one.
  const std::string span = interval_ms % 1000 == 0 ? std::to_string(interval_ms / 1000) + " s"
                                                   : std::to_string(interval_ms) + " ms";
  return std::to_string(suppressed) + " more " + what + " in the last " + span;
}

bool LogRateLimiter::Admit(const std::string& key, const std::string& what, int64_t now_ms,
                           std::optional<Summary>* ended) {
  if (ended != nullptr) ended->reset();
  auto [it, inserted] = windows_.try_emplace(key);
  Window& w = it->second;
  if (inserted || Over(w, now_ms)) {
    if (!inserted && w.suppressed > 0 && ended != nullptr) {
      *ended = Summary{std::move(w.what), w.suppressed, budget_.interval_ms};
    }
    w = Window{now_ms, 0, 0, what};
  }
  if (w.written < budget_.lines) {
    ++w.written;
    return true;
  }
  ++w.suppressed;
  return false;
}

std::vector<LogRateLimiter::Summary> LogRateLimiter::Flush(int64_t now_ms) {
  std::vector<Summary> out;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (!Over(it->second, now_ms)) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0) {
      out.push_back(
          Summary{std::move(it->second.what), it->second.suppressed, budget_.interval_ms});
    }
    it = windows_.erase(it);
  }
  return out;
}

}  // namespace ubc
