// C string functions for the image, in place of newlib's. newlib makes these
// fast for long strings (strstr is the two-way algorithm, strcmp compares a
// word at a time; atoi brings strtol with errno and locale): 2.3 KB of flash
// together. Their callers here (Mbed TLS's certificate and key parsers at boot,
// lwIP's interface names, pigeon's host-name check) pass short strings, where
// the plain loops below are as good. Defined here, newlib's are never linked.
#include <cstddef>

extern "C" {

int strcmp(const char* left, const char* right) {
  while (*left != '\0' && *left == *right) {
    ++left;
    ++right;
  }
  return static_cast<unsigned char>(*left) - static_cast<unsigned char>(*right);
}

int strncmp(const char* left, const char* right, std::size_t limit) {
  for (; limit > 0; --limit, ++left, ++right) {
    if (*left != *right || *left == '\0') {
      return static_cast<unsigned char>(*left) - static_cast<unsigned char>(*right);
    }
  }
  return 0;
}

// Pads with NULs up to `limit`, and leaves `out` unterminated when `text` fills it.
char* strncpy(char* out, const char* text, std::size_t limit) {
  for (std::size_t i = 0; i < limit; ++i) {
    out[i] = *text;
    if (*text != '\0') ++text;
  }
  return out;
}

char* strchr(const char* text, int wanted) {
  for (;; ++text) {
    if (*text == static_cast<char>(wanted)) return const_cast<char*>(text);
    if (*text == '\0') return nullptr;
  }
}

char* strstr(const char* haystack, const char* needle) {
  for (;; ++haystack) {
    std::size_t matched = 0;
    while (needle[matched] != '\0' && haystack[matched] == needle[matched]) ++matched;
    if (needle[matched] == '\0') return const_cast<char*>(haystack);
    if (*haystack == '\0') return nullptr;
  }
}

// Out of range is undefined in C, as for newlib's; here it wraps.
int atoi(const char* text) {
  while (*text == ' ' || (*text >= '\t' && *text <= '\r')) ++text;
  const bool negative = *text == '-';
  if (*text == '-' || *text == '+') ++text;
  unsigned value = 0;
  for (; *text >= '0' && *text <= '9'; ++text) value = value * 10 + static_cast<unsigned>(*text - '0');
  return static_cast<int>(negative ? 0u - value : value);
}

}  // extern "C"
