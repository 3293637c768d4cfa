#pragma once

// ASCII character helpers for the parsers: locale-free and constexpr, unlike <cctype>.

namespace strait {

// The value of a hex digit in either case, or -1 for any other byte.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace strait
