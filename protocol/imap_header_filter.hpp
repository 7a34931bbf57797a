// Streams the header sections of a message that IMAP FETCH names (RFC 9051
// §6.4.5: HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT) out of its raw bytes, read
// in pieces from wherever the message is kept: no more than one field name is
// held at a time, never the header or the message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol::imap {

// Where the filter puts the bytes of the section.
class ByteSink {
 public:
  virtual void put(std::span<const std::uint8_t> bytes) = 0;

 protected:
  ~ByteSink() = default;
};

enum class HeaderSelection : std::uint8_t {
  all,         // HEADER: every field and the blank line
  fields,      // HEADER.FIELDS: the named fields and the blank line
  fields_not,  // HEADER.FIELDS.NOT: the other fields and the blank line
};

class HeaderFilter {
 public:
  // The longest field name compared; a longer one matches no listed name.
  static constexpr std::size_t max_name_bytes = 76;

  // `names`: the header-list's content, astrings separated by spaces, as the
  // command gave it (kept as a view: it must outlive the filter).
  HeaderFilter(HeaderSelection selection, std::string_view names);

  // Takes the message's bytes from its start, in any pieces; writes what
  // belongs to the section into `sink`. Returns how many bytes it took: all
  // of `raw` until the blank line that ends the header has been taken.
  std::size_t feed(std::span<const std::uint8_t> raw, ByteSink& sink);
  // The message ended without a blank line: a field name still held goes out
  // if it belongs.
  void finish(ByteSink& sink);
  bool done() const { return state_ == State::done; }
  // The header's bytes including its blank line, once done().
  std::uint32_t header_bytes() const { return taken_; }

 private:
  enum class State : std::uint8_t { line_start, name, included, excluded, done };

  void decide_field(ByteSink& sink);
  bool selected(std::string_view name) const;

  HeaderSelection selection_;
  std::string_view names_;
  State state_ = State::line_start;
  bool previous_included_ = false;  // a folded line belongs where its field did
  std::uint32_t taken_ = 0;
  std::array<std::uint8_t, max_name_bytes> name_{};
  std::size_t name_length_ = 0;
};

}  // namespace pigeon::protocol::imap
