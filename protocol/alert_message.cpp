#include "alert_message.hpp"

#include <algorithm>
#include <array>

#include "rfc5322.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

// RFC 2047 §2: an encoded word is at most 75 characters; "=?UTF-8?Q?" and
// "?=" take 12 of them.
constexpr std::size_t max_encoded_word_payload = 75 - 12;
// A raw Subject stays on one line of at most 78 characters (RFC 5322 §2.1.1).
constexpr std::size_t max_raw_subject = 78 - 9;
// RFC 2045 §6.7 rule 5: encoded lines of at most 76 characters.
constexpr std::size_t max_quoted_printable_line = 76;
// RFC 5322 §2.1.1: 998 characters per line, without the CRLF.
constexpr std::size_t max_text_line = 998;

constexpr std::string_view hex_digits = "0123456789ABCDEF";

bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

bool is_ascii_letter_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A bare addr-spec without display name, comments or quoting: what a device's
// configuration names. Anything fancier is refused rather than guessed at.
bool is_addr_spec(std::string_view address) {
  const std::size_t at = address.find('@');
  if (address.size() > 254 || at == 0 || at == std::string_view::npos || at + 1 == address.size()) return false;
  if (address.find('@', at + 1) != std::string_view::npos) return false;
  return std::all_of(address.begin(), address.end(), [](char c) {
    return c > ' ' && c < 127 && std::string_view("<>()[],;:\"\\").find(c) == std::string_view::npos;
  });
}

bool is_message_id_part(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return is_ascii_letter_or_digit(c) || c == '.' || c == '-';
  });
}

std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_plain_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= ' ' && c < 127; });
}

void write_hex_escape(TextBuilder& out, unsigned char byte) {
  out.character('=').character(hex_digits[byte >> 4]).character(hex_digits[byte & 0x0F]);
}

// RFC 2047 §4.2 "Q" encoding, limited to the characters §5(3) allows in any
// context; a space becomes '_'.
std::size_t q_encoded_length(std::string_view character) {
  if (character.size() == 1 && (is_ascii_letter_or_digit(character[0]) || character[0] == ' ' ||
                                std::string_view("!*+-/").find(character[0]) != std::string_view::npos)) {
    return 1;
  }
  return 3 * character.size();
}

void write_q_encoded(TextBuilder& out, std::string_view character) {
  if (q_encoded_length(character) == 1) {
    out.character(character[0] == ' ' ? '_' : character[0]);
    return;
  }
  for (char c : character) write_hex_escape(out, static_cast<unsigned char>(c));
}

// Encoded words never split a UTF-8 character (RFC 2047 §5); each one after
// the first goes on a folded line of its own.
void write_encoded_subject(TextBuilder& out, std::string_view subject) {
  std::size_t word_length = 0;
  out.text("=?UTF-8?Q?");
  while (!subject.empty()) {
    const std::string_view character =
        subject.substr(0, utf8_sequence_length(static_cast<unsigned char>(subject[0])));
    subject.remove_prefix(character.size());
    const std::size_t length = q_encoded_length(character);
    if (word_length + length > max_encoded_word_payload) {
      out.text("?=\r\n =?UTF-8?Q?");
      word_length = 0;
    }
    write_q_encoded(out, character);
    word_length += length;
  }
  out.text("?=");
}

void write_subject(TextBuilder& out, std::string_view subject) {
  out.text("Subject: ");
  const bool raw = subject.size() <= max_raw_subject && is_plain_ascii(subject) &&
                   subject.find("=?") == std::string_view::npos;
  if (raw) {
    out.text(subject);
  } else {
    write_encoded_subject(out, subject);
  }
  out.text("\r\n");
}

// Calls `line_handler` with each line of `text` without its end; CRLF, LF and
// a lone CR all end a line.
template <typename Handler>
void for_each_line(std::string_view text, Handler line_handler) {
  while (!text.empty()) {
    const std::size_t end = std::min(text.find_first_of("\r\n"), text.size());
    line_handler(text.substr(0, end));
    std::size_t skip = end;
    if (skip < text.size()) skip += (text.compare(skip, 2, "\r\n") == 0) ? 2 : 1;
    text.remove_prefix(skip);
  }
}

bool fits_7bit(std::string_view body) {
  bool fits = std::all_of(body.begin(), body.end(), [](char c) {
    return (c >= ' ' && c < 127) || c == '\t' || c == '\r' || c == '\n';
  });
  for_each_line(body, [&fits](std::string_view line) { fits = fits && line.size() <= max_text_line; });
  return fits;
}

// RFC 2045 §6.7: literal printable ASCII except '=', spaces and tabs only
// inside a line, soft line breaks before 76 characters.
void write_quoted_printable_line(TextBuilder& out, std::string_view line) {
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    const bool blank = byte == ' ' || byte == '\t';
    const bool literal = (byte > ' ' && byte < 127 && byte != '=') || (blank && !last);
    const std::size_t width = literal ? 1 : 3;
    // Leave room for the soft break's '=' unless this is the line's end.
    if (column + width > max_quoted_printable_line - (last ? 0 : 1)) {
      out.text("=\r\n");
      column = 0;
    }
    if (literal) {
      out.character(static_cast<char>(byte));
    } else {
      write_hex_escape(out, byte);
    }
    column += width;
  }
  out.text("\r\n");
}

void write_occurrence_note(TextBuilder& out, const AlertFields& fields) {
  if (fields.occurrences <= 1) return;
  std::array<char, 32> date{};
  out.text("This alert occurred ")
      .number(fields.occurrences)
      .text(" times since ")
      .text(format_date(fields.first_unix_time_s, date))
      .text(".\r\n\r\n");
}

void write_headers(TextBuilder& out, const AlertFields& fields, bool seven_bit) {
  std::array<char, 32> date{};
  out.text("Date: ").text(format_date(fields.unix_time_s, date)).text("\r\n");
  out.text("From: ").text(fields.from).text("\r\n");
  out.text("To: ").text(fields.to).text("\r\n");
  write_subject(out, fields.subject);
  out.text("Message-ID: <").text(fields.message_id).character('@').text(fields.host_name).text(">\r\n");
  // RFC 3834 §5: machine-made mail, so that responders do not answer it.
  out.text("Auto-Submitted: auto-generated\r\n");
  out.text("MIME-Version: 1.0\r\n");
  out.text("Content-Type: text/plain; charset=utf-8\r\n");
  out.text("Content-Transfer-Encoding: ").text(seven_bit ? "7bit" : "quoted-printable").text("\r\n\r\n");
}

AlertComposeStatus check(const AlertFields& fields) {
  for (std::string_view field : {fields.from, fields.message_id, fields.host_name}) {
    if (has_line_break(field)) return AlertComposeStatus::header_injection;
  }
  const AlertComposeStatus content = check_alert_content(fields.to, fields.subject, fields.body);
  if (content != AlertComposeStatus::ok) return content;
  if (!is_addr_spec(fields.from) || !is_message_id_part(fields.message_id) || !is_message_id_part(fields.host_name)) {
    return AlertComposeStatus::bad_address;
  }
  return AlertComposeStatus::ok;
}

}  // namespace

AlertComposeStatus check_alert_content(std::string_view to, std::string_view subject, std::string_view body) {
  if (has_line_break(to) || has_line_break(subject)) return AlertComposeStatus::header_injection;
  if (!is_addr_spec(to)) return AlertComposeStatus::bad_address;
  for (std::string_view text : {subject, body}) {
    if (!is_valid_utf8(text) || text.find('\0') != std::string_view::npos) return AlertComposeStatus::bad_text;
  }
  return AlertComposeStatus::ok;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_sequence_length(lead);
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    const auto second = length > 1 ? static_cast<unsigned char>(text[i + 1]) : 0;
    // Overlong three- and four-byte forms, UTF-16 surrogates, beyond U+10FFFF.
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
        (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
      return false;
    }
    i += length;
  }
  return true;
}

AlertComposeResult compose_alert(const AlertFields& fields, std::span<char> out) {
  const AlertComposeStatus status = check(fields);
  if (status != AlertComposeStatus::ok) return {status, 0};
  const bool seven_bit = fits_7bit(fields.body);
  TextBuilder writer(out);
  write_headers(writer, fields, seven_bit);
  write_occurrence_note(writer, fields);
  for_each_line(fields.body, [&writer, seven_bit](std::string_view line) {
    if (seven_bit) {
      writer.text(line).text("\r\n");
    } else {
      write_quoted_printable_line(writer, line);
    }
  });
  if (!writer.ok()) return {AlertComposeStatus::too_long, 0};
  return {AlertComposeStatus::ok, writer.view().size()};
}

}  // namespace pigeon::protocol
