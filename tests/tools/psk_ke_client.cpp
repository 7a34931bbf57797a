// A TLS 1.3 client that resumes in psk_ke mode: no stock client offers it
// (OpenSSL, and so Python, always sends a key share and offers psk_dhe_ke, which
// Mbed TLS's server prefers). test_tls_resumption.py proves with it that the
// relay resumes without ECDHE; the board's measurements count what that costs.
//
//   psk_ke_client PORT implicit|starttls CAFILE
//
// Connects to 127.0.0.1:PORT twice. The first connection makes a full TLS 1.3
// handshake (every key exchange mode offered), reads the greeting or the EHLO
// reply (the ticket comes with it), keeps the session and says QUIT. The client
// prints "ticket" and waits for a line on its input, so that a test can measure
// the second connection alone: it offers only psk_ke (no key share, so the
// server can do nothing but resume) and the saved session, then reads, QUITs and
// prints "resumed psk_ke". Exit status 0 only if both connections went through.
#include <arpa/inet.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "firmware/crypto_random.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

namespace {

struct Options {
  std::uint16_t port = 0;
  bool starttls = false;
  const char* cafile = nullptr;
};

int connect_loopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("psk_ke_client: connect");
    std::exit(2);
  }
  return fd;
}

int send_callback(void* fd, const unsigned char* data, std::size_t length) {
  const ssize_t sent = send(*static_cast<int*>(fd), data, length, MSG_NOSIGNAL);
  return sent < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(sent);
}

int receive_callback(void* fd, unsigned char* out, std::size_t length) {
  const ssize_t got = recv(*static_cast<int*>(fd), out, length, 0);
  return got < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : static_cast<int>(got);
}

// Whether `text` ends with the last line of an SMTP reply (a space after the code).
bool reply_complete(const std::string& text) {
  if (text.size() < 2 || text.compare(text.size() - 2, 2, "\r\n") != 0) return false;
  const std::size_t start = text.rfind("\r\n", text.size() - 3);
  const std::size_t line = start == std::string::npos ? 0 : start + 2;
  return text.size() - line > 4 && text[line + 3] == ' ';
}

std::string plain_reply(int fd) {
  std::string text;
  char chunk[512];
  while (!reply_complete(text)) {
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    text.append(chunk, static_cast<std::size_t>(got));
  }
  return text;
}

void plain_send(int fd, std::string_view line) { send(fd, line.data(), line.size(), MSG_NOSIGNAL); }

std::string tls_reply(mbedtls_ssl_context& ssl) {
  std::string text;
  unsigned char chunk[512];
  while (!reply_complete(text)) {
    const int got = mbedtls_ssl_read(&ssl, chunk, sizeof chunk);
    // The ticket, or a record that carried no data: read on.
    if (got == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET || got == MBEDTLS_ERR_SSL_WANT_READ) continue;
    if (got <= 0) break;
    text.append(reinterpret_cast<char*>(chunk), static_cast<std::size_t>(got));
  }
  return text;
}

void tls_send(mbedtls_ssl_context& ssl, std::string_view line) {
  mbedtls_ssl_write(&ssl, reinterpret_cast<const unsigned char*>(line.data()), line.size());
}

void fail(const char* what, int code = 0) {
  std::fprintf(stderr, "psk_ke_client: %s (%d)\n", what, code);
  std::exit(1);
}

// One connection: STARTTLS if asked, the handshake, one reply, QUIT. Saves the
// session into `saved` when given.
void session(const Options& options, const mbedtls_ssl_config& config, const mbedtls_ssl_session* offer,
             mbedtls_ssl_session* saved) {
  int fd = connect_loopback(options.port);
  if (options.starttls) {
    if (plain_reply(fd).rfind("220", 0) != 0) fail("no greeting");
    plain_send(fd, "EHLO psk-ke.example\r\n");
    plain_reply(fd);
    plain_send(fd, "STARTTLS\r\n");
    if (plain_reply(fd).rfind("220", 0) != 0) fail("STARTTLS refused");
  }
  mbedtls_ssl_context ssl;
  mbedtls_ssl_init(&ssl);
  if (mbedtls_ssl_setup(&ssl, &config) != 0 || mbedtls_ssl_set_hostname(&ssl, "localhost") != 0) fail("setup");
  if (offer != nullptr && mbedtls_ssl_set_session(&ssl, offer) != 0) fail("set_session");
  mbedtls_ssl_set_bio(&ssl, &fd, send_callback, receive_callback, nullptr);
  if (const int rc = mbedtls_ssl_handshake(&ssl); rc != 0) fail("handshake", rc);
  if (options.starttls) tls_send(ssl, "EHLO psk-ke.example\r\n");
  if (tls_reply(ssl).rfind(options.starttls ? "250" : "220", 0) != 0) fail("no reply over TLS");
  if (saved != nullptr && mbedtls_ssl_get_session(&ssl, saved) != 0) fail("no ticket came");
  tls_send(ssl, "QUIT\r\n");
  tls_reply(ssl);
  mbedtls_ssl_close_notify(&ssl);
  mbedtls_ssl_free(&ssl);
  close(fd);
}

void configure(mbedtls_ssl_config& config, mbedtls_x509_crt& ca, pigeon::CryptoRandom& random, int key_exchange_modes) {
  mbedtls_ssl_config_init(&config);
  mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&config, pigeon::CryptoRandom::generate, random.context());
  mbedtls_ssl_conf_min_tls_version(&config, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_max_tls_version(&config, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&config, &ca, nullptr);
  mbedtls_ssl_conf_session_tickets(&config, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&config,
                                                           MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
  mbedtls_ssl_conf_tls13_key_exchange_modes(&config, key_exchange_modes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::strcmp(argv[2], "implicit") != 0 && std::strcmp(argv[2], "starttls") != 0)) {
    std::fprintf(stderr, "usage: psk_ke_client PORT implicit|starttls CAFILE\n");
    return 2;
  }
  Options options{static_cast<std::uint16_t>(std::atoi(argv[1])), std::strcmp(argv[2], "starttls") == 0, argv[3]};
  pigeon::tls_arena_init(1);
  static pigeon::hal::PosixEntropy entropy;
  static pigeon::CryptoRandom random(entropy);
  if (!random.ready()) fail("no entropy");
  mbedtls_x509_crt ca;
  mbedtls_x509_crt_init(&ca);
  if (mbedtls_x509_crt_parse_file(&ca, options.cafile) != 0) fail("the CA file does not parse");

  mbedtls_ssl_config full;
  configure(full, ca, random, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_ALL);
  mbedtls_ssl_session saved;
  mbedtls_ssl_session_init(&saved);
  session(options, full, nullptr, &saved);
  std::printf("ticket\n");
  std::fflush(stdout);
  char line[16];
  if (std::fgets(line, sizeof line, stdin) == nullptr) return 1;

  mbedtls_ssl_config psk_only;
  configure(psk_only, ca, random, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK);
  session(options, psk_only, &saved, nullptr);
  std::printf("resumed psk_ke\n");
  return 0;
}
