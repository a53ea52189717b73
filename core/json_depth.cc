#include "core/json_depth.h"

#include <string>

namespace ubc {

Status CheckJsonDepth(std::string_view text, std::string_view source) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          return Status::Error(std::string(source) + ": JSON nested deeper than " +
                               std::to_string(kMaxJsonDepth) + " levels");
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced text is the parser's to report
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Result<nlohmann::json> ParseCheckedJson(std::string_view text, std::string_view source) {
  if (Status s = CheckJsonDepth(text, source); !s.ok()) return s;
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // The text carries line and column, which an operator needs; the
    // "[json.exception.parse_error.101] " tag is noise.
    std::string what = e.what();
    if (const size_t tag_end = what.find("] ");
        what.rfind("[json.exception.", 0) == 0 && tag_end != std::string::npos) {
      what.erase(0, tag_end + 2);
    }
    return Status::Error(std::string(source) + ": invalid JSON: " + what);
  }
}

}  // namespace ubc
