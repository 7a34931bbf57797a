// Fuzzes the SASL codecs that SMTP AUTH and POP3 AUTH share
// (protocol/base64.hpp, protocol/sasl.hpp) with any bytes, as a client's
// AUTH line would bring them:
// - base64 text that decodes is canonical: encoding the bytes gives the very
//   same text back, so two spellings never stand for one credential;
// - any bytes encode to text that decodes to them;
// - neither direction writes past the room it was given: one byte too little
//   is refused, never overrun (AddressSanitizer watches the vector's end);
// - an accepted PLAIN message is exactly "authzid NUL authcid NUL password"
//   with the limits sasl.hpp promises, and the views lie inside the message.
#include <algorithm>
#include <string>
#include <vector>

#include "protocol/base64.hpp"
#include "protocol/sasl.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

constexpr std::size_t max_plain_field_bytes = 255;

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Decoding the input as text: what is accepted encodes back to the input.
void decode_is_canonical(std::string_view text) {
  std::vector<std::uint8_t> bytes(text.size());
  const std::optional<std::size_t> length = protocol::base64::decode(text, bytes);
  if (!length) return;
  require(*length <= text.size() / 4 * 3);
  std::vector<char> again(text.size());
  const std::optional<std::size_t> encoded = protocol::base64::encode({bytes.data(), *length}, again);
  require(encoded && as_text({reinterpret_cast<const std::uint8_t*>(again.data()), *encoded}) == text);
  if (*length > 0) {
    std::vector<std::uint8_t> short_by_one(*length - 1);
    require(!protocol::base64::decode(text, short_by_one));
  }
}

// Encoding the input as bytes: the text is padded base64 that decodes back.
void encode_round_trips(std::span<const std::uint8_t> bytes) {
  const std::size_t text_bytes = (bytes.size() + 2) / 3 * 4;
  std::vector<char> text(text_bytes);
  const std::optional<std::size_t> encoded = protocol::base64::encode(bytes, text);
  require(encoded && *encoded == text_bytes);
  if (text_bytes > 0) {
    std::vector<char> short_by_one(text_bytes - 1);
    require(!protocol::base64::encode(bytes, short_by_one));
  }
  std::vector<std::uint8_t> decoded(bytes.size());
  const std::optional<std::size_t> length = protocol::base64::decode({text.data(), text_bytes}, decoded);
  require(length && std::equal(decoded.begin(), decoded.end(), bytes.begin(), bytes.end()));
}

bool inside(std::string_view field, std::span<const std::uint8_t> message) {
  const auto* begin = reinterpret_cast<const char*>(message.data());
  return field.data() >= begin && field.data() + field.size() <= begin + message.size();
}

bool valid_field(std::string_view field) {
  return field.size() <= max_plain_field_bytes && field.find('\0') == std::string_view::npos;
}

// The input as a decoded PLAIN message: accepted exactly when it has the
// promised shape, and then its three views put back together are the message.
void plain_keeps_its_promises(std::span<const std::uint8_t> message) {
  const std::optional<protocol::SaslPlain> plain = protocol::parse_sasl_plain(message);
  const auto nuls = std::count(message.begin(), message.end(), std::uint8_t{0});
  if (!plain) {
    if (nuls != 2) return;
    const std::string_view text = as_text(message);
    const std::size_t first = text.find('\0');
    const std::size_t second = text.find('\0', first + 1);
    const std::string_view authzid = text.substr(0, first);
    const std::string_view authcid = text.substr(first + 1, second - first - 1);
    const std::string_view password = text.substr(second + 1);
    // Refused with two NULs: only an empty or overlong field may be the reason.
    require(authcid.empty() || password.empty() || authzid.size() > max_plain_field_bytes ||
            authcid.size() > max_plain_field_bytes || password.size() > max_plain_field_bytes);
    return;
  }
  require(nuls == 2);
  require(!plain->authcid.empty() && !plain->password.empty());
  require(valid_field(plain->authzid) && valid_field(plain->authcid) && valid_field(plain->password));
  require(inside(plain->authzid, message) && inside(plain->authcid, message) && inside(plain->password, message));
  std::string joined(plain->authzid);
  joined.append(1, '\0').append(plain->authcid).append(1, '\0').append(plain->password);
  require(joined == as_text(message));
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  pigeon::fuzz::decode_is_canonical(pigeon::fuzz::as_text(input));
  pigeon::fuzz::encode_round_trips(input);
  pigeon::fuzz::plain_keeps_its_promises(input);
  return 0;
}
