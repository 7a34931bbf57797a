#include "actors.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "firmware/server_identity.hpp"
#include "firmware/tls_session.hpp"
#include "protocol/base64.hpp"
#include "protocol/output_buffer.hpp"
#include "protocol/smtp_server.hpp"

namespace pigeon::sim {
namespace {

constexpr std::uint64_t client_timeout_ms = 300'000;  // RFC 5321 §4.5.3.2's five minutes
constexpr std::uint64_t retry_ms = 60'000;

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

int reply_code(std::string_view reply) {
  int code = 0;
  if (reply.size() < 3 || std::from_chars(reply.data(), reply.data() + 3, code).ec != std::errc{}) return 0;
  return code;
}

std::optional<std::uint64_t> number_after(std::string_view text, std::string_view label) {
  const std::size_t at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + label.size();
  std::uint64_t value = 0;
  if (std::from_chars(begin, text.data() + text.size(), value).ec != std::errc{}) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::uint64_t> message_number(std::string_view text) {
  if (auto number = number_after(text, "X-Sim-Id: ")) return number;
  return number_after(text, "sim-id ");
}

bool is_bounce(std::string_view text) { return text.find("report-type=delivery-status") != std::string_view::npos; }

std::optional<ClientTls> client_tls_from_name(std::string_view name) {
  if (name == "none") return ClientTls::none;
  if (name == "starttls") return ClientTls::starttls;
  if (name == "implicit") return ClientTls::implicit;
  return std::nullopt;
}

ClientTlsContext::ClientTlsContext(std::uint64_t seed, const std::string& ca_pem, const std::string& peer_name)
    : entropy_(seed), random_(entropy_) {
  ready_ = random_.ready() && client_.load_ca_pem(ca_pem.c_str()) && client_.set_peer(peer_name, nullptr);
}

namespace {

std::unique_ptr<ClientTlsContext> make_client_tls(const ClientTlsSettings& settings, hal::SimRandom& random) {
  if (settings.mode == ClientTls::none) return nullptr;
  return std::make_unique<ClientTlsContext>(random.next(), settings.relay_ca_pem, settings.relay_name);
}

SmarthostTlsClient::Counters counters_of(const std::unique_ptr<ClientTlsContext>& tls) {
  return tls != nullptr ? tls->counters() : SmarthostTlsClient::Counters{};
}

}  // namespace

// ---- Conversation ----

void Conversation::open(hal::SimNet& net, const hal::Endpoint& remote) {
  input_.clear();
  output_.clear();
  tls_failed_ = false;
  if (net.connect(remote, stream_) != hal::NetStatus::ok) stream_ = hal::invalid_id;
}

bool Conversation::start_tls(hal::SimNet& net, SmarthostTlsClient& tls) {
  input_.clear();  // RFC 3207 §4.2: nothing read before the handshake counts
  tls_ = tls.acquire(net, stream_);
  if (tls_ == nullptr) return false;
  tls_client_ = &tls;
  handshaking_ = true;
  return true;
}

bool Conversation::handshake() {
  const TlsStep step = tls_->handshake();
  if (step == TlsStep::failed) {
    tls_failed_ = true;
    tls_failure_ = tls_->failure_reason();
    return false;
  }
  handshaking_ = step != TlsStep::done;
  return true;
}

hal::IoResult Conversation::send_bytes(hal::SimNet& net, std::string_view bytes) {
  return tls_ != nullptr ? tls_->write(bytes_of(bytes)) : net.send(stream_, bytes_of(bytes));
}

hal::IoResult Conversation::receive_bytes(hal::SimNet& net, std::span<std::uint8_t> out) {
  return tls_ != nullptr ? tls_->read(out) : net.receive(stream_, out);
}

bool Conversation::pump(hal::SimNet& net) {
  if (!active()) return false;
  if (!net.connected(stream_)) {
    std::uint8_t probe[1];
    const hal::IoResult result = net.receive(stream_, probe);
    return result.status == hal::NetStatus::would_block;
  }
  if (handshaking_ && !handshake()) return false;
  if (handshaking_) return true;
  while (!output_.empty()) {
    const hal::IoResult sent = send_bytes(net, output_);
    if (sent.status != hal::NetStatus::ok) {
      if (sent.status != hal::NetStatus::would_block) return false;
      break;
    }
    output_.erase(0, sent.bytes);
  }
  std::array<std::uint8_t, 4096> buffer;
  for (;;) {
    const hal::IoResult got = receive_bytes(net, buffer);
    if (got.status == hal::NetStatus::would_block) return true;
    if (got.status != hal::NetStatus::ok) return false;
    input_.append(reinterpret_cast<const char*>(buffer.data()), got.bytes);
  }
}

void Conversation::close(hal::SimNet& net) {
  if (tls_ != nullptr) {
    if (!handshaking_) tls_->close_notify();
    tls_client_->release(tls_);
    tls_ = nullptr;
    handshaking_ = false;
  }
  if (active()) net.close(stream_);
  stream_ = hal::invalid_id;
}

std::optional<std::string> Conversation::smtp_reply() {
  for (std::size_t start = 0; start < input_.size();) {
    const std::size_t end = input_.find("\r\n", start);
    if (end == std::string::npos) return std::nullopt;
    const bool continued = end - start > 3 && input_[start + 3] == '-';
    if (!continued) {
      std::string reply = input_.substr(0, end + 2);
      input_.erase(0, end + 2);
      return reply;
    }
    start = end + 2;
  }
  return std::nullopt;
}

std::optional<std::string> Conversation::line(bool lf_only) {
  const std::size_t end = input_.find(lf_only ? "\n" : "\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string text = input_.substr(0, end);
  input_.erase(0, end + (lf_only ? 1 : 2));
  return text;
}

std::optional<std::string> Conversation::multiline() {
  if (input_.starts_with("-ERR")) return line();
  const std::size_t end = input_.find("\r\n.\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string text = input_.substr(0, end + 2);
  input_.erase(0, end + 5);
  return text;
}

namespace {

// A handshake that failed is counted and logged with Mbed TLS's reason.
void note_tls_failure(const Conversation& conversation, std::uint64_t& failures, hal::SimLog& log) {
  if (!conversation.tls_failed()) return;
  ++failures;
  log.write(hal::LogLevel::warning, "TLS handshake failed: %s", conversation.tls_failure());
}

}  // namespace

// ---- Device ----

Device::Device(hal::SimNetwork& network, hal::SimHostId host, const DeviceSettings& settings, Ledger& ledger,
               hal::SimRandom random, hal::SimLogSink& log_sink)
    : net_(network, host), settings_(settings), ledger_(ledger),
      log_(network.time(), settings_.name, hal::LogLevel::info, log_sink), random_(random),
      tls_(make_client_tls(settings_.tls, random_)) {
  next_send_ms_ = random_.below(settings_.interval_ms + 1);
}

SmarthostTlsClient::Counters Device::tls_counters() const { return counters_of(tls_); }

std::string Device::body() const {
  std::string text = "From: <" + settings_.from + ">\r\nTo: <" + settings_.to + ">\r\nSubject: reading from " +
                     settings_.name + "\r\nX-Sim-Id: " + std::to_string(*message_) + "\r\n\r\n";
  // Lines that start with a dot, to be stuffed, and plain ones up to the size.
  for (std::size_t line = 0; text.size() < settings_.body_bytes; ++line) {
    text += line % 7 == 3 ? ".dotted line " : "value ";
    text += std::to_string(line * 37 % 1000) + "\r\n";
  }
  return text;
}

void Device::start(std::uint64_t now_ms) {
  if (!message_) message_ = ledger_.submit(false, now_ms);
  conversation_.open(net_, settings_.relay);
  step_ = Step::greeting;
  authenticated_ = false;
  deadline_ms_ = now_ms + client_timeout_ms;
  if (settings_.tls.mode == ClientTls::implicit && !conversation_.start_tls(net_, tls_->client())) give_up(now_ms);
}

// After EHLO: STARTTLS first when the device wants it, then AUTH, then the mail.
void Device::after_ehlo(std::uint64_t now_ms) {
  if (tls_ != nullptr && !conversation_.tls_started()) {
    conversation_.send("STARTTLS\r\n");
    step_ = Step::starttls;
  } else if (!settings_.user.empty() && !authenticated_) {
    std::string credentials = '\0' + settings_.user + '\0' + settings_.password;
    std::array<char, 512> encoded{};
    const auto length = protocol::base64::encode(bytes_of(credentials), encoded);
    if (!length) return give_up(now_ms);
    conversation_.send("AUTH PLAIN " + std::string(encoded.data(), *length) + "\r\n");
    step_ = Step::auth;
  } else {
    conversation_.send("MAIL FROM:<" + settings_.from + ">\r\n");
    step_ = Step::mail;
  }
}

// The connection failed before the final dot: the same message again later.
void Device::give_up(std::uint64_t now_ms) {
  if (step_ == Step::dot) {
    log_.write(hal::LogLevel::warning, "message %llu: no reply to the final dot",
               static_cast<unsigned long long>(*message_));
    ledger_.answer(*message_, Answer::unknown, now_ms);
    message_.reset();
  } else if (step_ != Step::quit) {
    ++retries_;
  }
  conversation_.close(net_);
  step_ = Step::idle;
  if (message_) next_send_ms_ = now_ms + retry_ms;
}

void Device::finish(std::uint64_t now_ms) {
  conversation_.send("QUIT\r\n");
  step_ = Step::quit;
  deadline_ms_ = now_ms + client_timeout_ms;
}

void Device::advance(const std::string& reply, std::uint64_t now_ms) {
  const int code = reply_code(reply);
  deadline_ms_ = now_ms + client_timeout_ms;
  switch (step_) {
    case Step::greeting:
      if (code != 220) return give_up(now_ms);
      conversation_.send("EHLO " + settings_.name + ".sim\r\n");
      step_ = Step::ehlo;
      return;
    case Step::ehlo:
      if (code != 250) return give_up(now_ms);
      return after_ehlo(now_ms);
    case Step::starttls:
      if (code != 220 || !conversation_.start_tls(net_, tls_->client())) return give_up(now_ms);
      conversation_.send("EHLO " + settings_.name + ".sim\r\n");  // RFC 3207 §4.2: again, over TLS
      step_ = Step::ehlo;
      return;
    case Step::auth:
      if (code != 235) return give_up(now_ms);
      authenticated_ = true;
      return after_ehlo(now_ms);
    case Step::mail:
      if (code != 250) return give_up(now_ms);
      conversation_.send("RCPT TO:<" + settings_.to + ">\r\n");
      step_ = Step::rcpt;
      return;
    case Step::rcpt:
      if (code != 250) return give_up(now_ms);
      conversation_.send("DATA\r\n");
      step_ = Step::data;
      return;
    case Step::data: {
      if (code != 354) return give_up(now_ms);
      std::string text = body();
      std::string stuffed;
      for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = text.find("\r\n", start) + 2;
        if (text[start] == '.') stuffed += '.';
        stuffed.append(text, start, end - start);
        start = end;
      }
      conversation_.send(stuffed + ".\r\n");
      step_ = Step::dot;
      return;
    }
    case Step::dot:
      log_.write(code == 250 ? hal::LogLevel::info : hal::LogLevel::warning, "message %llu: %.*s",
                 static_cast<unsigned long long>(*message_), static_cast<int>(reply.size() - 2), reply.data());
      ledger_.answer(*message_, code == 250 ? Answer::acknowledged : Answer::refused, now_ms);
      message_.reset();
      next_send_ms_ = now_ms + random_.between(settings_.interval_ms / 2, settings_.interval_ms * 3 / 2);
      return finish(now_ms);
    case Step::quit:
      conversation_.close(net_);
      step_ = Step::idle;
      return;
    case Step::idle: return;
  }
}

void Device::run(std::uint64_t now_ms) {
  if (step_ == Step::idle) {
    const bool more = message_ || now_ms < settings_.until_ms;
    if (more && now_ms >= next_send_ms_) start(now_ms);
  }
  if (step_ != Step::idle) {
    // What arrived counts even when the connection ended right after it (the
    // last reply and the close, or TLS's close_notify, in one flight).
    bool open = conversation_.pump(net_);
    while (step_ != Step::idle) {
      const auto reply = conversation_.smtp_reply();
      if (!reply) break;
      advance(*reply, now_ms);
    }
    if (step_ != Step::idle && open) open = conversation_.pump(net_);
    if (step_ != Step::idle && (!open || now_ms >= deadline_ms_)) {
      note_tls_failure(conversation_, tls_failures_, log_);
      give_up(now_ms);
    }
  }
  const bool waiting = step_ == Step::idle && !message_ && now_ms >= settings_.until_ms;
  net_.set_wake_at_ms(step_ != Step::idle ? deadline_ms_ : waiting ? hal::SimNetwork::never : next_send_ms_);
}

// ---- Reader ----

Reader::Reader(hal::SimNetwork& network, hal::SimHostId host, const ReaderSettings& settings, Ledger& ledger,
               hal::SimRandom random, hal::SimLogSink& log_sink)
    : net_(network, host), settings_(settings), ledger_(ledger),
      log_(network.time(), settings_.name, hal::LogLevel::info, log_sink), random_(random),
      tls_(make_client_tls(settings_.tls, random_)) {
  next_session_ms_ = random_.below(settings_.interval_ms + 1);
}

SmarthostTlsClient::Counters Reader::tls_counters() const { return counters_of(tls_); }

void Reader::send_user() {
  conversation_.send("USER " + settings_.user + "\r\n");
  step_ = Step::user;
}

// The session ended without +OK to QUIT: nothing it deleted counts.
void Reader::end_session(std::uint64_t now_ms) {
  conversation_.close(net_);
  deleted_.clear();
  step_ = Step::idle;
  next_session_ms_ = now_ms + random_.between(settings_.interval_ms / 2, settings_.interval_ms * 3 / 2);
}

void Reader::advance(std::uint64_t now_ms) {
  for (;;) {
    std::optional<std::string> answer = step_ == Step::retr ? conversation_.multiline() : conversation_.line();
    if (!answer) return;
    deadline_ms_ = now_ms + client_timeout_ms;
    const bool ok = answer->starts_with("+OK");
    switch (step_) {
      case Step::greeting:
        if (!ok) return end_session(now_ms);
        if (settings_.tls.mode == ClientTls::starttls) {
          conversation_.send("STLS\r\n");
          step_ = Step::stls;
        } else {
          send_user();
        }
        break;
      case Step::stls:  // RFC 2595 §4: the greeting is not repeated over TLS
        if (!ok || !conversation_.start_tls(net_, tls_->client())) return end_session(now_ms);
        send_user();
        break;
      case Step::user:
        if (!ok) return end_session(now_ms);
        conversation_.send("PASS " + settings_.password + "\r\n");
        step_ = Step::pass;
        break;
      case Step::pass:
        if (!ok) return end_session(now_ms);
        conversation_.send("STAT\r\n");
        step_ = Step::list;
        break;
      case Step::list: {
        if (!ok) return end_session(now_ms);
        std::uint64_t count = 0;
        std::from_chars(answer->data() + 4, answer->data() + answer->size(), count);
        message_count_ = count;
        current_ = 1;
        if (message_count_ == 0) {
          conversation_.send("QUIT\r\n");
          step_ = Step::quit;
        } else {
          conversation_.send("RETR 1\r\n");
          step_ = Step::retr;
        }
        break;
      }
      case Step::retr: {
        if (!ok) return end_session(now_ms);
        current_id_ = message_number(*answer);
        if (current_id_) {
          ledger_.seen_in_mailbox(*current_id_);
          ledger_.came_out(*current_id_, is_bounce(*answer) ? Outlet::bounce : Outlet::mailbox, now_ms);
        }
        conversation_.send("DELE " + std::to_string(current_) + "\r\n");
        step_ = Step::dele;
        break;
      }
      case Step::dele:
        if (!ok) return end_session(now_ms);
        if (current_id_) deleted_.push_back(*current_id_);
        if (++current_ <= message_count_) {
          conversation_.send("RETR " + std::to_string(current_) + "\r\n");
          step_ = Step::retr;
        } else {
          conversation_.send("QUIT\r\n");
          step_ = Step::quit;
        }
        break;
      case Step::quit:
        if (ok) {
          for (std::uint64_t id : deleted_) ledger_.deletion_committed(id);
          ++sessions_committed_;
          log_.write(hal::LogLevel::info, "POP3 session committed: %zu deleted", deleted_.size());
        }
        return end_session(now_ms);
      case Step::idle: return;
    }
  }
}

void Reader::run(std::uint64_t now_ms) {
  if (step_ == Step::idle && now_ms >= next_session_ms_) {
    conversation_.open(net_, settings_.relay);
    step_ = Step::greeting;
    deadline_ms_ = now_ms + client_timeout_ms;
    if (settings_.tls.mode == ClientTls::implicit && !conversation_.start_tls(net_, tls_->client())) {
      end_session(now_ms);
    }
  }
  if (step_ != Step::idle) {
    // As for a device: what arrived before the connection ended counts (the
    // +OK to QUIT and the close in one flight commit the deletions).
    bool open = conversation_.pump(net_);
    advance(now_ms);
    if (step_ != Step::idle && open) open = conversation_.pump(net_);
    if (step_ != Step::idle && (!open || now_ms >= deadline_ms_)) {
      note_tls_failure(conversation_, tls_failures_, log_);
      end_session(now_ms);
    }
  }
  net_.set_wake_at_ms(step_ != Step::idle ? deadline_ms_ : next_session_ms_);
}

// ---- Alert sources ----

void AlertCounts::count(AlertStatus status) {
  if (status == AlertStatus::sent) ++sent;
  else if (status == AlertStatus::coalesced || status == AlertStatus::rate_limited) ++coalesced;
  else ++refused;
}

std::string alert_body(std::uint64_t id, std::string_view key) {
  return "sim-id " + std::to_string(id) + " from " + std::string(key);
}

AlertClient::AlertClient(hal::SimNetwork& network, hal::SimHostId host, const AlertClientSettings& settings,
                         Ledger& ledger, hal::SimLogSink& log_sink)
    : net_(network, host), settings_(settings), ledger_(ledger),
      log_(network.time(), settings_.name, hal::LogLevel::info, log_sink), next_ms_(settings.from_ms) {}

void AlertClient::start(std::uint64_t now_ms) {
  const std::string key = settings_.name + "-" + std::to_string(raised_++ % settings_.keys);
  alert_ = ledger_.submit(true, now_ms);
  conversation_.open(net_, settings_.relay);
  conversation_.send(key + "\t" + settings_.to + "\tsim alert " + key + "\t" + alert_body(*alert_, key) + "\n");
  deadline_ms_ = now_ms + client_timeout_ms;
}

// Only a sent alert is a promise; the others, and one whose answer never
// came, may still come out in their key's summary.
void AlertClient::finish(std::optional<AlertStatus> status, std::uint64_t now_ms) {
  conversation_.close(net_);
  if (status) counts_.count(*status);
  else ++counts_.unanswered;
  if (!status) log_.write(hal::LogLevel::warning, "alert %llu: no answer", static_cast<unsigned long long>(*alert_));
  ledger_.answer(*alert_, status == AlertStatus::sent ? Answer::acknowledged : Answer::unknown, now_ms);
  alert_.reset();
  next_ms_ += settings_.interval_ms;
}

void AlertClient::run(std::uint64_t now_ms) {
  if (!alert_ && now_ms >= next_ms_ && next_ms_ < settings_.until_ms) start(now_ms);
  if (alert_) {
    const bool open = conversation_.pump(net_);
    if (const auto answer = conversation_.line(true)) {
      int number = 0;
      const bool parsed = std::from_chars(answer->data(), answer->data() + answer->size(), number).ec == std::errc{};
      finish(parsed ? std::optional(static_cast<AlertStatus>(number)) : std::nullopt, now_ms);
    } else if (!open || now_ms >= deadline_ms_) {
      finish(std::nullopt, now_ms);
    }
  }
  const bool more = next_ms_ < settings_.until_ms;
  net_.set_wake_at_ms(alert_ ? deadline_ms_ : more ? std::max(next_ms_, now_ms) : hal::SimNetwork::never);
}

// ---- Smarthost ----

const char* mode_name(SmarthostMode mode) {
  switch (mode) {
    case SmarthostMode::accept: return "accept";
    case SmarthostMode::greylist: return "greylist";
    case SmarthostMode::refuse: return "refuse";
    case SmarthostMode::hang: return "hang";
    case SmarthostMode::drop: return "drop";
    case SmarthostMode::lose_reply: return "lose_reply";
    case SmarthostMode::bad_cert: return "bad_cert";
  }
  return "?";
}

std::optional<SmarthostMode> mode_from_name(std::string_view name) {
  for (auto mode : {SmarthostMode::accept, SmarthostMode::greylist, SmarthostMode::refuse, SmarthostMode::hang,
                    SmarthostMode::drop, SmarthostMode::lose_reply, SmarthostMode::bad_cert}) {
    if (name == mode_name(mode)) return mode;
  }
  return std::nullopt;
}

// The smarthost's TLS: two servers of the firmware's TLS glue, one with a
// certificate for its own name (the relay's CA), one for a name the relay does
// not expect (bad_cert sessions).
struct Smarthost::Tls {
  Tls(std::uint64_t seed, const std::string& name, std::int64_t epoch_s) : entropy(seed), random(entropy) {
    // Tickets, so the relay's connections resume (their lifetime is Mbed
    // TLS's wall time, which never runs out within a simulated run).
    ready = make(good, name, epoch_s, &good_pem) && make(bad, "impostor.sim", epoch_s, nullptr) &&
            good.enable_tickets(86'400);
  }

  bool make(TlsServer& server, const std::string& name, std::int64_t epoch_s, std::string* pem_out) {
    std::array<char, 4096> key{}, cert{};
    ServerIdentityPem identity{key, cert};
    if (!generate_server_identity(random, name, epoch_s, identity)) return false;
    if (pem_out != nullptr) pem_out->assign(cert.data(), identity.cert_length);
    return server.load_identity({key.data(), identity.key_length}, {cert.data(), identity.cert_length});
  }

  hal::SimEntropy entropy;
  CryptoRandom random;
  TlsServer good{random, 4};
  TlsServer bad{random, 2};
  std::string good_pem;
  bool ready = false;
};

const std::string& Smarthost::certificate_pem() const {
  static const std::string none;
  return tls_ != nullptr ? tls_->good_pem : none;
}

SmarthostMode Smarthost::mode_at(std::uint64_t now_ms) const {
  for (const SmarthostWindow& window : settings_.schedule) {
    if (now_ms >= window.from_ms && now_ms < window.until_ms) return window.mode;
  }
  return SmarthostMode::accept;
}

// One client of the smarthost: the engine, its policy, and the bytes between
// them and the stream. The mode is the one in force when the session began.
class Smarthost::Session final : private protocol::SmtpServerPolicy {
 public:
  Session(Smarthost& owner, hal::StreamId stream, const hal::Endpoint& peer, SmarthostMode mode, std::uint64_t now_ms)
      : owner_(owner), stream_(stream), peer_(peer), mode_(mode), now_ms_(now_ms) {
    if (mode_ != SmarthostMode::hang) engine_.start();
  }

  ~Session() {
    if (tls_ == nullptr) return;
    tls_->close_notify();
    server_->release(tls_);
  }

  // False once the session is over and its stream closed.
  bool run(std::uint64_t now_ms) {
    now_ms_ = now_ms;
    hal::SimNet& net = owner_.net_;
    if (handshaking_ && !handshake()) return finish(net);
    if (handshaking_) return true;
    std::array<std::uint8_t, 4096> buffer;
    bool open = true;
    for (;;) {
      const hal::IoResult got = receive(buffer);
      if (got.status == hal::NetStatus::would_block) break;
      if (got.status != hal::NetStatus::ok) {
        open = false;
        break;
      }
      if (mode_ != SmarthostMode::hang) input_.append(reinterpret_cast<const char*>(buffer.data()), got.bytes);
    }
    while (!input_.empty() && !cut_) {
      const std::size_t used = engine_.feed(bytes_of(input_));
      if (used == 0) break;
      input_.erase(0, used);
    }
    if (!cut_) flush();
    if (cut_ || !open || (engine_.finished() && out_.empty())) return finish(net);
    if (engine_.awaiting_tls() && out_.empty() && tls_ != nullptr && !tls_started_) {
      input_.clear();  // RFC 3207: nothing sent before the handshake counts
      handshaking_ = true;
      if (!handshake()) return finish(net);
    }
    return true;
  }

 private:
  bool quit_seen() const { return engine_.finished(); }

  bool finish(hal::SimNet& net) {
    if (awaiting_reply_after_data_ && !quit_seen()) owner_.ledger_.reply_at_risk(*awaiting_reply_after_data_);
    net.close(stream_);
    return false;
  }

  // One step of the TLS handshake after STARTTLS; false when it failed (the
  // relay refused a bad certificate, say).
  bool handshake() {
    const TlsStep step = tls_->handshake();
    if (step == TlsStep::failed) {
      ++owner_.counters_.tls_failures;
      return false;
    }
    if (step == TlsStep::done) {
      handshaking_ = false;
      tls_started_ = true;
      ++owner_.counters_.tls_sessions;
      engine_.tls_started();
      flush();
    }
    return true;
  }

  hal::IoResult receive(std::span<std::uint8_t> out) {
    return tls_started_ ? tls_->read(out) : owner_.net_.receive(stream_, out);
  }

  void flush() {
    while (!out_.empty()) {
      const hal::IoResult sent = tls_started_ ? tls_->write(out_.pending()) : owner_.net_.send(stream_, out_.pending());
      if (sent.status != hal::NetStatus::ok || sent.bytes == 0) return;
      out_.consume(sent.bytes);
    }
  }

  protocol::SmtpDecision mail_from(std::string_view reverse_path, const protocol::MailParameters&) override {
    awaiting_reply_after_data_.reset();  // the relay read the last 250: it sent its next command
    sender_ = reverse_path;
    return protocol::SmtpDecision::accepted();
  }

  protocol::SmtpDecision rcpt_to(std::string_view forward_path) override {
    if (mode_ == SmarthostMode::refuse) {
      ++owner_.counters_.refused;
      return protocol::SmtpDecision::rejected({550, "5.7.1", "Refused by the simulated smarthost"});
    }
    if (mode_ == SmarthostMode::greylist && greylisted(forward_path)) {
      ++owner_.counters_.greylisted;
      return protocol::SmtpDecision::rejected({450, "4.7.1", "Greylisted, try again later"});
    }
    return protocol::SmtpDecision::accepted();
  }

  // Greylisting by (client address, sender, recipient): the first attempt is
  // refused, and every attempt until the delay has passed.
  bool greylisted(std::string_view recipient) {
    std::string triplet(reinterpret_cast<const char*>(peer_.address.bytes), 4);
    triplet += '|' + sender_ + '|' + std::string(recipient);
    for (const auto& [known, first_ms] : owner_.first_seen_) {
      if (known == triplet) return now_ms_ < first_ms + owner_.settings_.greylist_delay_ms;
    }
    owner_.first_seen_.emplace_back(triplet, now_ms_);
    return true;
  }

  protocol::SmtpDecision data_begin() override {
    message_.clear();
    return protocol::SmtpDecision::accepted();
  }

  bool data_chunk(std::span<const std::uint8_t> bytes) override {
    message_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (mode_ == SmarthostMode::drop && message_.size() > 64) {
      ++owner_.counters_.dropped;  // gone in the middle of DATA: nothing was taken
      cut_ = true;
    }
    return true;
  }

  protocol::SmtpDecision data_end() override {
    ++owner_.counters_.messages;
    const std::optional<std::uint64_t> id = message_number(message_);
    const bool counted = id.has_value();
    owner_.log_.write(hal::LogLevel::info, "took message %lld from <%s>%s", id ? static_cast<long long>(*id) : -1LL,
                      sender_.c_str(), mode_ == SmarthostMode::lose_reply ? "; the 250 is lost" : "");
    if (counted) {
      owner_.ledger_.came_out(*id, sender_.empty() && is_bounce(message_) ? Outlet::bounce : Outlet::smarthost, now_ms_);
    }
    if (mode_ == SmarthostMode::lose_reply) {
      ++owner_.counters_.replies_lost;  // taken, but the connection drops before the 250
      if (counted) owner_.ledger_.reply_at_risk(*id);
      cut_ = true;
      return protocol::SmtpDecision::later();
    }
    if (counted) awaiting_reply_after_data_ = id;
    return protocol::SmtpDecision::accepted();
  }

  void data_abort() override { message_.clear(); }
  void transaction_reset() override {}
  protocol::SmtpDecision authenticate(std::string_view, std::string_view, std::string_view) override {
    return protocol::SmtpDecision::rejected({535, "5.7.8", "No logins here"});
  }
  // The certificate is the one of the mode the session began in.
  bool reserve_tls() override {
    if (owner_.tls_ == nullptr) return false;
    server_ = mode_ == SmarthostMode::bad_cert ? &owner_.tls_->bad : &owner_.tls_->good;
    tls_ = server_->acquire(owner_.net_, stream_);
    if (mode_ == SmarthostMode::bad_cert && tls_ != nullptr) ++owner_.counters_.bad_certificates;
    return tls_ != nullptr;
  }

  Smarthost& owner_;
  hal::StreamId stream_;
  hal::Endpoint peer_;
  SmarthostMode mode_;
  std::uint64_t now_ms_;
  std::array<std::uint8_t, 4096> out_storage_{};
  protocol::OutputBuffer out_{out_storage_};
  protocol::SmtpServerSettings settings_{"smarthost.sim", 50u * 1024 * 1024, 100, false, owner_.tls_ != nullptr, false};
  protocol::SmtpServer engine_{*this, out_, settings_};
  std::string input_;
  std::string sender_;
  std::string message_;
  bool cut_ = false;
  std::optional<std::uint64_t> awaiting_reply_after_data_;
  TlsServer* server_ = nullptr;
  TlsSession* tls_ = nullptr;
  bool handshaking_ = false;
  bool tls_started_ = false;
};

Smarthost::Smarthost(hal::SimNetwork& network, hal::SimHostId host, const SmarthostSettings& settings, Ledger& ledger,
                     hal::SimLogSink& log_sink, std::uint64_t seed, std::int64_t epoch_s)
    : net_(network, host), settings_(settings), ledger_(ledger),
      log_(network.time(), settings_.name, hal::LogLevel::info, log_sink) {
  if (settings_.starttls) tls_ = std::make_unique<Tls>(seed, tls_name(), epoch_s);
  net_.listen({{}, settings_.port}, listener_);
}

Smarthost::~Smarthost() = default;

void Smarthost::accept_sessions(std::uint64_t now_ms) {
  hal::StreamId stream = hal::invalid_id;
  hal::Endpoint peer;
  while (net_.accept(listener_, stream, peer) == hal::NetStatus::ok) {
    ++counters_.sessions;
    const SmarthostMode mode = mode_at(now_ms);
    if (mode == SmarthostMode::hang) ++counters_.hung;
    if (mode != SmarthostMode::accept) log_.write(hal::LogLevel::info, "session in mode %s", mode_name(mode));
    sessions_.push_back(std::make_unique<Session>(*this, stream, peer, mode, now_ms));
  }
}

void Smarthost::run(std::uint64_t now_ms) {
  accept_sessions(now_ms);
  std::erase_if(sessions_, [&](const std::unique_ptr<Session>& session) { return !session->run(now_ms); });
  // The network wakes it for input and connections; the schedule needs no timer.
  net_.set_wake_at_ms(hal::SimNetwork::never);
}

}  // namespace pigeon::sim
