// validate_json: checks a JSON document against one of the compiled-in
// schemas (schemas/*.json), for the integration tests of ubcd's REST API.
//
//   validate_json SCHEMA_NAME [FILE]     (stdin without FILE)
//
// Exit 0 valid, 1 invalid (the message names the JSON pointer), 2 usage or
// unreadable input. Uses ubc::SchemaValidator, i.e. exactly the schemas and
// validator the binaries ship.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/schema_validator.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: validate_json SCHEMA_NAME [FILE]\n");
    return 2;
  }
  std::string text;
  std::string source = argc == 3 ? argv[2] : "stdin";
  if (argc == 3) {
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "validate_json: cannot read %s\n", argv[2]);
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
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
