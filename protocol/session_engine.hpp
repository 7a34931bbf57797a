// What every sans-I/O protocol engine offers the session transport that
// carries it (firmware/session_transport.hpp): the SMTP and POP3 servers, the
// SMTP client, and an IMAP server later. Bytes go in through feed(); replies
// go out through the engine's OutputBuffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pigeon::protocol {

class SessionEngine {
 public:
  // Consumes what it can of `input`; returns how many bytes it consumed.
  virtual std::size_t feed(std::span<const std::uint8_t> input) = 0;
  // STARTTLS/STLS is answered: the transport drains the output, drops unread
  // input and runs the handshake, then calls tls_started().
  virtual bool awaiting_tls() const = 0;
  virtual void tls_started() = 0;
  // Nothing more to say or hear: the transport closes once the output is sent.
  virtual bool finished() const = 0;
  // A reply waits for the policy's decision (a delayed login failure, a flash
  // sync): a peer that closed its side still gets it.
  virtual bool awaiting_decision() const { return false; }

 protected:
  ~SessionEngine() = default;
};

}  // namespace pigeon::protocol
