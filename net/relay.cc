#include "net/relay.h"

#include "net/internal/relay_strategies.h"

namespace strait::net {

std::string_view RelayStrategyName(RelayStrategy strategy) {
  switch (strategy) {
    case RelayStrategy::kPollSplice:
      return "splice";
    case RelayStrategy::kRingSplice:
      return "uring_splice";
  }
  return "unknown";
}

std::optional<RelayStrategy> ParseRelayStrategy(std::string_view name) {
  if (name == "splice") {
    return RelayStrategy::kPollSplice;
  }
  if (name == "uring_splice") {
    return RelayStrategy::kRingSplice;
  }
  return std::nullopt;
}

std::unique_ptr<Relay> Relay::Create(RelayStrategy strategy, const RelayEnvironment& env,
                                     int client_fd, int target_fd, RelayObserver* observer) {
  switch (strategy) {
    case RelayStrategy::kPollSplice:
      return std::make_unique<internal::PollSpliceRelay>(env, client_fd, target_fd, observer);
    case RelayStrategy::kRingSplice:
      return std::make_unique<internal::RingSpliceRelay>(env, client_fd, target_fd, observer);
  }
  return nullptr;
}

}  // namespace strait::net
