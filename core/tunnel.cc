#include "core/tunnel.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"
#include "core/logging.h"
#include "core/shard.h"
#include "fmt/format.h"
#include "net/socks5_codec.h"
#include "routing/parser.h"

namespace strait::core {
namespace {

// First allocation of the handshake buffer: a whole SOCKS5 handshake (1031 bytes at most) and a
// typical HTTP CONNECT head fit; HTTP heads grow it up to max_header_bytes.
constexpr size_t kInitialBufferBytes = 2048;

// After an error reply the client gets this long, and may send this much, before the close.
constexpr int64_t kLingerMs = 2000;
constexpr uint32_t kMaxLingerBytes = 64 * 1024;

// The connect has its own linked timeout; this is a backstop in case its completion never comes.
constexpr int64_t kConnectBackstopMs = 2000;

ErrorToken TokenForConnectError(int error) {
  switch (error) {
    case -ECONNREFUSED:
      return ErrorToken::kTargetRefused;
    case -ECANCELED:
    case -ETIMEDOUT:
      return ErrorToken::kTargetTimeout;
    case -EADDRNOTAVAIL:
    case -EMFILE:
    case -ENFILE:
    case -ENOBUFS:
    case -ENOMEM:
      return ErrorToken::kUnavailable;
    default:
      return ErrorToken::kTargetUnreachable;
  }
}

std::string Authority(std::string_view host, bool is_ipv6, uint16_t port) {
  return is_ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

net::SocketAddress AddressFromHost(const net::HostAddress& host, uint16_t port) {
  sockaddr_storage storage{};
  if (host.kind == net::HostKind::kIpv4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    std::memcpy(&v4->sin_addr, host.address, 4);
    return net::SocketAddress(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in));
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(port);
  std::memcpy(&v6->sin6_addr, host.address, 16);
  return net::SocketAddress(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in6));
}

// Sends what it can of `pending` without blocking. Returns 1 when all is sent, 0 when the rest
// waits for the socket to drain, or -errno.
int SendSome(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return 0;
      }
      return -errno;
    }
    pending.erase(0, static_cast<size_t>(n));
  }
  return 1;
}

}  // namespace

Tunnel::Tunnel(Shard& shard, uint64_t id, int client_fd, const ListenerConfig& listener)
    : shard_(shard), id_(id), listener_(listener), client_fd_(client_fd) {
  started_ms_ = shard_.now_ms_;
  deadline_ms_ = started_ms_ + shard_.shared_->config->handshake_ms;
}

Tunnel::~Tunnel() {
  STRAIT_DCHECK(in_flight_ == 0);
  CloseSockets();
}

void Tunnel::Start() {
  // Only the access log shows the client's address; without it the syscall is saved.
  if (AccessLog() != nullptr) {
    if (std::optional<net::SocketAddress> peer = net::PeerAddress(client_fd_)) {
      client_address_ = peer->ToString();
    }
  }
  ArmPoll(client_fd_, kClientPoll, POLLIN);
}

void Tunnel::OnCompletion(unsigned tag, int32_t res, uint32_t /*flags*/) {
  armed_tags_ &= static_cast<uint8_t>(~(1u << tag));
  --in_flight_;
  if (phase_ == Phase::kClosing) {
    MaybeRetire();
    return;
  }

  switch (tag) {
    case kClientPoll:
      if (phase_ == Phase::kHandshake) {
        OnClientReadable();
      } else if (phase_ == Phase::kReplying) {
        FlushPrefixes();
      } else if (phase_ == Phase::kErrorReply) {
        if (client_prefix_.empty()) {
          OnLingerReadable();
        } else {
          SendErrorReply();
        }
      }
      return;
    case kTargetPoll:
      if (phase_ == Phase::kReplying) {
        FlushPrefixes();
      }
      return;
    case kConnect:
      if (phase_ == Phase::kConnecting) {
        OnConnected(res);
      }
      return;
    case kConnectTimeout:
      // -ETIME: the timeout fired and the connect completes with -ECANCELED, handled there.
      return;
    default:
      STRAIT_BUG("tunnel completion with an unknown tag");
  }
}

// ---- Handshake ---------------------------------------------------------------------------------

bool Tunnel::EnsureBufferSpace() {
  if (!buffer_) {
    buffer_ = std::make_unique_for_overwrite<char[]>(kInitialBufferBytes);
    buffer_capacity_ = kInitialBufferBytes;
  }
  if (buffer_length_ < buffer_capacity_) {
    return true;
  }
  size_t limit = shard_.shared_->config->max_header_bytes;
  if (protocol_ != Protocol::kHttp || buffer_capacity_ >= limit) {
    return false;
  }
  size_t grown = std::min(buffer_capacity_ * 2, limit);
  auto bigger = std::make_unique_for_overwrite<char[]>(grown);
  std::memcpy(bigger.get(), buffer_.get(), buffer_length_);
  buffer_ = std::move(bigger);
  buffer_capacity_ = grown;
  return true;
}

void Tunnel::OnClientReadable() {
  if (!EnsureBufferSpace()) {
    Finish(ErrorToken::kBadRequest, "handshake larger than its buffer");
    return;
  }
  ssize_t n = recv(client_fd_, buffer_.get() + buffer_length_, buffer_capacity_ - buffer_length_,
                   MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      ArmPoll(client_fd_, kClientPoll, POLLIN);
      return;
    }
    Finish(ErrorToken::kBadRequest,
           fmt::format("client error during handshake: {}", std::strerror(errno)));
    return;
  }
  if (n == 0) {
    Finish(buffer_length_ == 0 ? ErrorToken::kNone : ErrorToken::kBadRequest,
           "client closed during the handshake");
    return;
  }
  buffer_length_ += static_cast<size_t>(n);

  if (protocol_ == Protocol::kUnknown) {
    // The first byte tells the protocols apart: SOCKS5 starts with its version, TLS with a
    // handshake record (22), HTTP with a method token.
    uint8_t first = static_cast<uint8_t>(buffer_[0]);
    if (first == net::kSocks5Version && listener_.socks5) {
      protocol_ = Protocol::kSocks5;
    } else if (first == 0x16) {
      Finish(ErrorToken::kBadRequest, "TLS to the proxy is not served on this listener");
      return;
    } else if (first == 0x04) {
      Finish(ErrorToken::kBadRequest, "SOCKS4 is not served; use SOCKS5");
      return;
    } else if (listener_.http && net::IsHttpTokenChar(static_cast<char>(first))) {
      protocol_ = Protocol::kHttp;
    } else {
      Finish(ErrorToken::kBadRequest, "first byte starts none of the protocols served here");
      return;
    }
  }

  if (protocol_ == Protocol::kHttp) {
    HandleHttp();
  } else {
    HandleSocks5();
  }
}

void Tunnel::HandleHttp() {
  const Config& config = *shard_.shared_->config;
  net::HttpRequestHead& head = shard_.http_head_;
  net::HttpParseResult parsed = net::ParseHttpRequestHead(
      std::string_view(buffer_.get(), buffer_length_), config.max_header_bytes, &head);
  if (parsed.status == net::HttpParseStatus::kIncomplete) {
    ArmPoll(client_fd_, kClientPoll, POLLIN);
    return;
  }
  if (parsed.status == net::HttpParseStatus::kError) {
    std::string details(net::HttpParseErrorText(parsed.error));
    if (parsed.error == net::HttpParseError::kHeadTooLarge) {
      details = fmt::format("request head exceeds {} bytes", config.max_header_bytes);
    }
    Refuse(ErrorToken::kBadRequest, details);
    return;
  }

  is_connect_ = head.is_connect;
  target_ = std::string(head.authority);
  if (!head.has_proxy_authorization) {
    Refuse(ErrorToken::kAuthRequired, "no Proxy-Authorization header");
    return;
  }
  std::string_view user;
  std::string_view password;
  if (!net::DecodeBasicCredentials(head.proxy_authorization, shard_.credentials_scratch_.get(),
                                   config.max_header_bytes, &user, &password)) {
    Refuse(ErrorToken::kAuthFailed, "Proxy-Authorization is not valid Basic credentials");
    return;
  }
  if (!Authenticate(user, password)) {
    return;
  }

  std::string_view early_data(buffer_.get() + parsed.head_length,
                              buffer_length_ - parsed.head_length);
  if (!is_connect_) {
    // Absolute-form carries exactly one request: the head rewritten to origin-form (without
    // the proxy's own and hop-by-hop headers) and a body of Content-Length bytes. Nothing the
    // client sends after that may reach this origin: a second request would go to the wrong
    // host with the proxy credentials in it.
    if (head.has_transfer_encoding) {
      Refuse(ErrorToken::kBadRequest,
             "a request body with Transfer-Encoding cannot be forwarded; send Content-Length "
             "or use CONNECT");
      return;
    }
    uint64_t body_bytes = head.content_length > 0 ? static_cast<uint64_t>(head.content_length) : 0;
    if (early_data.size() > body_bytes) {
      early_data = early_data.substr(0, body_bytes);
    }
    body_bytes_after_head_ = body_bytes - early_data.size();
    target_prefix_.resize(net::MaxForwardedHeadBytes(parsed.head_length));
    size_t length =
        net::WriteForwardedRequestHead(head, target_prefix_.data(), target_prefix_.size());
    target_prefix_.resize(length);
  }
  ProceedToTarget(head.host, head.host_address, head.port, early_data);
}

void Tunnel::HandleSocks5() {
  std::string_view bytes(buffer_.get() + socks5_consumed_, buffer_length_ - socks5_consumed_);
  for (;;) {
    size_t consumed = 0;
    if (socks5_stage_ == Socks5Stage::kGreeting) {
      if (!HandleSocks5Greeting(bytes, &consumed)) {
        return;
      }
    } else if (socks5_stage_ == Socks5Stage::kAuth) {
      if (!HandleSocks5Auth(bytes, &consumed)) {
        return;
      }
    } else {
      HandleSocks5Request(bytes);
      return;
    }
    socks5_consumed_ += consumed;
    bytes.remove_prefix(consumed);
  }
}

// Each stage returns true when it completed and the next stage may look at the rest of the
// bytes; false when it is waiting for more bytes or has ended the tunnel.
bool Tunnel::HandleSocks5Greeting(std::string_view bytes, size_t* consumed) {
  net::Socks5Greeting greeting;
  net::Socks5ParseResult result =
      net::ParseSocks5Greeting(bytes, /*allow_no_auth=*/false, &greeting);
  if (result.status == net::Socks5ParseStatus::kIncomplete) {
    ArmPoll(client_fd_, kClientPoll, POLLIN);
    return false;
  }
  if (result.status == net::Socks5ParseStatus::kError) {
    Refuse(ErrorToken::kBadRequest, net::Socks5ParseErrorText(result.error));
    return false;
  }

  // Two bytes on a fresh socket always fit its send buffer.
  char reply[2];
  net::WriteSocks5MethodSelection(greeting.method, reply, sizeof(reply));
  if (send(client_fd_, reply, sizeof(reply), MSG_NOSIGNAL | MSG_DONTWAIT) != 2) {
    Finish(ErrorToken::kBadRequest, "client gone during the SOCKS5 greeting");
    return false;
  }
  if (greeting.method == net::kSocks5MethodNoAcceptable) {
    Finish(ErrorToken::kAuthRequired, "SOCKS5 client offers no username/password method");
    return false;
  }
  socks5_stage_ = Socks5Stage::kAuth;
  *consumed = result.consumed;
  return true;
}

bool Tunnel::HandleSocks5Auth(std::string_view bytes, size_t* consumed) {
  net::Socks5Credentials credentials;
  net::Socks5ParseResult result = net::ParseSocks5Auth(bytes, &credentials);
  if (result.status == net::Socks5ParseStatus::kIncomplete) {
    ArmPoll(client_fd_, kClientPoll, POLLIN);
    return false;
  }
  if (result.status == net::Socks5ParseStatus::kError) {
    Refuse(ErrorToken::kBadRequest, net::Socks5ParseErrorText(result.error));
    return false;
  }
  if (!Authenticate(credentials.user, credentials.password)) {
    return false;
  }

  char reply[2];
  net::WriteSocks5AuthStatus(true, reply, sizeof(reply));
  if (send(client_fd_, reply, sizeof(reply), MSG_NOSIGNAL | MSG_DONTWAIT) != 2) {
    Finish(ErrorToken::kBadRequest, "client gone during SOCKS5 authentication");
    return false;
  }
  socks5_stage_ = Socks5Stage::kRequest;
  *consumed = result.consumed;
  return true;
}

void Tunnel::HandleSocks5Request(std::string_view bytes) {
  net::Socks5Request request;
  net::Socks5ParseResult result = net::ParseSocks5Request(bytes, &request);
  if (result.status == net::Socks5ParseStatus::kIncomplete) {
    ArmPoll(client_fd_, kClientPoll, POLLIN);
    return;
  }
  if (result.status == net::Socks5ParseStatus::kError) {
    // The codec knows the RFC 1928 answer (0x07 command, 0x08 address type) or that the peer
    // is not speaking SOCKS5 at all.
    std::optional<uint8_t> code;
    if (result.action == Socks5Action::kReply) {
      code = result.reply_code;
    }
    Refuse(ErrorToken::kBadRequest, net::Socks5ParseErrorText(result.error), code);
    return;
  }

  std::string_view host = request.domain;
  std::string host_text;
  if (request.address.kind != net::HostKind::kName && request.domain.empty()) {
    host_text = AddressFromHost(request.address, 0).IpString();
    host = host_text;
  }
  target_ = Authority(host, request.address.kind == net::HostKind::kIpv6, request.port);
  ProceedToTarget(host, request.address, request.port, bytes.substr(result.consumed));
}

bool Tunnel::Authenticate(std::string_view user, std::string_view password) {
  std::string_view account = user.substr(0, user.find('_'));
  // Kept only for the access log: without one, no string is built per tunnel.
  bool logging = AccessLog() != nullptr;
  if (logging) {
    account_ = std::string(account);
  }
  AuthResult auth = shard_.accounts_->Verify(account, password);
  if (auth != AuthResult::kOk) {
    // The same answer for an unknown account and a wrong password: the reply must not tell
    // which accounts exist.
    Refuse(ErrorToken::kAuthFailed, "wrong account or password");
    return false;
  }

  routing::RoutingError error = routing::ParseRoutingString(user, shard_.places(), &intent_);
  if (!error.ok()) {
    char message[routing::kMaxRoutingErrorMessageLength];
    size_t length = error.Describe(message, sizeof(message));
    Refuse(ErrorToken::kBadRouting, std::string_view(message, length));
    return false;
  }
  if (logging) {
    route_ = routing::FormatRoutingIntent(intent_);
  }
  return true;
}

void Tunnel::ProceedToTarget(std::string_view host, const net::HostAddress& address, uint16_t port,
                             std::string_view early_data) {
  const TargetPolicy& policy = *shard_.shared_->policy;
  target_port_ = port;
  if (over_limit_) {
    Refuse(ErrorToken::kLimitExceeded,
           fmt::format("too many tunnels (this proxy's limit is {})", shard_.shared_->max_tunnels));
    return;
  }
  if (!policy.PortAllowed(port)) {
    Refuse(ErrorToken::kPolicyDenied, fmt::format("port {} is not allowed", port));
    return;
  }
  if (address.kind != net::HostKind::kName) {
    net::SocketAddress literal = AddressFromHost(address, port);
    TargetVerdict verdict = policy.Check(literal);
    if (verdict != TargetVerdict::kAllowed) {
      Refuse(ErrorToken::kPolicyDenied, fmt::format("target {} is a {}", literal.IpString(),
                                                    TargetPolicy::VerdictText(verdict)));
      return;
    }
  }

  routing::SelectionResult selection = shard_.SelectExit(intent_, listener_.pool);
  intent_ = routing::RoutingIntent{};
  switch (selection.outcome) {
    case routing::SelectOutcome::kSelected:
      break;
    case routing::SelectOutcome::kNoExit:
      Refuse(ErrorToken::kNoExit, selection.reason());
      return;
    case routing::SelectOutcome::kSessionExitGone:
      Refuse(ErrorToken::kSessionExitGone, selection.reason());
      return;
    case routing::SelectOutcome::kExitBusy:
      Refuse(ErrorToken::kLimitExceeded, selection.reason());
      return;
  }
  if (selection.session_not_stored) {
    // Recording nothing would quietly make this sticky session rotating.
    Refuse(ErrorToken::kLimitExceeded,
           "the sticky-session table is full; no new session can be kept");
    return;
  }
  lease_ = std::move(selection.lease);
  exit_id_ = lease_->id();
  session_moved_ = selection.session_moved;
  if (session_moved_) {
    shard_.stats_.sessions_moved.fetch_add(1, std::memory_order_relaxed);
  }
  if (lease_->egress().kind != routing::EgressKind::kDirect) {
    // The configuration loader refuses such exits; this guards the embedding API.
    Refuse(ErrorToken::kUnavailable, fmt::format("exit {} needs upstream-proxy egress, which this "
                                                 "build does not support",
                                                 lease_->id()));
    return;
  }

  target_prefix_.append(early_data);
  deadline_ms_ = shard_.now_ms_ + shard_.shared_->config->connect_ms;
  if (address.kind == net::HostKind::kName) {
    phase_ = Phase::kResolving;
    shard_.Resolve(id_, std::string(host));
    return;
  }
  ConnectTo(AddressFromHost(address, port));
}

// ---- Target ------------------------------------------------------------------------------------

void Tunnel::OnResolved(const DnsEntry& entry) {
  if (phase_ != Phase::kResolving) {
    return;
  }
  if (entry.error != 0) {
    Refuse(ErrorToken::kDnsFailed, fmt::format("{}: {}", target_, ResolveErrorText(entry.error)));
    return;
  }

  const routing::Egress& egress = lease_->egress();
  int wanted_family = egress.source_len > 0 ? egress.source.ss_family : AF_UNSPEC;
  const net::SocketAddress* denied = nullptr;
  TargetVerdict denied_verdict = TargetVerdict::kAllowed;
  for (const net::SocketAddress& address : entry.addresses) {
    net::SocketAddress target = address;
    target.set_port(target_port_);
    // Judged on the address actually connected to, so a name cannot smuggle a private target.
    TargetVerdict verdict = shard_.shared_->policy->Check(target);
    if (verdict != TargetVerdict::kAllowed) {
      if (denied == nullptr) {
        denied = &address;
        denied_verdict = verdict;
      }
      continue;
    }
    if (wanted_family == AF_UNSPEC || address.family() == wanted_family) {
      ConnectTo(target);
      return;
    }
  }
  if (denied != nullptr) {
    Refuse(ErrorToken::kPolicyDenied,
           fmt::format("{} resolves to {}, a {}", target_, denied->IpString(),
                       TargetPolicy::VerdictText(denied_verdict)));
    return;
  }
  Refuse(ErrorToken::kTargetUnreachable,
         fmt::format("{} has no {} address for exit {}", target_,
                     wanted_family == AF_INET6 ? "IPv6" : "IPv4", lease_->id()));
}

void Tunnel::ConnectTo(const net::SocketAddress& target) {
  phase_ = Phase::kConnecting;
  deadline_ms_ = shard_.now_ms_ + shard_.shared_->config->connect_ms + kConnectBackstopMs;

  const routing::Egress& egress = lease_->egress();
  if (egress.source_len > 0 && egress.source.ss_family != target.family()) {
    Refuse(ErrorToken::kTargetUnreachable,
           fmt::format("exit {} has no {} source for {}", lease_->id(),
                       target.family() == AF_INET6 ? "IPv6" : "IPv4", target_));
    return;
  }

  int fd = socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Refuse(ErrorToken::kUnavailable,
           fmt::format("no socket for the target: {}", std::strerror(errno)));
    return;
  }
  target_fd_ = fd;
  if (egress.source_len > 0) {
    // The kernel picks the port at connect time, per destination, instead of reserving one
    // per source address at bind time; without this an exit runs out of ports at ~28k tunnels.
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&egress.source), egress.source_len) != 0) {
      int error = errno;
      Refuse(ErrorToken::kUnavailable,
             fmt::format("exit {} source {} cannot be used: {}", lease_->id(),
                         net::SocketAddress(reinterpret_cast<const sockaddr*>(&egress.source),
                                            egress.source_len)
                             .IpString(),
                         std::strerror(error)));
      return;
    }
  }

  net::Ring& ring = shard_.ring_;
  io_uring_sqe* connect_sqe = ring.NextSqe();
  io_uring_prep_connect(connect_sqe, fd, target.get(), target.length());
  connect_sqe->flags |= IOSQE_IO_LINK;
  net::Ring::SetHandler(connect_sqe, this, kConnect);
  io_uring_sqe* timeout_sqe = ring.NextSqe();
  io_uring_prep_link_timeout(timeout_sqe, &shard_.connect_timeout_, 0);
  net::Ring::SetHandler(timeout_sqe, this, kConnectTimeout);
  // The address must stay valid until the kernel has read it; submitting now guarantees that.
  ring.Submit();
  armed_tags_ |= (1u << kConnect) | (1u << kConnectTimeout);
  in_flight_ += 2;
}

void Tunnel::OnConnected(int32_t res) {
  if (res < 0) {
    ErrorToken token = TokenForConnectError(res);
    std::string_view reason = res == -ECANCELED ? "connect timed out" : std::strerror(-res);
    if (token == ErrorToken::kUnavailable && res == -EADDRNOTAVAIL) {
      reason = "exit source address not available";
    }
    Refuse(token, fmt::format("{} via exit {}: {}", target_, lease_->id(), reason));
    return;
  }
  net::SetNoDelay(target_fd_);
  StartReplying();
}

// ---- Replies and relay -------------------------------------------------------------------------

void Tunnel::StartReplying() {
  const Config& config = *shard_.shared_->config;
  phase_ = Phase::kReplying;
  deadline_ms_ = shard_.now_ms_ + config.handshake_ms;
  shard_.stats_.established.fetch_add(1, std::memory_order_relaxed);

  if (protocol_ == Protocol::kSocks5) {
    // RFC 1928 asks for the address the proxy bound towards the target.
    std::optional<net::SocketAddress> bound = net::LocalAddress(target_fd_);
    client_prefix_.resize(net::kMaxSocks5ReplyBytes);
    client_prefix_.resize(net::WriteSocks5Reply(net::kSocks5ReplySucceeded,
                                                bound ? bound->get() : nullptr,
                                                client_prefix_.data(), client_prefix_.size()));
  } else if (is_connect_) {
    const std::string& exit_id = lease_->id();
    client_prefix_.resize(net::MaxConnectEstablishedBytes(exit_id.size()));
    client_prefix_.resize(
        net::WriteHttpConnectEstablished(exit_id, session_moved_, config.proxy_status,
                                         client_prefix_.data(), client_prefix_.size()));
  }
  FlushPrefixes();
}

void Tunnel::FlushPrefixes() {
  struct Leg {
    int fd;
    std::string* pending;
    unsigned tag;
    bool client;
  };
  for (const Leg& leg : {Leg{client_fd_, &client_prefix_, kClientPoll, true},
                         Leg{target_fd_, &target_prefix_, kTargetPoll, false}}) {
    if (leg.pending->empty() || (armed_tags_ & (1u << leg.tag)) != 0) {
      continue;
    }
    size_t before = leg.pending->size();
    int sent = SendSome(leg.fd, *leg.pending);
    if (!leg.client) {
      prefix_bytes_up_ += before - leg.pending->size();
    }
    if (sent < 0) {
      Finish(ErrorToken::kNone,
             fmt::format("{} gone before the relay started: {}", leg.client ? "client" : "target",
                         std::strerror(-sent)));
      return;
    }
    if (sent == 0) {
      ArmPoll(leg.fd, leg.tag, POLLOUT);
    }
  }
  // The connect's linked timeout may still be on its way back; only the two polls matter here.
  uint8_t poll_tags = (1u << kClientPoll) | (1u << kTargetPoll);
  if (client_prefix_.empty() && target_prefix_.empty() && (armed_tags_ & poll_tags) == 0) {
    StartRelay();
  }
}

void Tunnel::StartRelay() {
  const Config& config = *shard_.shared_->config;
  phase_ = Phase::kRelaying;
  // The handshake's memory is not needed any more: an idle tunnel keeps only what it must.
  buffer_.reset();
  buffer_capacity_ = 0;
  std::string().swap(client_prefix_);
  std::string().swap(target_prefix_);

  net::RelayEnvironment env{&shard_.ring_,    &shard_.pipes_,      &shard_.now_ms_,
                            config.pipe_size, shard_.copy_buffer_, sizeof(shard_.copy_buffer_)};
  relay_ = net::Relay::Create(config.relay, env, client_fd_, target_fd_, this);
  if (!is_connect_ && protocol_ == Protocol::kHttp) {
    relay_->LimitClientToTarget(body_bytes_after_head_);
  }
  relay_->Start();
}

void Tunnel::OnRelayFinished(const net::RelayOutcome& outcome) {
  relay_finished_ = true;
  std::string_view how = "closed";
  if (outcome.aborted) {
    how = idle_timed_out_ ? "idle timeout" : "aborted";
  } else if (outcome.failed_side == net::RelaySide::kClient) {
    how = "client error";
  } else if (outcome.failed_side == net::RelaySide::kTarget) {
    how = "target error";
  } else if (outcome.failed_side == net::RelaySide::kInternal) {
    how = "relay error";
  }
  Finish(ErrorToken::kNone, outcome.error == 0
                                ? std::string(how)
                                : fmt::format("{}: {}", how, std::strerror(-outcome.error)));
}

// ---- Errors and the end ------------------------------------------------------------------------

void Tunnel::Refuse(ErrorToken token, std::string_view details,
                    std::optional<uint8_t> socks5_code) {
  lease_.Release();
  net::CloseFd(target_fd_);
  error_token_ = token;
  error_details_ = std::string(details);

  client_prefix_.clear();
  if (protocol_ == Protocol::kHttp) {
    client_prefix_.resize(net::kMaxHttpErrorReplyBytes);
    client_prefix_.resize(net::WriteHttpErrorReply(token, details,
                                                   shard_.shared_->config->proxy_status,
                                                   client_prefix_.data(), client_prefix_.size()));
  } else if (protocol_ == Protocol::kSocks5) {
    Socks5Answer answer = Socks5Reply(token);
    if (socks5_code.has_value()) {
      answer = Socks5Answer{Socks5Action::kReply, *socks5_code, *socks5_code};
    }
    if (answer.action == Socks5Action::kAuthFailure) {
      client_prefix_.resize(2);
      net::WriteSocks5AuthStatus(false, client_prefix_.data(), client_prefix_.size());
    } else if (answer.action == Socks5Action::kReply) {
      client_prefix_.resize(net::kMaxSocks5ReplyBytes);
      client_prefix_.resize(net::WriteSocks5Reply(answer.code, nullptr, client_prefix_.data(),
                                                  client_prefix_.size()));
    }
  }

  phase_ = Phase::kErrorReply;
  deadline_ms_ = shard_.now_ms_ + kLingerMs;
  SendErrorReply();
}

void Tunnel::SendErrorReply() {
  int sent = SendSome(client_fd_, client_prefix_);
  if (sent == 0) {
    ArmPoll(client_fd_, kClientPoll, POLLOUT);
    return;
  }
  if (sent < 0) {
    Finish(error_token_, error_details_);
    return;
  }
  // Closing with unread bytes in the receive queue would send a reset that can destroy the
  // reply in flight, so read and discard until the client closes or the linger ends.
  shutdown(client_fd_, SHUT_WR);
  OnLingerReadable();
}

void Tunnel::OnLingerReadable() {
  char discard[4096];
  for (;;) {
    ssize_t n = recv(client_fd_, discard, sizeof(discard), MSG_DONTWAIT);
    if (n > 0) {
      linger_bytes_ += static_cast<uint32_t>(n);
      if (linger_bytes_ > kMaxLingerBytes) {
        break;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      ArmPoll(client_fd_, kClientPoll, POLLIN);
      return;
    }
    break;
  }
  Finish(error_token_, error_details_);
}

void Tunnel::CheckDeadline(int64_t now_ms) {
  switch (phase_) {
    case Phase::kHandshake:
      if (now_ms >= deadline_ms_) {
        Finish(buffer_length_ == 0 ? ErrorToken::kNone : ErrorToken::kBadRequest,
               "handshake timed out");
      }
      return;
    case Phase::kResolving:
      if (now_ms >= deadline_ms_) {
        Refuse(ErrorToken::kDnsFailed, fmt::format("{}: resolution timed out", target_));
      }
      return;
    case Phase::kConnecting:
      if (now_ms >= deadline_ms_) {
        Refuse(ErrorToken::kTargetTimeout, fmt::format("{}: connect timed out", target_));
      }
      return;
    case Phase::kReplying:
      if (now_ms >= deadline_ms_) {
        Finish(ErrorToken::kNone, "peer did not read the reply in time");
      }
      return;
    case Phase::kRelaying:
      if (!relay_finished_ &&
          now_ms - relay_->last_activity_ms() >= shard_.shared_->config->idle_ms) {
        idle_timed_out_ = true;
        relay_->Abort(/*reset_peers=*/false);
      }
      return;
    case Phase::kErrorReply:
      if (now_ms >= deadline_ms_) {
        Finish(error_token_, error_details_);
      }
      return;
    case Phase::kClosing:
      return;
  }
}

void Tunnel::Abort() {
  if (phase_ == Phase::kRelaying && !relay_finished_) {
    relay_->Abort(/*reset_peers=*/true);
    return;
  }
  if (phase_ != Phase::kClosing) {
    Finish(phase_ == Phase::kErrorReply ? error_token_ : ErrorToken::kUnavailable,
           "proxy shutting down");
  }
}

void Tunnel::Finish(ErrorToken token, std::string_view details) {
  if (phase_ == Phase::kClosing) {
    return;
  }
  bool null_connection = protocol_ == Protocol::kUnknown && buffer_length_ == 0;
  phase_ = Phase::kClosing;

  ShardStats& stats = shard_.stats_;
  stats.finished.fetch_add(1, std::memory_order_relaxed);
  stats.active.fetch_sub(1, std::memory_order_relaxed);
  shard_.shared_->tunnels.fetch_sub(1, std::memory_order_relaxed);
  if (token != ErrorToken::kNone) {
    stats.errors[static_cast<size_t>(token)].fetch_add(1, std::memory_order_relaxed);
  }
  stats.bytes_client_to_target.fetch_add(prefix_bytes_up_, std::memory_order_relaxed);
  if (relay_) {
    stats.bytes_client_to_target.fetch_add(relay_->client_to_target_bytes(),
                                           std::memory_order_relaxed);
    stats.bytes_target_to_client.fetch_add(relay_->target_to_client_bytes(),
                                           std::memory_order_relaxed);
  }
  if (!null_connection) {
    WriteAccessLog(token, details);
  }

  for (unsigned tag : {kClientPoll, kTargetPoll, kConnect}) {
    if ((armed_tags_ & (1u << tag)) != 0) {
      CancelOperation(tag);
    }
  }
  if (relay_ && !relay_finished_) {
    relay_->Abort(/*reset_peers=*/true);
  }
  MaybeRetire();
}

void Tunnel::MaybeRetire() {
  if (retired_ || phase_ != Phase::kClosing || in_flight_ > 0 || (relay_ && !relay_finished_)) {
    return;
  }
  retired_ = true;
  lease_.Release();
  CloseSockets();
  shard_.Retire(this);
}

void Tunnel::CloseSockets() {
  net::CloseFd(client_fd_);
  net::CloseFd(target_fd_);
}

void Tunnel::ArmPoll(int fd, unsigned tag, uint32_t events) {
  io_uring_sqe* sqe = shard_.ring_.NextSqe();
  io_uring_prep_poll_add(sqe, fd, events);
  net::Ring::SetHandler(sqe, this, tag);
  armed_tags_ |= static_cast<uint8_t>(1u << tag);
  ++in_flight_;
}

void Tunnel::CancelOperation(unsigned tag) {
  uint64_t user_data = reinterpret_cast<uint64_t>(static_cast<net::CompletionHandler*>(this)) | tag;
  io_uring_sqe* sqe = shard_.ring_.NextSqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  net::Ring::SetNoHandler(sqe);
}

void Tunnel::WriteAccessLog(ErrorToken token, std::string_view details) {
  spdlog::logger* log = AccessLog();
  if (log == nullptr) {
    return;
  }
  std::string_view protocol = protocol_ == Protocol::kSocks5 ? "socks5"
                              : protocol_ == Protocol::kHttp ? (is_connect_ ? "connect" : "http")
                                                             : "unknown";
  // Early data and a forwarded request head are client bytes the target received too.
  uint64_t up = (relay_ ? relay_->client_to_target_bytes() : 0) + prefix_bytes_up_;
  uint64_t down = relay_ ? relay_->target_to_client_bytes() : 0;
  log->info(
      "[s{} t{}] client={} proto={} account={} route={} exit={} target={} result={} side={} "
      "up={} down={} ms={} moved={} details=\"{}\"",
      shard_.index_, id_, client_address_, protocol, account_.empty() ? "-" : LogToken(account_),
      route_.empty() ? "-" : LogToken(route_), exit_id_.empty() ? "-" : LogToken(exit_id_),
      target_.empty() ? "-" : LogToken(target_), ReasonToken(token),
      TunnelSideName(FailedSide(token)), up, down, shard_.now_ms_ - started_ms_,
      session_moved_ ? 1 : 0, LogQuoted(details));
}

}  // namespace strait::core
