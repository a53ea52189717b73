// validate_json: checks a JSON document against one of the compiled-in
// schemas (schemas/*.json), for the integration tests of ubcd's REST API.
//
//   validate_json SCHEMA_NAME [FILE]     (stdin without FILE)
//
// Exit 0 valid, 1 invalid (the message names the JSON pointer), 2 usage or
// unreadable input. Uses ubc::SchemaValidator, i.e. exactly the schemas and
// validator the binaries ship.
#include <cstddef>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "core/file_reader.h"
#include "core/schema_validator.h"

namespace {

// REST responses are kilobytes; this is only a bound against a runaway input.
constexpr size_t kMaxDocumentBytes = 64 * 1024 * 1024;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: validate_json SCHEMA_NAME [FILE]\n");
    return 2;
  }
  std::string text;
  std::string source = argc == 3 ? argv[2] : "stdin";
  if (argc == 3) {
    // Any readable file, a pipe included (validate_json S <(curl ...)).
    ubc::ReadFileOptions options;
    options.regular_file_only = false;
    ubc::Result<std::string> read = ubc::ReadFileBounded(argv[2], kMaxDocumentBytes, options);
    if (!read.ok()) {
      std::fprintf(stderr, "validate_json: %s\n", read.status().message().c_str());
      return 2;
    }
    text = std::move(read).value();
  } else {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto validator = ubc::SchemaValidator::Create(argv[1]);
  if (!validator.ok()) {
    std::fprintf(stderr, "validate_json: %s\n", validator.status().message().c_str());
    return 2;
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "validate_json: %s: not valid JSON\n", source.c_str());
    return 1;
  }
  ubc::Status s = (*validator)->Validate(doc, source);
  if (!s.ok()) {
    std::fprintf(stderr, "validate_json: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
