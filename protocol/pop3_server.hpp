// POP3 server engine (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL, 2449 RESP-CODES,
// 3206 AUTH-RESP-CODE). Sans-I/O like SmtpServer: bytes in through feed(),
// responses and message bytes out into a caller-owned OutputBuffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base64.hpp"
#include "output_buffer.hpp"

namespace pigeon::protocol {

struct Pop3Decision {
  enum class Kind : std::uint8_t { accept, reject, pending };
  Kind kind = Kind::accept;
  std::string_view response_code;  // "AUTH", "IN-USE", "SYS/TEMP"; empty for none
  std::string_view text;

  static Pop3Decision accepted() { return {}; }
  static Pop3Decision rejected(std::string_view code, std::string_view text) {
    return {Kind::reject, code, text};
  }
  static Pop3Decision later() { return {Kind::pending, {}, {}}; }
};

// The maildrop as locked at login: message numbers are fixed for the session.
// Indexes here are zero-based; the engine speaks one-based message numbers.
class Pop3ServerPolicy {
 public:
  // USER/PASS and AUTH PLAIN. Accept means the maildrop is locked and its
  // snapshot taken; [IN-USE] when another session holds it. Usually pending.
  virtual Pop3Decision login(std::string_view authzid, std::string_view user,
                             std::string_view password) = 0;
  virtual std::size_t message_count() = 0;
  virtual std::uint32_t message_size_bytes(std::size_t index) = 0;
  // A unique-id (RFC 1939 §7, 1..70 printable characters) that stays the same
  // across sessions.
  virtual std::string_view unique_id(std::size_t index) = 0;
  // Reads stored message bytes (lines end in CRLF, not dot-stuffed) from
  // `offset`; returns how many, 0 at the end.
  virtual std::size_t read_message(std::size_t index, std::uint32_t offset,
                                   std::span<std::uint8_t> out) = 0;
  // QUIT in the TRANSACTION state: remove the messages marked deleted. Pending
  // until the removal is durable; reject with SYS/TEMP when it failed.
  virtual Pop3Decision commit_deletions(std::span<const std::size_t> deleted_indexes) = 0;
  // The session ended without UPDATE (connection lost, timeout): unlock.
  virtual void release() = 0;

 protected:
  ~Pop3ServerPolicy() = default;
};

struct Pop3ServerSettings {
  std::string_view host_name;
  bool tls_active = false;          // implicit TLS (995), or set by tls_started()
  bool stls_offered = false;
  bool login_requires_tls = true;   // USER/PASS/AUTH only after TLS ([AUTH]-less -ERR before)
  std::size_t max_messages = 256;   // bound of the deletion marks this engine keeps
};

class Pop3Server {
 public:
  static constexpr std::size_t reply_reserve_bytes = 512;

  Pop3Server(Pop3ServerPolicy& policy, OutputBuffer& out, const Base64& base64,
             const Pop3ServerSettings& settings);

  void start();  // queues the +OK greeting
  // Consumes what it can; stops while a decision is pending, while a RETR/TOP
  // is streaming, after +OK to STLS, and after QUIT.
  std::size_t feed(std::span<const std::uint8_t> input);
  // Continues a RETR/TOP/LIST/UIDL multi-line response into free output space.
  void pump();
  void resume(const Pop3Decision& decision);
  void tls_started();  // forget everything said before the handshake
  void abort_session(std::string_view text);  // -ERR and end (timeouts)

  bool awaiting_decision() const;
  bool streaming() const;
  bool awaiting_tls() const;
  bool finished() const;

 private:
  // Implementation state: fixed-size members only.
};

}  // namespace pigeon::protocol
