#include "core/accounts.h"

#include "gtest/gtest.h"

namespace strait::core {
namespace {

TEST(Accounts, VerifiesPasswordsByDigest) {
  Accounts accounts;
  ASSERT_TRUE(accounts.Add({"alice", DigestPassword("s3cret:with:colons")}).ok());

  EXPECT_EQ(accounts.Verify("alice", "s3cret:with:colons"), AuthResult::kOk);
  EXPECT_EQ(accounts.Verify("alice", "s3cret"), AuthResult::kWrongPassword);
  EXPECT_EQ(accounts.Verify("alice", ""), AuthResult::kWrongPassword);
  EXPECT_EQ(accounts.Verify("bob", "s3cret:with:colons"), AuthResult::kUnknownAccount);
  EXPECT_EQ(accounts.Verify("Alice", "s3cret:with:colons"), AuthResult::kUnknownAccount);
}

TEST(Accounts, AcceptsDigestsWrittenInHex) {
  PasswordDigest digest;
  // sha256("demo")
  ASSERT_TRUE(ParsePasswordDigest(
      "2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea", &digest));
  EXPECT_EQ(digest, DigestPassword("demo"));
  EXPECT_FALSE(ParsePasswordDigest("2a97", &digest));
  EXPECT_FALSE(ParsePasswordDigest(std::string(64, 'g'), &digest));
}

TEST(Accounts, RejectsNamesTheRoutingGrammarCannotCarry) {
  Accounts accounts;
  EXPECT_FALSE(accounts.Add({"al_ice", DigestPassword("x")}).ok());
  EXPECT_FALSE(accounts.Add({"", DigestPassword("x")}).ok());
  ASSERT_TRUE(accounts.Add({"alice", DigestPassword("x")}).ok());
  EXPECT_FALSE(accounts.Add({"alice", DigestPassword("y")}).ok());
}

}  // namespace
}  // namespace strait::core
