#include "text_format.hpp"

#include <cstdint>

namespace pigeon::hal {
namespace {

// Writes into the buffer while there is room, and counts everything.
class Sink {
 public:
  Sink(char* out, std::size_t size) : out_(out), size_(size) {}
  void put(char c) {
    if (size_ != 0 && length_ < size_ - 1) out_[length_] = c;
    ++length_;
  }
  void repeat(char c, int count) {
    for (int i = 0; i < count; ++i) put(c);
  }
  int finish() {
    if (size_ != 0) out_[length_ < size_ ? length_ : size_ - 1] = '\0';
    return static_cast<int>(length_);
  }

 private:
  char* out_;
  std::size_t size_;
  std::size_t length_ = 0;
};

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int precision = -1;
  int long_count = 0;  // 'l' count; 'z' counts as one on 32-bit and two on 64-bit
  int half_count = 0;  // 'h': short, 'hh': char
  char conversion = 0;
};

const char* parse_number(const char* p, int& value, std::va_list& args) {
  if (*p == '*') {
    value = va_arg(args, int);
    return p + 1;
  }
  value = 0;
  while (*p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
  return p;
}

const char* parse_spec(const char* p, Spec& spec, std::va_list& args) {
  for (;; ++p) {
    if (*p == '-') spec.left = true;
    else if (*p == '0') spec.zero = true;
    else break;
  }
  p = parse_number(p, spec.width, args);
  if (spec.width < 0) {
    spec.left = true;
    spec.width = -spec.width;
  }
  if (*p == '.') p = parse_number(p + 1, spec.precision, args);
  for (;; ++p) {
    if (*p == 'l') ++spec.long_count;
    else if (*p == 'z') spec.long_count += sizeof(std::size_t) == sizeof(long) ? 1 : 0;
    else if (*p == 'h') ++spec.half_count;
    else break;
  }
  spec.conversion = *p;
  return *p != '\0' ? p + 1 : p;
}

void emit_padded(Sink& sink, const Spec& spec, const char* text, int length, bool negative) {
  const int digits = spec.precision > length ? spec.precision : length;
  const int body = digits + (negative ? 1 : 0);
  const int pad = spec.width > body ? spec.width - body : 0;
  const bool zero_pad = spec.zero && !spec.left && spec.precision < 0;
  if (!spec.left && !zero_pad) sink.repeat(' ', pad);
  if (negative) sink.put('-');
  if (zero_pad) sink.repeat('0', pad);
  sink.repeat('0', digits - length);
  for (int i = 0; i < length; ++i) sink.put(text[i]);
  if (spec.left) sink.repeat(' ', pad);
}

void emit_unsigned(Sink& sink, const Spec& spec, unsigned long long value, unsigned base, bool negative) {
  const char* digits = spec.conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  char reversed[24];
  int length = 0;
  do {
    reversed[length++] = digits[value % base];
    value /= base;
  } while (value != 0);
  char text[24];
  for (int i = 0; i < length; ++i) text[i] = reversed[length - 1 - i];
  emit_padded(sink, spec, text, length, negative);
}

void emit_string(Sink& sink, const Spec& spec, const char* text) {
  if (text == nullptr) text = "(null)";
  int length = 0;
  while (text[length] != '\0' && (spec.precision < 0 || length < spec.precision)) ++length;
  Spec plain = spec;
  plain.precision = -1;
  plain.zero = false;
  emit_padded(sink, plain, text, length, false);
}

long long signed_argument(const Spec& spec, std::va_list& args) {
  if (spec.long_count >= 2) return va_arg(args, long long);
  if (spec.long_count == 1) return va_arg(args, long);
  const int value = va_arg(args, int);  // char and short arrive promoted
  if (spec.half_count >= 2) return static_cast<signed char>(value);
  if (spec.half_count == 1) return static_cast<short>(value);
  return value;
}

unsigned long long unsigned_argument(const Spec& spec, std::va_list& args) {
  if (spec.long_count >= 2) return va_arg(args, unsigned long long);
  if (spec.long_count == 1) return va_arg(args, unsigned long);
  const unsigned value = va_arg(args, unsigned int);
  if (spec.half_count >= 2) return static_cast<unsigned char>(value);
  if (spec.half_count == 1) return static_cast<unsigned short>(value);
  return value;
}

void emit(Sink& sink, const Spec& spec, std::va_list& args) {
  switch (spec.conversion) {
    case 'd':
    case 'i': {
      const long long value = signed_argument(spec, args);
      const unsigned long long magnitude =
          value < 0 ? 0ull - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
      emit_unsigned(sink, spec, magnitude, 10, value < 0);
      break;
    }
    case 'u': emit_unsigned(sink, spec, unsigned_argument(spec, args), 10, false); break;
    case 'x':
    case 'X': emit_unsigned(sink, spec, unsigned_argument(spec, args), 16, false); break;
    case 'p': emit_unsigned(sink, spec, reinterpret_cast<std::uintptr_t>(va_arg(args, void*)), 16, false); break;
    case 'c': sink.put(static_cast<char>(va_arg(args, int))); break;
    case 's': emit_string(sink, spec, va_arg(args, const char*)); break;
    case '%': sink.put('%'); break;
    default: break;  // unknown conversions print nothing
  }
}

}  // namespace

int format_text(char* out, std::size_t size, const char* format, std::va_list args) {
  Sink sink(out, size);
  std::va_list rest;
  va_copy(rest, args);
  for (const char* p = format; *p != '\0';) {
    if (*p != '%') {
      sink.put(*p++);
      continue;
    }
    Spec spec;
    p = parse_spec(p + 1, spec, rest);
    emit(sink, spec, rest);
  }
  va_end(rest);
  return sink.finish();
}

std::size_t escape_control_bytes(const char* text, std::size_t length, char* out, std::size_t size) {
  constexpr char hex[] = "0123456789abcdef";
  std::size_t written = 0;
  for (std::size_t i = 0; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool control = byte < 0x20 || byte == 0x7f;
    const std::size_t needed = control ? 4 : 1;
    if (written + needed >= size) break;
    if (control) {
      out[written++] = '\\';
      out[written++] = 'x';
      out[written++] = hex[byte >> 4];
      out[written++] = hex[byte & 0xf];
    } else {
      out[written++] = static_cast<char>(byte);
    }
  }
  out[written] = '\0';
  return written;
}

}  // namespace pigeon::hal
