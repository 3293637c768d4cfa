#pragma once

// A tunnel: one client connection from accept to close, on one shard.
//
// Phases:
//   kHandshake   read the request (HTTP CONNECT / absolute-form, or SOCKS5), authenticate,
//                parse the routing string, check the target, pick the exit
//   kResolving   wait for the shard's DNS answer (names only)
//   kConnecting  connect from the exit's source address, with a linked timeout on the ring
//   kReplying    send the success reply to the client and any early data to the target
//   kRelaying    the splice relay (net/relay.h) moves bytes both ways
//   kErrorReply  send the error reply, then read and discard until the client closes (so the
//                reply is not destroyed by a reset) or a short deadline passes
//   kClosing     wait for in-flight operations, then the shard frees the tunnel
//
// Every refusal goes through Refuse(token, details): the reply the error table prescribes, one
// access-log line and one error count. Memory: the handshake buffer exists only until the relay
// starts, so an established idle tunnel holds this object, its relay and a few short strings.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/error_token.h"
#include "net/http_codec.h"
#include "net/relay.h"
#include "net/socket.h"
#include "net/uring.h"
#include "routing/exit.h"
#include "routing/routing_intent.h"

namespace strait::core {

class Shard;
struct DnsEntry;

class alignas(net::kCompletionTagLimit) Tunnel final : public net::CompletionHandler,
                                                       public net::RelayObserver {
 public:
  Tunnel(Shard& shard, uint64_t id, int client_fd, const ListenerConfig& listener);
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;
  ~Tunnel();

  // Starts reading the client's first bytes.
  void Start();

  // The process is over its tunnel limit: the handshake completes, then 429 limit_exceeded.
  void MarkOverLimit() { over_limit_ = true; }

  // The shard's DNS answer for the target name.
  void OnResolved(const DnsEntry& entry);

  // Called by the shard's periodic sweep: enforces the handshake, connect, idle and linger
  // deadlines.
  void CheckDeadline(int64_t now_ms);

  // Ends the tunnel now (drain deadline, shutdown).
  void Abort();

  uint64_t id() const { return id_; }

  // net::CompletionHandler
  void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

  // net::RelayObserver
  void OnRelayFinished(const net::RelayOutcome& outcome) override;

 private:
  enum class Phase : uint8_t {
    kHandshake,
    kResolving,
    kConnecting,
    kReplying,
    kRelaying,
    kErrorReply,
    kClosing,
  };

  enum class Protocol : uint8_t { kUnknown, kHttp, kSocks5 };

  enum class Socks5Stage : uint8_t { kGreeting, kAuth, kRequest };

  // Operation tags on the ring.
  enum Tag : unsigned {
    kClientPoll = 0,
    kTargetPoll = 1,
    kConnect = 2,
    kConnectTimeout = 3,
  };

  // Handshake.
  void OnClientReadable();
  bool EnsureBufferSpace();
  void HandleHttp();
  void HandleSocks5();
  bool HandleSocks5Greeting(std::string_view bytes, size_t* consumed);
  bool HandleSocks5Auth(std::string_view bytes, size_t* consumed);
  void HandleSocks5Request(std::string_view bytes);
  bool Authenticate(std::string_view user, std::string_view password);
  void ProceedToTarget(std::string_view host, const net::HostAddress& address, uint16_t port,
                       std::string_view early_data);

  // Target.
  void ConnectTo(const net::SocketAddress& target);
  void OnConnected(int32_t res);

  // Replies and relay.
  void StartReplying();
  void FlushPrefixes();
  void StartRelay();

  // Errors and the end.
  // `socks5_code` overrides the table's SOCKS5 answer (RFC 1928 codes the codec chose).
  void Refuse(ErrorToken token, std::string_view details,
              std::optional<uint8_t> socks5_code = std::nullopt);
  void SendErrorReply();
  void OnLingerReadable();
  void Finish(ErrorToken token, std::string_view details);
  void CloseSockets();
  void ArmPoll(int fd, unsigned tag, uint32_t events);
  void CancelOperation(unsigned tag);
  void MaybeRetire();
  void WriteAccessLog(ErrorToken token, std::string_view details);

  Shard& shard_;
  const uint64_t id_;
  const ListenerConfig& listener_;
  int client_fd_;
  int target_fd_ = -1;
  Phase phase_ = Phase::kHandshake;
  Protocol protocol_ = Protocol::kUnknown;
  Socks5Stage socks5_stage_ = Socks5Stage::kGreeting;
  bool session_moved_ = false;
  bool retired_ = false;
  bool relay_finished_ = false;
  bool idle_timed_out_ = false;
  bool over_limit_ = false;
  bool is_connect_ = false;
  uint8_t in_flight_ = 0;
  uint8_t armed_tags_ = 0;  // bit per Tag with an operation on the ring
  int64_t started_ms_ = 0;
  int64_t deadline_ms_ = 0;
  uint32_t linger_bytes_ = 0;
  uint64_t prefix_bytes_up_ = 0;
  uint64_t body_bytes_after_head_ = 0;  // absolute-form: body bytes still to forward

  // The handshake buffer: bytes read from the client, up to the configured head limit.
  std::unique_ptr<char[]> buffer_;
  size_t buffer_capacity_ = 0;
  size_t buffer_length_ = 0;
  size_t socks5_consumed_ = 0;

  // SOCKS5 keeps its parsed intent between messages; its views point into buffer_.
  routing::RoutingIntent intent_;

  // Bytes still to send before the relay starts (or before closing, for an error reply).
  std::string client_prefix_;
  std::string target_prefix_;

  routing::ExitLease lease_;
  std::unique_ptr<net::Relay> relay_;
  uint16_t target_port_ = 0;

  // The refusal being answered, for the access log once the reply is out.
  ErrorToken error_token_ = ErrorToken::kNone;
  std::string error_details_;

  // Kept for the access log.
  std::string exit_id_;
  std::string client_address_;
  std::string account_;
  std::string route_;
  std::string target_;
};

}  // namespace strait::core
