#pragma once

// Regression case files (tests/*/cases/): a few `# key: value` metadata lines, then the case's
// bytes as text lines. See tests/net/cases/http/README.md for the format.

#include <map>
#include <string>
#include <vector>

namespace strait::testing {

struct CaseFile {
  std::string path;
  std::map<std::string, std::string> metadata;  // `# key: value` lines; other `# ` lines ignored
  std::string bytes;  // the body lines, each followed by `line_end`, escapes decoded
};

// Decodes `\xNN` and `\\` escapes; other backslashes stay as they are.
std::string Unescape(const std::string& text);

// Reads one case file; body lines are each followed by `line_end` ("\r\n" for HTTP heads, "" for
// binary cases written as escapes). Fails the current test (ADD_FAILURE) if unreadable.
CaseFile ReadCaseFile(const std::string& path, const std::string& line_end);

// The files in `directory` whose names end in `suffix`, sorted; relative to the runfiles root.
std::vector<std::string> ListCaseFiles(const std::string& directory, const std::string& suffix);

// Reads a whole file as bytes; empty when unreadable.
std::string ReadFileBytes(const std::string& path);

}  // namespace strait::testing
