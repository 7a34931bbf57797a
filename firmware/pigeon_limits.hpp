// Every compile-time limit of the relay. A board's pigeon_opts.h sets what differs
// from these defaults (the lwipopts.h pattern); the defaults suit a 256 KB-RAM
// microcontroller. Relationships between limits are checked at the end.
#pragma once

#include "pigeon_opts.h"
#include "protocol/mailbox_address.hpp"
#include "protocol/imap_server.hpp"
#include "protocol/pop3_server.hpp"
#include "protocol/smtp_client.hpp"
#include "protocol/smtp_server.hpp"

// Concurrent sessions per protocol, TLS sessions shared by all of them, and
// connections to the smarthost.
#ifndef PIGEON_SMTP_SESSIONS
#define PIGEON_SMTP_SESSIONS 4
#endif
#ifndef PIGEON_POP3_SESSIONS
#define PIGEON_POP3_SESSIONS 2
#endif
// 0 leaves IMAP out: no listeners, no sessions (docs/imap.md).
#ifndef PIGEON_IMAP_SESSIONS
#define PIGEON_IMAP_SESSIONS 2
#endif
#ifndef PIGEON_TLS_SESSIONS
#define PIGEON_TLS_SESSIONS 2
#endif
#ifndef PIGEON_SMARTHOST_CONNECTIONS
#define PIGEON_SMARTHOST_CONNECTIONS 1
#endif

// CRC-32 of spool records, looked up this many bits at a time: 8 (a 1 KiB table,
// one lookup per byte) or 4 (64 bytes, two lookups: the spool's mount takes
// about twice as long on the host, a board short of flash may choose it).
#ifndef PIGEON_CRC32_TABLE_BITS
#define PIGEON_CRC32_TABLE_BITS 8
#endif

// The longest PEM key or certificate of the server's own identity. Parsing needs
// a NUL-terminated copy, kept in static storage rather than on the stack so that
// the stack of a small board is not sized by a start-up step.
#ifndef PIGEON_TLS_IDENTITY_PEM_BYTES
#define PIGEON_TLS_IDENTITY_PEM_BYTES 8192
#endif

// The Mbed TLS arena (firmware/tls_arena.hpp), per TLS session and shared.
#ifndef PIGEON_TLS_SESSION_BYTES
// A session at its handshake peak with 16 KiB record buffers both ways
// (24-31 KB measured with a 4 KiB output buffer; docs/testing.md), plus headroom.
#define PIGEON_TLS_SESSION_BYTES (48u * 1024u)
#endif
#ifndef PIGEON_TLS_SHARED_BYTES
// Configurations, our certificate and key, PSA key slots, the DRBG.
#define PIGEON_TLS_SHARED_BYTES (24u * 1024u)
#endif

// Per-connection buffers. The receive buffer holds at least one full command or
// SASL line (the engines parse lines in place); the output buffer at least one
// reply of the engines' reply_reserve_bytes.
#ifndef PIGEON_RECEIVE_BUFFER_BYTES
#define PIGEON_RECEIVE_BUFFER_BYTES 2048
#endif
#ifndef PIGEON_OUTPUT_BUFFER_BYTES
#define PIGEON_OUTPUT_BUFFER_BYTES 2048
#endif

// One message: its recipients (RFC 5321 §4.5.3.1.8 asks for 100; the SMTP
// session writes each to the spool as it is accepted, docs/spool-format.md
// §3.6), the bytes of the addresses of an envelope written whole into its
// begin record (PIGEON_SPOOL_INLINE_RECIPIENTS of them; a path is at most
// protocol::max_path_bytes), and the largest message. The configuration's
// max_recipients and max_message_bytes default to these when they are lower
// than the documented defaults, and may not exceed them.
#ifndef PIGEON_ENVELOPE_BYTES
#define PIGEON_ENVELOPE_BYTES 2048
#endif
#ifndef PIGEON_MAX_RECIPIENTS
#define PIGEON_MAX_RECIPIENTS 100
#endif
#ifndef PIGEON_MAX_MESSAGE_BYTES
#define PIGEON_MAX_MESSAGE_BYTES (1024u * 1024u)
#endif
// Recipients of an envelope written whole into its begin record: delivery
// reports, alerts and IMAP APPEND write one; the SMTP session writes each
// recipient as a record of its own (docs/spool-format.md §3.6). The spool's
// buffer for a begin record holds this many.
#ifndef PIGEON_SPOOL_INLINE_RECIPIENTS
#define PIGEON_SPOOL_INLINE_RECIPIENTS PIGEON_MAX_RECIPIENTS
#endif
// Distinct permanent refusals one smarthost transaction keeps for its delivery
// report (DeliveryAttempt::refusals): each refused recipient names one of
// them, so that RAM does not grow by a reply's text per recipient. When more
// distinct ones come (a server that puts the address in every reply), the
// ones kept so far are reported in a report of their own first.
#ifndef PIGEON_SMARTHOST_REFUSAL_TEXTS
#define PIGEON_SMARTHOST_REFUSAL_TEXTS 8
#endif

// Messages one POP3 session shows: its engine marks deletions in a bit each
// (protocol::DeletionMarks, 4 KiB per session for the host's 32,768). The
// maildrop itself is the spool's index (Spool::view_mailbox), so by default a
// session shows every message the spool can hold (issue 14: a mailbox of any
// size the spool holds is wholly visible).
#ifndef PIGEON_POP3_MAX_MESSAGES
#define PIGEON_POP3_MAX_MESSAGES PIGEON_SPOOL_MAX_MESSAGES
#endif

// Messages one IMAP session shows of a mailbox: it keeps their flags, a byte
// each; the messages themselves are the spool's index (LiveMailboxView). By
// default all the spool can hold, as for POP3.
#ifndef PIGEON_IMAP_MAX_MESSAGES
#define PIGEON_IMAP_MAX_MESSAGES PIGEON_SPOOL_MAX_MESSAGES
#endif

// Messages others may remove from an IMAP session's mailbox before it has
// told its client (4 bytes each per session); past that it ends with BYE.
#ifndef PIGEON_IMAP_VANISHED
#define PIGEON_IMAP_VANISHED 256
#endif

// The configuration's tables (firmware/config.hpp).
#ifndef PIGEON_MAX_USERS
#define PIGEON_MAX_USERS 16
#endif
#ifndef PIGEON_MAX_LOCAL_DOMAINS
#define PIGEON_MAX_LOCAL_DOMAINS 8
#endif
#ifndef PIGEON_MAX_RELAY_NETWORKS
#define PIGEON_MAX_RELAY_NETWORKS 8
#endif

// Logins (firmware/login_service.hpp): PBKDF2 iterations per loop round (a
// slice of the derivation: about 0.3 ms on a desktop core at 1024; on
// mps2-an385 an iteration is about 8,500 instructions, so the default is about
// 5 ms at 25 MHz), client addresses whose failed logins are remembered, and
// recently verified credentials.
#ifndef PIGEON_PBKDF2_ITERATIONS_PER_ROUND
#define PIGEON_PBKDF2_ITERATIONS_PER_ROUND 16
#endif
#ifndef PIGEON_LOGIN_ADDRESSES
#define PIGEON_LOGIN_ADDRESSES 8
#endif
#ifndef PIGEON_LOGIN_CACHE_ENTRIES
#define PIGEON_LOGIN_CACHE_ENTRIES 4
#endif

// The spool (firmware/spool.hpp, docs/spool-format.md): its RAM index of
// messages and sectors.
#ifndef PIGEON_SPOOL_MAX_MESSAGES
#define PIGEON_SPOOL_MAX_MESSAGES 256
#endif
#ifndef PIGEON_SPOOL_MAX_SECTORS
#define PIGEON_SPOOL_MAX_SECTORS 1024
#endif
// The payload of one data record: the body is buffered per writer and
// programmed in pieces of this size.
#ifndef PIGEON_SPOOL_WRITE_BUFFER_BYTES
#define PIGEON_SPOOL_WRITE_BUFFER_BYTES 1024
#endif
// Open writers: SMTP sessions plus one for the alert API.
#ifndef PIGEON_SPOOL_WRITERS
#define PIGEON_SPOOL_WRITERS (PIGEON_SMTP_SESSIONS + 1)
#endif
// Free sectors new mail may not use: reclaim copies live messages into them.
#ifndef PIGEON_SPOOL_RESERVE_SECTORS
#define PIGEON_SPOOL_RESERVE_SECTORS 3
#endif
// spool_bytes when the configuration does not say (docs/configuration.md):
// the host's 64 MiB; the router presets build with 4 MiB, since the image is
// written in full on a router's small flash at first start (docs/routers.md).
#ifndef PIGEON_DEFAULT_SPOOL_BYTES
#define PIGEON_DEFAULT_SPOOL_BYTES (64u * 1024u * 1024u)
#endif
// The longest local mailbox name stored in an envelope.
#ifndef PIGEON_SPOOL_MAILBOX_NAME_BYTES
#define PIGEON_SPOOL_MAILBOX_NAME_BYTES 64
#endif

// Messages waiting for the smarthost (firmware/delivery_queue.hpp); more stay
// in the spool and join at the next refill.
#ifndef PIGEON_DELIVERY_QUEUE_LENGTH
#define PIGEON_DELIVERY_QUEUE_LENGTH 256
#endif
// Messages that may be written or owe the smarthost a recipient at once: each
// holds a spool DeliveryDetail (firmware/spool_index.hpp), its per-recipient
// outcomes and retry state. New mail that needs one when none is free is
// refused for now (452 4.3.1), as when the spool is full.
#ifndef PIGEON_SPOOL_ACTIVE_MESSAGES
#define PIGEON_SPOOL_ACTIVE_MESSAGES PIGEON_DELIVERY_QUEUE_LENGTH
#endif

// The alert API (firmware/alert.hpp): coalescing slots, the longest subject and
// body, and the composed message.
#ifndef PIGEON_ALERT_KEYS
#define PIGEON_ALERT_KEYS 8
#endif
#ifndef PIGEON_ALERT_MAX_SUBJECT_BYTES
#define PIGEON_ALERT_MAX_SUBJECT_BYTES 200
#endif
#ifndef PIGEON_ALERT_MAX_BODY_BYTES
#define PIGEON_ALERT_MAX_BODY_BYTES 1024
#endif
#ifndef PIGEON_ALERT_MESSAGE_BYTES
// Headers plus the longest body, quoted-printable (up to 3 bytes per byte).
#define PIGEON_ALERT_MESSAGE_BYTES (3 * PIGEON_ALERT_MAX_BODY_BYTES + 1536)
#endif

// Relationships. The engines' longest lines are 1024 bytes with the CRLF (an
// SMTP SASL response, a POP3 line), parsed in place in the receive buffer.
static_assert(PIGEON_RECEIVE_BUFFER_BYTES >= 1024, "a command or SASL line must fit");
static_assert(PIGEON_OUTPUT_BUFFER_BYTES >= pigeon::protocol::SmtpServer::reply_reserve_bytes &&
                  PIGEON_OUTPUT_BUFFER_BYTES >= pigeon::protocol::Pop3Server::reply_reserve_bytes &&
                  PIGEON_OUTPUT_BUFFER_BYTES >= pigeon::protocol::ImapServer::reply_reserve_bytes &&
                  PIGEON_OUTPUT_BUFFER_BYTES >= pigeon::protocol::SmtpClient::command_reserve_bytes,
              "an engine's reply or command must fit in the output buffer");
static_assert(PIGEON_OUTPUT_BUFFER_BYTES >= 1024, "a reply must fit");
static_assert(PIGEON_SPOOL_ACTIVE_MESSAGES >= 2, "one detail is kept for delivery reports (firmware/spool.cpp)");
static_assert(PIGEON_TLS_SESSIONS >= 1, "TLS is required for submission and POP3");
static_assert(PIGEON_ENVELOPE_BYTES >= 512, "at least one full-length recipient");
static_assert(PIGEON_MAX_RECIPIENTS >= 1 && PIGEON_MAX_RECIPIENTS <= 255,
              "the spool counts a message's recipients in one byte (docs/spool-format.md §3.1)");
static_assert(PIGEON_SPOOL_INLINE_RECIPIENTS >= 1 && PIGEON_SPOOL_INLINE_RECIPIENTS <= PIGEON_MAX_RECIPIENTS,
              "a delivery report or an alert writes one recipient into its begin record");
static_assert(PIGEON_SMARTHOST_REFUSAL_TEXTS >= 1 && PIGEON_SMARTHOST_REFUSAL_TEXTS <= 255,
              "a refused recipient names its refusal text in one byte");
static_assert(PIGEON_MAX_RECIPIENTS <= pigeon::protocol::SmtpClient::max_recipients,
              "the smarthost client takes every recipient of a message at once");
static_assert(PIGEON_SPOOL_WRITE_BUFFER_BYTES >= 64 && PIGEON_SPOOL_WRITE_BUFFER_BYTES <= 3072,
              "a data record must fit in a 4 KiB sector");
static_assert(PIGEON_PBKDF2_ITERATIONS_PER_ROUND >= 1, "a login derivation must advance every round");
static_assert(PIGEON_LOGIN_ADDRESSES >= 1, "failed logins are counted per address");
static_assert(PIGEON_LOGIN_CACHE_ENTRIES >= 1, "the credential cache has room (auth_cache_s = 0 turns it off)");
static_assert(PIGEON_SPOOL_RESERVE_SECTORS >= 1, "reclaim needs a free sector to copy into");
static_assert(PIGEON_ALERT_MESSAGE_BYTES > 3 * PIGEON_ALERT_MAX_BODY_BYTES,
              "the composed alert holds headers and the longest body, quoted-printable");
