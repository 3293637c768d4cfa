#include "tests/testing/case_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "gtest/gtest.h"

namespace strait::testing {

std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
      out += static_cast<char>(std::stoi(text.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

CaseFile ReadCaseFile(const std::string& path, const std::string& line_end) {
  CaseFile result;
  result.path = path;
  std::string text = ReadFileBytes(path);
  if (text.empty()) {
    ADD_FAILURE() << "cannot read case file " << path;
    return result;
  }
  // Split on LF by hand: std::getline drops the empty line a head ends with.
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t lf = text.find('\n'); lf != std::string::npos; lf = text.find('\n', start)) {
    lines.push_back(text.substr(start, lf - start));
    start = lf + 1;
  }
  if (start < text.size()) {
    lines.push_back(text.substr(start));
  }
  bool in_metadata = true;
  for (const std::string& line : lines) {
    if (in_metadata && line.rfind("# ", 0) == 0) {
      // `# key: value` or `# key:` (empty value); a key holds no space.
      size_t colon = line.find(':');
      if (colon != std::string::npos && line.find(' ', 2) > colon &&
          (colon + 1 == line.size() || line[colon + 1] == ' ')) {
        result.metadata[line.substr(2, colon - 2)] =
            colon + 1 == line.size() ? "" : line.substr(colon + 2);
      }
      continue;
    }
    in_metadata = false;
    result.bytes += Unescape(line) + line_end;
  }
  return result;
}

std::vector<std::string> ListCaseFiles(const std::string& directory, const std::string& suffix) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    std::string path = entry.path().string();
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      paths.push_back(path);
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace strait::testing
