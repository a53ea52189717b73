#include "core/decision.h"

#include <cerrno>
#include <utility>

namespace ubc {

void ApplyOnError(OnError policy, Decision& d) {
  if (!d.undecidable) return;
  if (policy == OnError::kEnomem) {
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
  } else {
    d.action = Decision::Action::kContinue;
    d.error_number = 0;
  }
}

Decision UndecidableDecision(OnError policy, std::string note) {
  Decision d;
  d.undecidable = true;
  d.note = std::move(note);
  ApplyOnError(policy, d);
  return d;
}

}  // namespace ubc
