/* pigeon's compile-time limits for the host build (docs/architecture.md §4). Same pattern as
 * lwipopts.h: a board defines what differs, firmware/pigeon_limits.hpp supplies
 * the defaults and checks the relationships. */
#ifndef PIGEON_OPTS_H
#define PIGEON_OPTS_H

#define PIGEON_SMTP_SESSIONS 16
#define PIGEON_POP3_SESSIONS 8
#define PIGEON_IMAP_SESSIONS 8
#define PIGEON_TLS_SESSIONS 16
/* smarthost_connections may be configured up to this. */
#define PIGEON_SMARTHOST_CONNECTIONS 4
#define PIGEON_MAX_MESSAGE_BYTES (32u * 1024u * 1024u)
/* RFC 5321 §4.5.3.1.8: 100 recipients, each of them a path of up to 256 bytes. */
#define PIGEON_MAX_RECIPIENTS 100
#define PIGEON_ENVELOPE_BYTES (100 * 256)
/* A Linux host holds far more mail than a board: 32 bytes of index a message
 * (RAM is touched only as messages come), and thousands may wait for the
 * smarthost at once (the benchmarks queue thousands), each with a 40-byte
 * detail (docs/architecture.md §5). */
#define PIGEON_SPOOL_MAX_MESSAGES 32768
#define PIGEON_SPOOL_ACTIVE_MESSAGES 4096
/* A login's PBKDF2 in slices of about 0.3 ms; more clients and credentials remembered. */
#define PIGEON_PBKDF2_ITERATIONS_PER_ROUND 1024
#define PIGEON_LOGIN_ADDRESSES 64
#define PIGEON_LOGIN_CACHE_ENTRIES 16
/* A 2 KB message's POP3 RETR reply, or its IMAP literal, fits in one output
 * buffer: one send, and under TLS one record (MBEDTLS_SSL_OUT_CONTENT_LEN is
 * 4096), instead of two of each. 2 KiB more per session slot, in pages that
 * cost memory only once the slot is used. */
#define PIGEON_OUTPUT_BUFFER_BYTES 4096

#endif
