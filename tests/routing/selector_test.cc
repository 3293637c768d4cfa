#include "routing/selector.h"

#include <barrier>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "routing/exit_registry.h"

namespace strait::routing {
namespace {

ExitSpec Spec(std::string id, std::string country, std::string state = "", std::string city = "",
              uint32_t asn = 0, uint32_t weight = 1) {
  ExitSpec spec;
  spec.id = std::move(id);
  spec.country = std::move(country);
  spec.state = std::move(state);
  spec.city = std::move(city);
  spec.asn = asn;
  spec.weight = weight;
  return spec;
}

// Builds intents by hand the way the parser would, against a snapshot's dictionary.
class IntentBuilder {
 public:
  explicit IntentBuilder(const ExitSnapshot& snapshot) : snapshot_(snapshot) {}

  IntentBuilder& Country(const char* code) {
    intent_.country = CountryCode::FromLowerLetters(code[0], code[1]);
    return *this;
  }
  IntentBuilder& State(std::string_view name) {
    intent_.state = snapshot_.places().Find(PlaceKind::kState, name);
    intent_.state_text = name;
    return *this;
  }
  IntentBuilder& City(std::string_view name) {
    intent_.city = snapshot_.places().Find(PlaceKind::kCity, name);
    intent_.city_text = name;
    return *this;
  }
  IntentBuilder& Zip(std::string_view name) {
    intent_.zip = snapshot_.places().Find(PlaceKind::kZip, name);
    intent_.zip_text = name;
    return *this;
  }
  IntentBuilder& Asn(uint32_t asn) {
    intent_.asn = asn;
    return *this;
  }
  IntentBuilder& Session(std::string_view id, uint64_t key) {
    intent_.session_id = id;
    intent_.session_key = key;
    return *this;
  }
  IntentBuilder& Ttl(uint32_t ttl_s) {
    intent_.ttl_s = ttl_s;
    return *this;
  }
  IntentBuilder& Strict() {
    intent_.flags |= kRoutingFlagStrict;
    return *this;
  }
  RoutingIntent Build() const { return intent_; }

 private:
  const ExitSnapshot& snapshot_;
  RoutingIntent intent_;
};

class SelectorTest : public testing::Test {
 protected:
  void Load(std::vector<ExitSpec> specs) {
    ASSERT_TRUE(registry_.ReplaceAll(std::move(specs)).ok());
    snapshot_ = registry_.Acquire();
  }

  SelectionResult Select(const RoutingIntent& intent, Pool pool = Pool::kResidential) {
    return SelectExit(*snapshot_, sticky_, intent, pool, now_s_, rng_, options_);
  }

  // The id picked, or the outcome name and reason when nothing was picked.
  std::string Pick(const RoutingIntent& intent, Pool pool = Pool::kResidential) {
    SelectionResult result = Select(intent, pool);
    if (result.outcome != SelectOutcome::kSelected) {
      return fmt::format("{}: {}", SelectOutcomeName(result.outcome), result.reason());
    }
    EXPECT_TRUE(result.reason().empty());
    return result.lease->id();
  }

  IntentBuilder Intent() { return IntentBuilder(*snapshot_); }

  ExitRegistry registry_;
  SnapshotRef snapshot_;
  AffinityTable sticky_{1000};
  FastRng rng_{12345};
  SelectorOptions options_;
  uint32_t now_s_ = 1000;
};

TEST_F(SelectorTest, PicksOnlyExitsMatchingEveryConstraint) {
  Load({Spec("us-fl-orl-1", "us", "florida", "orlando", 7018),
        Spec("us-fl-orl-2", "us", "florida", "orlando", 3356),
        Spec("us-fl-mia-1", "us", "florida", "miami", 7018),
        Spec("us-nc-clt-1", "us", "north_carolina", "charlotte", 7018),
        Spec("gb-lon-1", "gb", "", "london", 5089), Spec("gb-man-1", "gb", "", "manchester"),
        Spec("us-any", "us")});

  struct Case {
    RoutingIntent intent;
    std::set<std::string> expected;
  };
  std::vector<Case> cases = {
      {Intent().Build(),
       {"us-fl-orl-1", "us-fl-orl-2", "us-fl-mia-1", "us-nc-clt-1", "gb-lon-1", "gb-man-1",
        "us-any"}},
      {Intent().Country("gb").Build(), {"gb-lon-1", "gb-man-1"}},
      {Intent().Country("us").State("Florida").Build(),
       {"us-fl-orl-1", "us-fl-orl-2", "us-fl-mia-1"}},
      {Intent().Country("us").City("orlando").Build(), {"us-fl-orl-1", "us-fl-orl-2"}},
      {Intent().Country("us").City("orlando").Asn(7018).Build(), {"us-fl-orl-1"}},
      {Intent().Country("us").State("florida").Asn(7018).Build(), {"us-fl-orl-1", "us-fl-mia-1"}},
      {Intent().Asn(7018).Build(), {"us-fl-orl-1", "us-fl-mia-1", "us-nc-clt-1"}},
      {Intent().Country("us").Asn(7018).Build(), {"us-fl-orl-1", "us-fl-mia-1", "us-nc-clt-1"}},
  };

  for (const Case& c : cases) {
    std::set<std::string> picked;
    for (int i = 0; i < 300; ++i) {
      picked.insert(Pick(c.intent));
    }
    EXPECT_EQ(picked, c.expected);  // every pick matched, and every match was picked
  }
}

TEST_F(SelectorTest, KeepsToTheListenersPool) {
  ExitSpec dc = Spec("dc-1", "us");
  dc.pool = Pool::kDatacenter;
  Load({dc, Spec("res-1", "us")});

  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Pick(Intent().Country("us").Build(), Pool::kDatacenter), "dc-1");
    EXPECT_EQ(Pick(Intent().Country("us").Build(), Pool::kResidential), "res-1");
  }
  EXPECT_EQ(Pick(Intent().Build(), Pool::kMobile), "no_exit: no exit in pool mobile");
}

TEST_F(SelectorTest, NamesTheConstraintThatEmptiedTheSet) {
  ExitSpec zipped = Spec("us-fl-orl-1", "us", "florida", "orlando", 7018);
  zipped.zip = "32808";
  Load({zipped, Spec("gb-lon-1", "gb", "", "london", 5089), Spec("us-tx-1", "us", "texas")});

  EXPECT_EQ(Pick(Intent().Country("fr").Build()),
            "no_exit: no exit in pool residential with country 'fr'");
  EXPECT_EQ(Pick(Intent().Country("gb").City("Paris").Build()),
            "no_exit: no exit in pool residential with country 'gb' and city 'Paris'");
  // Orlando exists, but not in GB: the city is what empties the set.
  EXPECT_EQ(Pick(Intent().Country("gb").City("orlando").Build()),
            "no_exit: no exit in pool residential with country 'gb' and city 'orlando'");
  // Both exist in the US, not together.
  EXPECT_EQ(Pick(Intent().Country("us").State("texas").City("orlando").Build()),
            "no_exit: no exit in pool residential with country 'us', state 'texas' and city "
            "'orlando'");
  EXPECT_EQ(Pick(Intent().Country("us").City("orlando").Asn(1234).Build()),
            "no_exit: no exit in pool residential with country 'us', city 'orlando' and asn 1234");
  EXPECT_EQ(Pick(Intent().Country("us").Zip("32809").Build()),
            "no_exit: no exit in pool residential with country 'us' and zip '32809'");
  EXPECT_EQ(Pick(Intent().Country("us").Zip("32808").Build()), "us-fl-orl-1");
  EXPECT_EQ(Pick(Intent().Asn(1).Build()), "no_exit: no exit in pool residential with asn 1");
}

TEST_F(SelectorTest, AnswersNoExitForPlacesNoExitHas) {
  Load({Spec("us-1", "us", "florida", "orlando")});
  RoutingIntent intent = Intent().Country("us").City("atlantis").Build();
  ASSERT_EQ(intent.city, kUnknownPlace);
  EXPECT_EQ(Pick(intent),
            "no_exit: no exit in pool residential with country 'us' and city 'atlantis'");

  intent = Intent().Country("us").State("florida").Zip("00000").Build();
  ASSERT_EQ(intent.zip, kUnknownPlace);
  EXPECT_EQ(Pick(intent),
            "no_exit: no exit in pool residential with country 'us', state "
            "'florida' and zip '00000'");
}

TEST_F(SelectorTest, NeverFallsBackToALooserMatch) {
  Load({Spec("gb-lon-1", "gb", "", "london"), Spec("gb-lon-2", "gb", "", "london"),
        Spec("gb-man-1", "gb", "", "manchester")});
  ASSERT_TRUE(registry_.SetHealthy("gb-lon-1", false).ok());
  ASSERT_TRUE(registry_.SetHealthy("gb-lon-2", false).ok());

  EXPECT_EQ(Pick(Intent().Country("gb").City("london").Build()),
            "no_exit: no healthy exit in pool residential with country 'gb' and city 'london'");
  EXPECT_EQ(Pick(Intent().Country("gb").Build()), "gb-man-1");

  ASSERT_TRUE(registry_.SetHealthy("gb-lon-2", true).ok());
  EXPECT_EQ(Pick(Intent().Country("gb").City("london").Build()), "gb-lon-2");
}

TEST_F(SelectorTest, SkipsExitsWithoutSpareCapacity) {
  ExitSpec small = Spec("small", "de");
  small.capacity = 2;
  ExitSpec big = Spec("big", "de");
  big.capacity = 3;
  Load({small, big});

  std::vector<SelectionResult> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(Select(Intent().Country("de").Build()));
    ASSERT_EQ(held.back().outcome, SelectOutcome::kSelected);
  }
  EXPECT_EQ(snapshot_->FindById("small")->active_tunnels(), 2u);
  EXPECT_EQ(snapshot_->FindById("big")->active_tunnels(), 3u);
  EXPECT_EQ(Pick(Intent().Country("de").Build()),
            "exit_busy: no exit with spare capacity in pool residential with country 'de'");

  held.pop_back();  // one tunnel ends
  EXPECT_EQ(Select(Intent().Country("de").Build()).outcome, SelectOutcome::kSelected);
}

// Pearson's chi-square statistic of observed counts against expected shares.
double ChiSquare(const std::vector<int>& observed, const std::vector<double>& share) {
  int total = 0;
  for (int count : observed) {
    total += count;
  }
  double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    double expected = share[i] * total;
    chi += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return chi;
}

// Counts which exit each of `picks` rotating selections gets, releasing each tunnel at once.
std::vector<int> CountPicks(SelectorTest* test, const RoutingIntent& intent, int picks,
                            const std::vector<std::string>& ids,
                            std::function<SelectionResult(const RoutingIntent&)> select) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) {
    SelectionResult result = select(intent);
    EXPECT_EQ(result.outcome, SelectOutcome::kSelected);
    if (result.lease) {
      ++counts[result.lease->id()];
    }
  }
  (void)test;
  std::vector<int> observed;
  for (const std::string& id : ids) {
    observed.push_back(counts[id]);
  }
  return observed;
}

TEST_F(SelectorTest, SpreadsRotatingPicksEvenlyOverALargeSet) {
  // 40 exits: past the scan threshold, so the sampling path is what is measured.
  std::vector<ExitSpec> specs;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(fmt::format("fr-{}", i));
    specs.push_back(Spec(ids.back(), "fr"));
  }
  Load(specs);

  std::vector<int> observed =
      CountPicks(this, Intent().Country("fr").Build(), 40'000, ids,
                 [this](const RoutingIntent& intent) { return Select(intent); });
  // 39 degrees of freedom: P(chi-square > 72.05) = 0.001. The seed is fixed, so this cannot
  // flake; it fails if the spread is biased.
  EXPECT_LT(ChiSquare(observed, std::vector<double>(40, 1.0 / 40)), 72.05);
}

TEST_F(SelectorTest, HonoursWeightsOnSampledAndScannedLists) {
  // Sampled list: 20 exits of weight 1 and 20 of weight 3.
  std::vector<ExitSpec> specs;
  std::vector<std::string> ids;
  std::vector<double> share;
  for (int i = 0; i < 40; ++i) {
    uint32_t weight = i % 2 == 0 ? 1 : 3;
    ids.push_back(fmt::format("it-{}", i));
    specs.push_back(Spec(ids.back(), "it", "", "", 0, weight));
    share.push_back(weight / 80.0);
  }
  // Scanned list: four exits weighted 1 to 4.
  std::vector<std::string> small_ids;
  std::vector<double> small_share;
  for (uint32_t weight = 1; weight <= 4; ++weight) {
    small_ids.push_back(fmt::format("es-{}", weight));
    specs.push_back(Spec(small_ids.back(), "es", "", "", 0, weight));
    small_share.push_back(weight / 10.0);
  }
  Load(specs);

  auto select = [this](const RoutingIntent& intent) { return Select(intent); };
  std::vector<int> observed = CountPicks(this, Intent().Country("it").Build(), 40'000, ids, select);
  EXPECT_LT(ChiSquare(observed, share), 72.05);  // 39 degrees of freedom, p = 0.001

  std::vector<int> small =
      CountPicks(this, Intent().Country("es").Build(), 20'000, small_ids, select);
  EXPECT_LT(ChiSquare(small, small_share), 16.27);  // 3 degrees of freedom, p = 0.001
}

TEST_F(SelectorTest, BalancesActiveTunnelsWithTwoChoices) {
  std::vector<ExitSpec> specs;
  for (int i = 0; i < 20; ++i) {
    specs.push_back(Spec(fmt::format("nl-{}", i), "nl"));
  }
  Load(specs);

  std::vector<SelectionResult> held;
  for (int i = 0; i < 2000; ++i) {
    held.push_back(Select(Intent().Country("nl").Build()));
    ASSERT_EQ(held.back().outcome, SelectOutcome::kSelected);
  }
  uint32_t least = UINT32_MAX, most = 0;
  for (const Exit* exit : snapshot_->exits()) {
    least = std::min(least, exit->active_tunnels());
    most = std::max(most, exit->active_tunnels());
  }
  // One random choice would spread 100 +- 30 per exit; two choices keep them within a few.
  EXPECT_LE(most - least, 6u) << "least " << least << " most " << most;
}

TEST_F(SelectorTest, ReusesTheStickyExitUntilTheSessionExpires) {
  std::vector<ExitSpec> specs;
  for (int i = 0; i < 10; ++i) {
    specs.push_back(Spec(fmt::format("us-{}", i), "us"));
  }
  Load(specs);
  RoutingIntent intent = Intent().Country("us").Session("abc", 0xabc).Ttl(120).Build();

  std::string first = Pick(intent);
  ASSERT_NE(first.find("us-"), std::string::npos);
  EXPECT_EQ(sticky_.Find(0xabc, now_s_)->expiry_s, now_s_ + 120);
  for (int i = 0; i < 100; ++i) {
    now_s_ += 1;
    SelectionResult again = Select(intent);
    ASSERT_EQ(again.outcome, SelectOutcome::kSelected);
    EXPECT_EQ(again.lease->id(), first);
    EXPECT_FALSE(again.session_moved);
  }

  // Past the expiry: a new session, which may land anywhere and gets a fresh expiry.
  now_s_ = 1000 + 120;
  std::set<std::string> later;
  for (int i = 0; i < 30; ++i) {
    later.insert(Pick(intent));
    EXPECT_EQ(sticky_.Find(0xabc, now_s_)->expiry_s, now_s_ + 120);
    now_s_ += 120;
  }
  EXPECT_GT(later.size(), 1u);
}

TEST_F(SelectorTest, UsesTheDefaultTtlWhenTheIntentHasNone) {
  Load({Spec("a", "us")});
  options_.default_sticky_ttl_s = 45;
  Pick(Intent().Session("x", 77).Build());
  EXPECT_EQ(sticky_.Find(77, now_s_)->expiry_s, now_s_ + 45);
}

TEST_F(SelectorTest, MovesTheSessionWhenItsExitGoesDownOrAway) {
  Load({Spec("a", "us"), Spec("b", "us"), Spec("c", "us")});
  RoutingIntent intent = Intent().Country("us").Session("s1", 1).Build();
  std::string first = Pick(intent);

  ASSERT_TRUE(registry_.SetHealthy(first, false).ok());
  SelectionResult moved = Select(intent);
  ASSERT_EQ(moved.outcome, SelectOutcome::kSelected);
  EXPECT_TRUE(moved.session_moved);
  std::string second = moved.lease->id();
  EXPECT_NE(second, first);
  uint32_t expiry = sticky_.Find(1, now_s_)->expiry_s;
  EXPECT_EQ(expiry, now_s_ + options_.default_sticky_ttl_s);  // the session keeps its expiry

  // Settled on the new exit, even after the old one comes back.
  ASSERT_TRUE(registry_.SetHealthy(first, true).ok());
  SelectionResult stays = Select(intent);
  EXPECT_EQ(stays.lease->id(), second);
  EXPECT_FALSE(stays.session_moved);

  // Removed from the set: the next snapshot no longer has it.
  ASSERT_TRUE(registry_.Remove(second).ok());
  snapshot_ = registry_.Acquire();
  now_s_ += 5;
  SelectionResult after_removal = Select(intent);
  ASSERT_EQ(after_removal.outcome, SelectOutcome::kSelected);
  EXPECT_TRUE(after_removal.session_moved);
  EXPECT_NE(after_removal.lease->id(), second);
  EXPECT_EQ(sticky_.Find(1, now_s_)->expiry_s, expiry);
}

TEST_F(SelectorTest, MovesTheSessionWhenItsExitNoLongerMatches) {
  Load({Spec("us-1", "us"), Spec("gb-1", "gb")});
  EXPECT_EQ(Pick(Intent().Country("us").Session("s", 5).Build()), "us-1");

  SelectionResult moved = Select(Intent().Country("gb").Session("s", 5).Build());
  ASSERT_EQ(moved.outcome, SelectOutcome::kSelected);
  EXPECT_EQ(moved.lease->id(), "gb-1");
  EXPECT_TRUE(moved.session_moved);

  // A session that cannot move anywhere matching: no_exit, never the old exit.
  EXPECT_EQ(Pick(Intent().Country("fr").Session("s", 5).Build()),
            "no_exit: no exit in pool residential with country 'fr'");
}

TEST_F(SelectorTest, RefusesAStrictSessionWhoseExitIsGone) {
  Load({Spec("a", "us"), Spec("b", "us")});
  RoutingIntent intent = Intent().Country("us").Session("st", 9).Strict().Build();
  std::string first = Pick(intent);
  ExitHandle handle = sticky_.Find(9, now_s_)->handle;

  ASSERT_TRUE(registry_.SetHealthy(first, false).ok());
  EXPECT_EQ(Pick(intent), fmt::format("session_exit_gone: sticky exit '{}' is down", first));
  EXPECT_EQ(sticky_.Find(9, now_s_)->handle, handle);  // not moved

  ASSERT_TRUE(registry_.SetHealthy(first, true).ok());
  EXPECT_EQ(
      Pick(Intent().Country("gb").Session("st", 9).Strict().Build()),
      fmt::format("session_exit_gone: sticky exit '{}' no longer matches the routing", first));

  ASSERT_TRUE(registry_.Remove(first).ok());
  snapshot_ = registry_.Acquire();
  EXPECT_EQ(Pick(intent), "session_exit_gone: sticky exit of session 'st' was removed");

  // Back with the same id: a new handle, so the strict session stays gone.
  ExitSpec again = Spec(first, "us");
  ASSERT_TRUE(registry_.Upsert(again).ok());
  snapshot_ = registry_.Acquire();
  EXPECT_EQ(Pick(intent), "session_exit_gone: sticky exit of session 'st' was removed");
}

TEST_F(SelectorTest, AnswersBusyWhenTheStickyExitIsFull) {
  ExitSpec one = Spec("one", "us");
  one.capacity = 1;
  Load({one, Spec("other", "us")});
  ASSERT_TRUE(registry_.SetHealthy("other", false).ok());
  RoutingIntent intent = Intent().Country("us").Session("b", 3).Build();

  SelectionResult first = Select(intent);
  ASSERT_EQ(first.outcome, SelectOutcome::kSelected);
  ASSERT_TRUE(registry_.SetHealthy("other", true).ok());
  EXPECT_EQ(Pick(intent), "exit_busy: sticky exit 'one' is at its capacity of 1 tunnels");

  first.lease.Release();
  EXPECT_EQ(Pick(intent), "one");
}

TEST_F(SelectorTest, KeepsSessionsOfDifferentKeysApart) {
  // alice_s_x and bob_s_x: same session id, different accounts, so different keys.
  Load({Spec("a", "us"), Spec("b", "us")});
  RoutingIntent alice = Intent().Session("x", 0x1111).Build();
  RoutingIntent bob = Intent().Session("x", 0x2222).Build();

  ASSERT_TRUE(registry_.SetHealthy("b", false).ok());
  EXPECT_EQ(Pick(alice), "a");
  ASSERT_TRUE(registry_.SetHealthy("b", true).ok());
  ASSERT_TRUE(registry_.SetHealthy("a", false).ok());
  EXPECT_EQ(Pick(bob), "b");
  ASSERT_TRUE(registry_.SetHealthy("a", true).ok());

  EXPECT_EQ(sticky_.CountLive(now_s_), 2u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Pick(alice), "a");
    EXPECT_EQ(Pick(bob), "b");
  }
}

TEST_F(SelectorTest, ProceedsUnstickyWhenTheTableIsFull) {
  Load({Spec("a", "us")});
  AffinityTable tiny(7);
  for (uint64_t key = 100; key < 114; ++key) {
    ASSERT_EQ(tiny.InsertOrGet(key, AffinityEntry{1, now_s_ + 1000}, now_s_).outcome,
              AffinityTable::InsertOutcome::kInserted);
  }
  SelectionResult result = SelectExit(*snapshot_, tiny, Intent().Session("full", 5).Build(),
                                      Pool::kResidential, now_s_, rng_, options_);
  ASSERT_EQ(result.outcome, SelectOutcome::kSelected);
  EXPECT_TRUE(result.session_not_stored);
  EXPECT_FALSE(tiny.Find(5, now_s_).has_value());
}

// Many shards start the same new session at the same instant, many times: all tunnels of a
// session get the same exit.
TEST_F(SelectorTest, GivesConcurrentFirstTunnelsOfASessionTheSameExit) {
  std::vector<ExitSpec> specs;
  for (int i = 0; i < 50; ++i) {
    specs.push_back(Spec(fmt::format("us-{}", i), "us"));
  }
  Load(specs);

  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  std::vector<const Exit*> seen(kThreads * kRounds);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FastRng rng(static_cast<uint64_t>(t) + 1);
      for (int round = 0; round < kRounds; ++round) {
        RoutingIntent intent =
            Intent().Country("us").Session("race", 0x5000 + static_cast<uint64_t>(round)).Build();
        start.arrive_and_wait();
        SelectionResult result =
            SelectExit(*snapshot_, sticky_, intent, Pool::kResidential, now_s_, rng, options_);
        seen[static_cast<size_t>(round) * kThreads + t] =
            result.outcome == SelectOutcome::kSelected ? result.lease.get() : nullptr;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  for (int round = 0; round < kRounds; ++round) {
    const Exit* first = seen[static_cast<size_t>(round) * kThreads];
    ASSERT_NE(first, nullptr);
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_EQ(seen[static_cast<size_t>(round) * kThreads + t], first) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace strait::routing
