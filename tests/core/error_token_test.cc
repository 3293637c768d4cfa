#include "core/error_token.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace strait {
namespace {

// A copy of DESIGN.md's error table, rows as the document writes them.
constexpr char kDesignTablePath[] = "tests/core/cases/design_error_table.md";

std::string Trim(std::string text) {
  size_t begin = text.find_first_not_of(' ');
  size_t end = text.find_last_not_of(' ');
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// "`bad_routing` (names the part)" -> "bad_routing".
std::string Backticked(const std::string& cell) {
  size_t open = cell.find('`');
  size_t close = cell.find('`', open + 1);
  if (open == std::string::npos || close == std::string::npos) {
    return "";
  }
  return cell.substr(open + 1, close - open - 1);
}

std::vector<std::vector<std::string>> ReadDesignRows() {
  std::ifstream file(kDesignTablePath);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  int line_number = 0;
  while (std::getline(file, line) && ++line_number < 100) {
    if (line_number <= 2) {
      continue;  // header and separator
    }
    std::vector<std::string> cells;
    std::stringstream stream(line.substr(1));
    std::string cell;
    while (std::getline(stream, cell, '|')) {
      cells.push_back(Trim(cell));
    }
    rows.push_back(cells);
  }
  return rows;
}

TEST(ErrorToken, MatchesEveryRowOfDesignTable) {
  std::vector<std::vector<std::string>> rows = ReadDesignRows();
  ASSERT_EQ(rows.size(), kErrorTokenCount - 1) << "one row per token except kNone";

  std::set<ErrorToken> seen;
  for (const std::vector<std::string>& cells : rows) {
    ASSERT_EQ(cells.size(), 5u);
    const std::string& condition = cells[0];
    SCOPED_TRACE(condition);

    ErrorToken token;
    ASSERT_TRUE(ErrorTokenFromReason(Backticked(cells[3]), &token)) << cells[3];
    EXPECT_TRUE(seen.insert(token).second);
    EXPECT_EQ(ReasonToken(token), Backticked(cells[3]));

    EXPECT_EQ(HttpStatus(token).code, std::stoi(cells[1]));
    EXPECT_EQ(ProxyStatusError(token), Backticked(cells[2]));

    Socks5Answer socks5 = Socks5Reply(token);
    const std::string& expected = cells[4];
    if (expected == "close") {
      EXPECT_EQ(socks5.action, Socks5Action::kClose);
    } else if (expected == "auth failure") {
      EXPECT_EQ(socks5.action, Socks5Action::kAuthFailure);
    } else {
      EXPECT_EQ(socks5.action, Socks5Action::kReply);
      unsigned first = 0;
      unsigned second = 0;
      int fields = std::sscanf(expected.c_str(), "0x%x / 0x%x", &first, &second);
      ASSERT_GE(fields, 1) << expected;
      if (fields == 1) {
        second = first;
      }
      EXPECT_EQ((std::set<unsigned>{socks5.code, socks5.alternate_code}),
                (std::set<unsigned>{first, second}));
    }
  }
}

TEST(ErrorToken, SendsProxyAuthenticateOnlyWithStatus407) {
  // DESIGN pairs "407 + Proxy-Authenticate"; the writer keys the header on the status alone.
  for (const ErrorTokenRow& row : kErrorTokenTable) {
    bool auth = row.token == ErrorToken::kAuthRequired || row.token == ErrorToken::kAuthFailed;
    EXPECT_EQ(row.http.code == 407, auth) << row.reason_token;
  }
}

TEST(ErrorToken, UsesStandardReasonPhrases) {
  const std::pair<int, std::string_view> kPhrases[] = {
      {200, "OK"},
      {400, "Bad Request"},
      {403, "Forbidden"},
      {407, "Proxy Authentication Required"},
      {429, "Too Many Requests"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (const ErrorTokenRow& row : kErrorTokenTable) {
    bool found = false;
    for (const auto& [code, phrase] : kPhrases) {
      if (code == row.http.code) {
        EXPECT_EQ(row.http.reason_phrase, phrase) << row.reason_token;
        found = true;
      }
    }
    EXPECT_TRUE(found) << row.reason_token << " has unexpected status " << row.http.code;
  }
}

TEST(ErrorToken, NamesTheSideThatFailed) {
  EXPECT_EQ(FailedSide(ErrorToken::kNone), TunnelSide::kNone);
  for (ErrorToken token :
       {ErrorToken::kBadRequest, ErrorToken::kAuthRequired, ErrorToken::kAuthFailed,
        ErrorToken::kBadRouting, ErrorToken::kPolicyDenied, ErrorToken::kLimitExceeded}) {
    EXPECT_EQ(FailedSide(token), TunnelSide::kClient) << ReasonToken(token);
  }
  EXPECT_EQ(FailedSide(ErrorToken::kNoExit), TunnelSide::kExit);
  EXPECT_EQ(FailedSide(ErrorToken::kSessionExitGone), TunnelSide::kExit);
  for (ErrorToken token : {ErrorToken::kTargetRefused, ErrorToken::kTargetUnreachable,
                           ErrorToken::kDnsFailed, ErrorToken::kTargetTimeout}) {
    EXPECT_EQ(FailedSide(token), TunnelSide::kTarget) << ReasonToken(token);
  }
  EXPECT_EQ(FailedSide(ErrorToken::kUnavailable), TunnelSide::kInternal);
  EXPECT_EQ(TunnelSideName(FailedSide(ErrorToken::kDnsFailed)), "target");
}

TEST(ErrorToken, DescribesSuccessAsOk) {
  EXPECT_EQ(HttpStatus(ErrorToken::kNone).code, 200);
  EXPECT_EQ(ProxyStatusError(ErrorToken::kNone), "");
  EXPECT_EQ(ReasonToken(ErrorToken::kNone), "ok");
  EXPECT_EQ(Socks5Reply(ErrorToken::kNone).action, Socks5Action::kReply);
  EXPECT_EQ(Socks5Reply(ErrorToken::kNone).code, 0x00);
}

TEST(ErrorToken, MapsOutOfRangeValueToUnavailable) {
  ErrorToken corrupt = static_cast<ErrorToken>(200);
  EXPECT_EQ(ReasonToken(corrupt), "unavailable");
  EXPECT_EQ(HttpStatus(corrupt).code, 503);
}

TEST(ErrorToken, RejectsUnknownReason) {
  ErrorToken token = ErrorToken::kNone;
  EXPECT_FALSE(ErrorTokenFromReason("Bad_Request", &token));
  EXPECT_FALSE(ErrorTokenFromReason("", &token));
  EXPECT_EQ(token, ErrorToken::kNone);
}

TEST(ErrorToken, IsUsableAtCompileTime) {
  static_assert(HttpStatus(ErrorToken::kTargetTimeout).code == 504);
  static_assert(ReasonToken(ErrorToken::kNoExit) == "no_exit");
  static_assert(Socks5Reply(ErrorToken::kTargetRefused).code == 0x05);
}

}  // namespace
}  // namespace strait
