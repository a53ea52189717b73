#include "core/log_escape.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

struct EscapeCase {
  const char* what;
  std::string in;
  std::string out;
};

class EscapeForLogTable : public testing::TestWithParam<EscapeCase> {};

TEST_P(EscapeForLogTable, Escapes) {
  EXPECT_EQ(EscapeForLog(GetParam().in), GetParam().out) << GetParam().what;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EscapeForLogTable,
    testing::Values(
        EscapeCase{"printable ASCII stays", "refused container=web pid=7 comm=python3",
                   "refused container=web pid=7 comm=python3"},
        EscapeCase{"empty", "", ""},
        EscapeCase{"a newline cannot start a forged line",
                   "x\n2026-12-03T00:00:00.000Z ubcd info: fake",
                   "x\\n2026-12-03T00:00:00.000Z ubcd info: fake"},
        EscapeCase{"CR and TAB", "a\rb\tc", "a\\rb\\tc"},
        EscapeCase{"backslash is doubled, so escapes cannot be faked", "a\\x41", "a\\\\x41"},
        EscapeCase{"NUL, ESC and DEL", std::string("a\0b\x1b[31m\x7f", 9), "a\\x00b\\x1b[31m\\x7f"},
        EscapeCase{"well-formed UTF-8 stays", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3",
                   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"},
        EscapeCase{"a lone continuation byte", "a\x80z", "a\\x80z"},
        EscapeCase{"an overlong '/'", "\xc0\xaf", "\\xc0\\xaf"},
        EscapeCase{"an overlong three-byte form", "\xe0\x80\xaf", "\\xe0\\x80\\xaf"},
        EscapeCase{"a surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
        EscapeCase{"above U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
        EscapeCase{"a truncated sequence at the end", "ok\xe2\x82", "ok\\xe2\\x82"},
        EscapeCase{"a truncated sequence before ASCII resynchronises", "\xe2\x82z", "\\xe2\\x82z"},
        EscapeCase{"bytes that never start UTF-8", "\xf5\xff\xfe", "\\xf5\\xff\\xfe"}));

TEST(EscapeForLog, TheResultIsOneLineOfPrintableOrUtf8Text) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::string out = EscapeForLog(every_byte + every_byte);
  for (char c : out) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE((u >= 0x20 && u < 0x7f) || u >= 0x80) << "byte " << int(u);
  }
  EXPECT_EQ(out.find('\n'), std::string::npos);
  // Escaping it again only doubles its backslashes: nothing else in it needed escaping.
  std::string doubled;
  for (char c : out) doubled += c == '\\' ? std::string("\\\\") : std::string(1, c);
  EXPECT_EQ(EscapeForLog(out), doubled);
}

}  // namespace
}  // namespace ubc
