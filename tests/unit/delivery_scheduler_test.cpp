// The delivery scheduler end to end below the event loop: the real scheduler,
// smarthost connection, SMTP client engine, delivery report writer and spool
// (over the RAM flash), against a smarthost that a fake network plays, with a
// clock the test moves. Retries, backoff, reports, expiry, several messages
// per connection and outcomes that survive a remount.
#include "firmware/delivery_scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"
#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

constexpr hal::FlashGeometry flash_geometry{4096, 64, 16};
constexpr std::string_view local_sender = "alice@home.example";
constexpr std::string_view far_recipient = "carol@far.example";
constexpr std::string_view far_recipient2 = "dave@far.example";
constexpr std::string_view try_later = "451 4.3.0 Try again later";

// Monotonic time is what the test sets; the wall clock runs along from a
// fixed date and keeps running across a reboot, which restarts the monotonic one.
class FakeClock final : public hal::Clock {
 public:
  std::uint64_t monotonic_ms() override { return now_ms; }
  std::int64_t unix_time_s() override { return boot_wall_s + static_cast<std::int64_t>(now_ms / 1000); }
  void reboot() {
    boot_wall_s = unix_time_s();
    now_ms = 0;
  }

  std::uint64_t now_ms = 0;
  std::int64_t boot_wall_s = 1'700'000'000;
};

// Keeps the log, so that a failing test can show what the relay said.
class RecordingLog final : public hal::Log {
 public:
  void vwrite(hal::LogLevel, const char* format, std::va_list args) override {
    std::array<char, 512> line{};
    std::vsnprintf(line.data(), line.size(), format, args);
    lines.emplace_back(line.data());
  }
  std::string all() const {
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    return text;
  }

  std::vector<std::string> lines;
};

// The address between < and > in "MAIL FROM:<a@b> BODY=8BITMIME".
std::string address_in(const std::string& command) {
  const std::size_t open = command.find('<');
  const std::size_t close = command.find('>', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  return command.substr(open + 1, close - open - 1);
}

// The smarthost's side: a small SMTP server that answers each command line,
// with RCPT replies the test scripts per address (used in order; 250 once a
// script runs out), and records what the relay sent it.
class ScriptedSmarthost {
 public:
  struct Transaction {
    std::string sender;
    std::vector<std::string> recipients;  // those that got 250 to RCPT
    std::string body;
  };

  void script_rcpt(std::string_view address, std::vector<std::string> replies) {
    for (std::string& reply : replies) rcpt_scripts_[std::string(address)].push_back(std::move(reply));
  }

  void connect(std::uint64_t now_ms) {
    connect_times_s.push_back(now_ms / 1000);
    pending_.clear();
    in_data_ = false;
    closing = false;
    reply("220 smarthost.example ESMTP");
  }

  void receive(std::string_view bytes) {
    pending_ += bytes;
    for (std::size_t end = pending_.find("\r\n"); end != std::string::npos; end = pending_.find("\r\n")) {
      const std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      if (in_data_) {
        body_line(line);
      } else {
        command(line);
      }
    }
  }

  std::string take_output() { return std::exchange(output_, {}); }

  std::vector<std::uint64_t> connect_times_s;
  std::vector<std::string> rcpts_offered;  // every RCPT address, in order
  std::vector<Transaction> delivered;      // every transaction that got 250 to its data
  std::size_t quits = 0;
  bool closing = false;  // 221 sent: the server closes after it

 private:
  void command(const std::string& line) {
    const std::string verb = line.substr(0, 4);
    if (verb == "EHLO") return reply("250-smarthost.example\r\n250 8BITMIME");
    if (verb == "MAIL") {
      current_ = {address_in(line), {}, {}};
      return reply("250 2.1.0 Sender ok");
    }
    if (verb == "RCPT") return rcpt(address_in(line));
    if (verb == "DATA") {
      in_data_ = true;
      return reply("354 End data with <CR><LF>.<CR><LF>");
    }
    if (verb == "RSET") return reply("250 2.0.0 Reset");
    if (verb == "QUIT") {
      ++quits;
      closing = true;
      return reply("221 2.0.0 Bye");
    }
    reply("502 5.5.2 Command not recognised");
  }

  void rcpt(const std::string& address) {
    rcpts_offered.push_back(address);
    std::string answer = "250 2.1.5 Recipient ok";
    std::deque<std::string>& script = rcpt_scripts_[address];
    if (!script.empty()) {
      answer = script.front();
      script.pop_front();
    }
    if (answer[0] == '2') current_.recipients.push_back(address);
    reply(answer);
  }

  void body_line(const std::string& line) {
    if (line != ".") {
      current_.body += line + "\r\n";
      return;
    }
    in_data_ = false;
    delivered.push_back(current_);
    reply("250 2.0.0 Queued");
  }

  void reply(std::string_view text) { (output_ += text) += "\r\n"; }

  std::map<std::string, std::deque<std::string>> rcpt_scripts_;
  std::string pending_;
  std::string output_;
  bool in_data_ = false;
  Transaction current_;
};

// One TCP stream at a time, to the scripted smarthost; it connects at once.
class FakeNet final : public hal::Net {
 public:
  FakeNet(ScriptedSmarthost& server, FakeClock& clock) : server_(server), clock_(clock) {}

  hal::NetStatus listen(const hal::Endpoint&, hal::ListenerId&) override { return hal::NetStatus::error; }
  std::uint16_t local_port(hal::ListenerId) override { return 0; }
  hal::NetStatus accept(hal::ListenerId, hal::StreamId&, hal::Endpoint&) override {
    return hal::NetStatus::would_block;
  }

  hal::NetStatus connect(const hal::Endpoint& remote, hal::StreamId& out) override {
    EXPECT_FALSE(open_) << "a second connection while one is open";
    last_remote = remote;
    ++connects;
    open_ = true;
    refused_ = refuse_next > 0;
    if (refused_) {
      --refuse_next;
      out = stream_id;
      return hal::NetStatus::ok;  // the refusal shows when the client looks
    }
    to_client_.clear();
    server_.connect(clock_.now_ms);
    to_client_ += server_.take_output();
    out = stream_id;
    return hal::NetStatus::ok;
  }
  bool connected(hal::StreamId stream) override { return open_ && !refused_ && stream == stream_id; }

  hal::IoResult receive(hal::StreamId stream, std::span<std::uint8_t> out) override {
    if (refused_) return {hal::NetStatus::refused, 0};
    if (!connected(stream)) return {hal::NetStatus::closed, 0};
    if (to_client_.empty()) return {server_.closing ? hal::NetStatus::closed : hal::NetStatus::would_block, 0};
    const std::size_t count = std::min(out.size(), to_client_.size());
    std::copy_n(to_client_.begin(), count, out.begin());
    to_client_.erase(0, count);
    return {hal::NetStatus::ok, count};
  }

  hal::IoResult send(hal::StreamId stream, std::span<const std::uint8_t> data) override {
    if (!connected(stream) || server_.closing) return {hal::NetStatus::closed, 0};
    server_.receive({reinterpret_cast<const char*>(data.data()), data.size()});
    to_client_ += server_.take_output();
    return {hal::NetStatus::ok, data.size()};
  }

  void set_no_delay(hal::StreamId) override {}
  void close(hal::StreamId stream) override {
    if (stream == stream_id) open_ = false;
  }
  void set_receive_interest(hal::StreamId, bool) override {}
  void set_accept_interest(hal::ListenerId, bool) override {}
  void wait(std::uint32_t) override {}

  static constexpr hal::StreamId stream_id = 7;
  hal::Endpoint last_remote;
  std::size_t connects = 0;     // refused ones included
  std::size_t refuse_next = 0;  // how many connections to refuse from now on

 private:
  ScriptedSmarthost& server_;
  FakeClock& clock_;
  bool open_ = false;
  bool refused_ = false;
  std::string to_client_;
};

// TLS is off for this smarthost, but the services need both TLS objects;
// Mbed TLS gets its arena once per process.
CryptoRandom& random_generator() {
  static hal::PosixEntropy entropy;
  tls_arena_init();
  static CryptoRandom random(entropy);
  return random;
}
TlsServer& tls_server() {
  static TlsServer server(random_generator());
  return server;
}
SmarthostTlsClient& smarthost_tls() {
  static SmarthostTlsClient client(random_generator());
  return client;
}

// A report is checked by the lines a reader (or a mail client) looks for.
void expect_fragments(const std::string& text, std::initializer_list<std::string_view> fragments) {
  for (const std::string_view fragment : fragments) {
    EXPECT_NE(text.find(fragment), std::string::npos) << "no \"" << fragment << "\" in:\n" << text;
  }
}

class DeliverySchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string_view line :
         {"host_name = relay.home.example", "local_domains = home.example", "user = alice h1",
          "smarthost_host = 192.0.2.25", "smarthost_port = 25", "smarthost_tls = none",
          // The retry times the tests expect follow from these three; the cap
          // is no doubling of the first wait, so that it shows.
          "retry_initial_s = 10", "retry_max_s = 30", "max_queue_age_s = 1000"}) {
      ASSERT_EQ(apply_config_line(config_, line), "") << line;
    }
    boot();
  }
  void TearDown() override {
    if (HasFailure()) std::printf("relay log:\n%s", log_.all().c_str());
  }

  // A fresh scheduler over a freshly mounted spool: a restart of the relay.
  void boot() {
    scheduler_.reset();
    services_.reset();
    spool_ = std::make_unique<Spool>(chip_.flash(), accounts_);
    ASSERT_EQ(spool_->mount(), SpoolStatus::ok);
    services_.reset(new RelayServices{config_, net_, clock_, log_, *spool_, tls_server(), accounts_, logins_});
    scheduler_ = std::make_unique<DeliveryScheduler>(*services_, smarthost_tls(), resolver_);
  }

  void reboot() {
    clock_.reboot();
    boot();
  }

  MessageId queue_message(std::string_view sender, std::vector<std::string_view> recipients) {
    std::vector<SpoolRecipient> envelope_recipients;
    for (const std::string_view address : recipients) envelope_recipients.push_back({address, ""});
    const SpoolEnvelope envelope{sender, envelope_recipients, false, spool_time_s(clock_)};
    const Outcome stored = store_message(*spool_, envelope, "Subject: hello\r\n\r\nHello there.\r\n");
    EXPECT_EQ(stored.status, SpoolStatus::ok);
    return stored.id;
  }

  // Polls each second up to `until_s` (monotonic), as the loop would, until a
  // round makes no progress. Rounds per second are bounded, so a scheduler
  // that never settles fails instead of hanging.
  void run_until(std::uint64_t until_s) {
    for (; clock_.now_ms <= until_s * 1000; clock_.now_ms += 1000) {
      int rounds = 0;
      while (scheduler_->poll(clock_.now_ms)) ASSERT_LT(++rounds, 200) << "no rest at " << clock_.now_ms << " ms";
    }
    clock_.now_ms -= 1000;  // the last second polled
  }

  // The messages in alice's mailbox, whole.
  std::vector<std::string> mailbox_of_alice() {
    std::vector<MaildropEntry> entries(16);
    entries.resize(spool_->list_mailbox("alice", entries));
    std::vector<std::string> messages;
    for (const MaildropEntry& entry : entries) messages.push_back(read_message(*spool_, entry.id));
    return messages;
  }

  bool owes_anything() { return spool_->next_outbound(0).has_value(); }

  // A message for the smarthost that a slow client is still writing; it
  // commits (durably) with slow_body when the test says.
  static constexpr std::string_view slow_body = "Subject: slow\r\n\r\nAt last.\r\n";
  void open_slow_message(SpoolWriter& slow) {
    const std::vector<SpoolRecipient> recipients{{far_recipient, ""}};
    const SpoolEnvelope envelope{local_sender, recipients, false, spool_time_s(clock_)};
    ASSERT_EQ(spool_->open_message(envelope, slow), SpoolStatus::ok);
  }
  void commit_slow_message(const SpoolWriter& slow) {
    ASSERT_EQ(spool_->append(slow, {reinterpret_cast<const std::uint8_t*>(slow_body.data()), slow_body.size()}),
              SpoolStatus::ok);
    ASSERT_EQ(spool_->commit(slow), SpoolStatus::ok);
    ASSERT_EQ(spool_->sync(), SpoolStatus::ok);
  }

  RelayConfig config_;
  Accounts accounts_{config_};
  LoginService logins_{config_, accounts_};  // no session logs in here
  SimulatedChip chip_{flash_geometry};
  FakeClock clock_;
  RecordingLog log_;
  ScriptedSmarthost smarthost_;
  FakeNet net_{smarthost_, clock_};
  LiteralResolver resolver_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<RelayServices> services_;
  std::unique_ptr<DeliveryScheduler> scheduler_;
};

TEST_F(DeliverySchedulerTest, DeliversToTheConfiguredSmarthost) {
  queue_message(local_sender, {far_recipient});
  run_until(1);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  EXPECT_EQ(smarthost_.delivered[0].sender, local_sender);
  EXPECT_EQ(smarthost_.delivered[0].recipients, std::vector<std::string>{std::string(far_recipient)});
  EXPECT_EQ(smarthost_.delivered[0].body, "Subject: hello\r\n\r\nHello there.\r\n");
  EXPECT_EQ(net_.last_remote.port, 25);
  EXPECT_EQ(net_.last_remote.address.bytes[3], 25);
  EXPECT_EQ(smarthost_.quits, 1u);
  EXPECT_FALSE(owes_anything());
}

// Two clients send at once: the first opens its message (the lower id) but
// commits it after the second's was committed and queued. Both are relayed,
// each once. Before, the scheduler's cursor passed the open message and it
// waited for a restart (tools/simulate, home-router seed 3).
TEST_F(DeliverySchedulerTest, MessageCommittedAfterALaterOneIsRelayedToo) {
  SpoolWriter slow;
  open_slow_message(slow);
  const MessageId fast = queue_message(local_sender, {far_recipient});
  EXPECT_GT(fast, slow.message_id());
  run_until(1);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  commit_slow_message(slow);
  run_until(2);
  ASSERT_EQ(smarthost_.delivered.size(), 2u);
  EXPECT_EQ(smarthost_.delivered[1].body, slow_body);
  run_until(100);
  EXPECT_EQ(smarthost_.delivered.size(), 2u);
  EXPECT_FALSE(owes_anything());
}

// The discovery cursor moves past messages that only local mailboxes hold (so
// that a round does not walk them all again), but never past one still being
// written: the slow message below the local ones, and the remote one after
// them, are each relayed once.
TEST_F(DeliverySchedulerTest, LocalMessagesNeitherHideNorDelayRemoteOnes) {
  const std::vector<SpoolRecipient> alice{{local_sender, "alice"}};
  const auto store_for_alice = [&] {
    const SpoolEnvelope local{local_sender, alice, false, spool_time_s(clock_)};
    ASSERT_EQ(store_message(*spool_, local, "Subject: local\r\n\r\nFor alice.\r\n").status, SpoolStatus::ok);
  };
  SpoolWriter slow;
  open_slow_message(slow);
  for (int local = 0; local < 3; ++local) store_for_alice();
  run_until(1);
  EXPECT_TRUE(smarthost_.delivered.empty());
  commit_slow_message(slow);
  run_until(2);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  EXPECT_EQ(smarthost_.delivered[0].body, slow_body);
  for (int local = 0; local < 3; ++local) store_for_alice();
  run_until(3);
  queue_message(local_sender, {far_recipient});
  run_until(100);
  EXPECT_EQ(smarthost_.delivered.size(), 2u);
  EXPECT_FALSE(owes_anything());
  EXPECT_EQ(mailbox_of_alice().size(), 6u);
}

// Failures at 0, 10, 30, 60 and 90 s: waits of 10, 20, then 30 (the cap, not 40).
// A flash read error in the middle of the body: the smarthost never gets the
// final dot (it would take the part before for the whole message), and the
// recipient stays owed for the next attempt.
TEST_F(DeliverySchedulerTest, UnreadableBodyIsNeverSentAsComplete) {
  std::string body = "Subject: long\r\n\r\n";
  for (int line = 0; line < 300; ++line) body += "line " + std::to_string(1000 + line) + "\r\n";
  const std::array recipients{SpoolRecipient{far_recipient, ""}};
  ASSERT_EQ(store_message(*spool_, {local_sender, recipients, false, spool_time_s(clock_)}, body).status,
            SpoolStatus::ok);
  ASSERT_TRUE(owes_anything());  // verified while the flash still reads well
  const std::string_view image(reinterpret_cast<const char*>(chip_.bytes().data()), chip_.bytes().size());
  const std::size_t found = image.find("line 1250\r\n");
  ASSERT_NE(found, std::string_view::npos);
  chip_.flash().fail_reads_at(static_cast<std::uint32_t>(found));
  run_until(1);
  EXPECT_TRUE(smarthost_.delivered.empty());
  EXPECT_TRUE(owes_anything());
  EXPECT_NE(log_.all().find("message body unreadable"), std::string::npos);
}

TEST_F(DeliverySchedulerTest, TemporaryRcptFailureIsRetriedWithDoublingCappedBackoffAndDeliveredOnce) {
  smarthost_.script_rcpt(far_recipient, {std::string(try_later), std::string(try_later), std::string(try_later),
                                         std::string(try_later), std::string(try_later)});
  queue_message(local_sender, {far_recipient});
  run_until(300);
  EXPECT_EQ(smarthost_.connect_times_s, (std::vector<std::uint64_t>{0, 10, 30, 60, 90, 120}));
  EXPECT_EQ(smarthost_.rcpts_offered.size(), 6u);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  EXPECT_EQ(smarthost_.delivered[0].recipients, std::vector<std::string>{std::string(far_recipient)});
  EXPECT_FALSE(owes_anything());
  EXPECT_EQ(scheduler_->queue().size(), 0u);
  EXPECT_TRUE(mailbox_of_alice().empty()) << "a temporary failure needs no report";
}

TEST_F(DeliverySchedulerTest, PermanentFailureStoresReportForTheSender) {
  smarthost_.script_rcpt(far_recipient, {"550 5.1.1 No such user here"});
  queue_message(local_sender, {far_recipient, far_recipient2});
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u) << "a permanent failure is not retried";
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  EXPECT_EQ(smarthost_.delivered[0].recipients, std::vector<std::string>{std::string(far_recipient2)});
  EXPECT_FALSE(owes_anything());

  const std::vector<std::string> reports = mailbox_of_alice();
  ASSERT_EQ(reports.size(), 1u);
  expect_fragments(reports[0], {"To: <alice@home.example>",
                                "Content-Type: multipart/report; report-type=delivery-status",
                                "Final-Recipient: rfc822; carol@far.example", "Status: 5.1.1",
                                "Diagnostic-Code: smtp; 550 5.1.1 No such user here",
                                "Subject: hello"});  // the original header section
  EXPECT_EQ(reports[0].find("dave@far.example"), std::string::npos) << "only the failed recipient\n" << reports[0];
}

// RFC 5321's 100 recipients, half refused each with a text of its own (as a
// server that names the address in its reply does): more distinct texts than
// an attempt keeps (PIGEON_SMARTHOST_REFUSAL_TEXTS), so the reports go out in
// several parts, and each refused recipient is in one of them with its own
// text, on the one connection, without a retry.
TEST_F(DeliverySchedulerTest, EveryRefusalKeepsItsOwnTextBeyondTheKeptTexts) {
  constexpr int recipient_count = 100;
  std::vector<std::string> addresses;
  for (int i = 0; i < recipient_count; ++i) addresses.push_back("user-" + std::to_string(i) + "@far.example");
  std::vector<std::string_view> views(addresses.begin(), addresses.end());
  for (int i = 0; i < recipient_count; i += 2) {
    smarthost_.script_rcpt(addresses[i], {"550 5.1.1 <" + addresses[i] + ">: no such user"});
  }
  queue_message(local_sender, views);
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u) << "a permanent failure is not retried";
  EXPECT_EQ(smarthost_.rcpts_offered.size(), std::size_t{recipient_count});
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  EXPECT_EQ(smarthost_.delivered[0].recipients.size(), std::size_t{recipient_count / 2});
  EXPECT_FALSE(owes_anything());

  const std::vector<std::string> reports = mailbox_of_alice();
  const std::size_t refused = recipient_count / 2;
  const std::size_t texts = PIGEON_SMARTHOST_REFUSAL_TEXTS;
  EXPECT_EQ(reports.size(), (refused + texts - 1) / texts);
  std::string all;
  for (const std::string& report : reports) all += report;
  for (int i = 0; i < recipient_count; ++i) {
    const std::string final_recipient = "Final-Recipient: rfc822; " + addresses[i] + "\r\n";
    if (i % 2 == 0) {
      expect_fragments(all, {final_recipient, "Diagnostic-Code: smtp; 550 5.1.1 <" + addresses[i] + ">: no such user"});
    } else {
      EXPECT_EQ(all.find(final_recipient), std::string::npos) << addresses[i] << " was relayed";
    }
  }
}

// Reports that find no room (here: beyond a writer's share of the spool)
// leave their refused recipients owed: deferred, then refused again and
// reported at the next attempt, each with its own text.
TEST_F(DeliverySchedulerTest, RefusalsWhoseReportCannotBeStoredAreDeferredAndReportedLater) {
  std::vector<std::string> addresses;
  for (std::size_t i = 0; i <= PIGEON_SMARTHOST_REFUSAL_TEXTS; ++i) {
    addresses.push_back("user-" + std::to_string(i) + "@far.example");
    const std::string refusal = "550 5.1.1 <" + addresses.back() + ">: no such user";
    smarthost_.script_rcpt(addresses.back(), {refusal, refusal});
  }
  std::vector<std::string_view> views(addresses.begin(), addresses.end());
  queue_message(local_sender, views);
  // A report of eight recipients is larger than 1% of this spool; one of one is not.
  spool_->set_writer_share_percent(1);
  run_until(5);
  const std::vector<std::string> first = mailbox_of_alice();
  ASSERT_EQ(first.size(), 1u) << "only the last refusal, alone in its report, found room";
  expect_fragments(first[0], {"Final-Recipient: rfc822; " + addresses.back()});
  EXPECT_EQ(first[0].find(addresses.front()), std::string::npos);
  EXPECT_TRUE(owes_anything()) << "refused recipients without a report stay owed";
  EXPECT_EQ(smarthost_.rcpts_offered.size(), addresses.size());
  EXPECT_NE(log_.all().find("deferred (attempt 1): no room for the delivery report"), std::string::npos);

  spool_->set_writer_share_percent(100);
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s, (std::vector<std::uint64_t>{0, 10})) << "one retry after the backoff";
  EXPECT_FALSE(owes_anything());
  const std::vector<std::string> reports = mailbox_of_alice();
  EXPECT_EQ(reports.size(), 2u);
  std::string all;
  for (const std::string& report : reports) all += report;
  for (const std::string& address : addresses) {
    expect_fragments(all, {"Diagnostic-Code: smtp; 550 5.1.1 <" + address + ">: no such user"});
  }
}

// More distinct refusals than an attempt keeps, from the null sender: no
// report is due, and every refused recipient is settled all the same.
TEST_F(DeliverySchedulerTest, NullSenderRefusalsBeyondTheKeptTextsAreAllSettled) {
  std::vector<std::string> addresses;
  for (std::size_t i = 0; i <= 2 * PIGEON_SMARTHOST_REFUSAL_TEXTS; ++i) {
    addresses.push_back("user-" + std::to_string(i) + "@far.example");
    smarthost_.script_rcpt(addresses.back(), {"550 5.1.1 <" + addresses.back() + ">: no such user"});
  }
  std::vector<std::string_view> views(addresses.begin(), addresses.end());
  queue_message("", views);
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u) << "a permanent failure is not retried";
  EXPECT_EQ(smarthost_.rcpts_offered.size(), addresses.size());
  EXPECT_FALSE(owes_anything()) << "every refusal was settled";
  EXPECT_EQ(spool_->usage().messages, 0u) << "no report stored anywhere";
}

TEST_F(DeliverySchedulerTest, PermanentFailureOfTheNullSenderGetsNoReport) {
  smarthost_.script_rcpt(far_recipient, {"550 5.1.1 No such user here"});
  queue_message("", {far_recipient});
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u);
  EXPECT_TRUE(smarthost_.delivered.empty());
  EXPECT_FALSE(owes_anything());
  EXPECT_TRUE(mailbox_of_alice().empty());
  EXPECT_EQ(spool_->usage().messages, 0u) << "no report stored anywhere";
}

// Tries at 0, 10, 30, then every 30 s: the one at 1020 is the first past
// the maximum age of 1000 s, and its failure expires the message.
TEST_F(DeliverySchedulerTest, MessageOlderThanTheMaximumAgeExpiresWithReport) {
  smarthost_.script_rcpt(far_recipient, std::vector<std::string>(100, std::string(try_later)));
  queue_message(local_sender, {far_recipient});
  run_until(2000);
  ASSERT_FALSE(smarthost_.connect_times_s.empty());
  EXPECT_EQ(smarthost_.connect_times_s.back(), 1020u) << "no tries after expiry";
  EXPECT_TRUE(smarthost_.delivered.empty());
  EXPECT_FALSE(owes_anything());

  const std::vector<std::string> reports = mailbox_of_alice();
  ASSERT_EQ(reports.size(), 1u);
  expect_fragments(reports[0], {"Subject: Undelivered mail: delivery time expired", "multipart/report",
                                "Final-Recipient: rfc822; carol@far.example", "Status: 4.4.7",
                                "Diagnostic-Code: smtp; 451 4.3.0 Try again later"});  // the last reply
}

TEST_F(DeliverySchedulerTest, QueuedMessagesGoOverOneConnection) {
  const std::array<std::string_view, 3> senders{"alice@home.example", "bob@lan.example", ""};
  for (const std::string_view sender : senders) queue_message(sender, {far_recipient});
  run_until(5);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u);
  ASSERT_EQ(smarthost_.delivered.size(), senders.size());
  for (std::size_t i = 0; i < senders.size(); ++i) EXPECT_EQ(smarthost_.delivered[i].sender, senders[i]);
  EXPECT_EQ(smarthost_.quits, 1u);
  EXPECT_FALSE(owes_anything());
}

// An unreachable smarthost costs one connection per retry, not one per
// message: every message due waits for the same next retry.
TEST_F(DeliverySchedulerTest, RefusedConnectionDefersEveryDueMessageTogether) {
  net_.refuse_next = 2;
  queue_message(local_sender, {far_recipient});
  queue_message(local_sender, {far_recipient2});
  run_until(100);
  EXPECT_EQ(net_.connects, 3u);
  EXPECT_EQ(smarthost_.connect_times_s, std::vector<std::uint64_t>{30});
  EXPECT_EQ(smarthost_.delivered.size(), 2u);
  EXPECT_FALSE(owes_anything());
}

TEST_F(DeliverySchedulerTest, DeliveredMessageIsNotSentAgainAfterRemount) {
  queue_message(local_sender, {far_recipient});
  run_until(1);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  reboot();
  run_until(100);
  EXPECT_EQ(smarthost_.connect_times_s.size(), 1u);
  EXPECT_EQ(smarthost_.delivered.size(), 1u);
}

TEST_F(DeliverySchedulerTest, BouncedRecipientIsNotTriedAgainNorReportedTwiceAfterRemount) {
  smarthost_.script_rcpt(far_recipient, {"550 5.1.1 No such user here"});
  queue_message(local_sender, {far_recipient});
  run_until(1);
  ASSERT_EQ(mailbox_of_alice().size(), 1u);
  reboot();
  run_until(100);
  EXPECT_EQ(smarthost_.rcpts_offered.size(), 1u);
  EXPECT_EQ(mailbox_of_alice().size(), 1u);
}

// One recipient relayed, one deferred at wall time T; a restart 3 s later.
// After it only the deferred one is offered, when its backoff (kept on
// flash) ends, and the next backoff goes on doubling.
TEST_F(DeliverySchedulerTest, RemountOffersOnlyTheOwedRecipientWhenItsKeptBackoffEnds) {
  smarthost_.script_rcpt(far_recipient2, {std::string(try_later), std::string(try_later)});
  queue_message(local_sender, {far_recipient, far_recipient2});
  run_until(3);
  ASSERT_EQ(smarthost_.delivered.size(), 1u);
  reboot();
  run_until(100);
  // After the reboot the wall clock is 3 s ahead of the monotonic one:
  // retries at 10 and 30 s of wall time are at 7 and 27 s.
  EXPECT_EQ(smarthost_.connect_times_s, (std::vector<std::uint64_t>{0, 7, 27}));
  EXPECT_EQ(smarthost_.rcpts_offered,
            (std::vector<std::string>{std::string(far_recipient), std::string(far_recipient2),
                                      std::string(far_recipient2), std::string(far_recipient2)}));
  ASSERT_EQ(smarthost_.delivered.size(), 2u);
  EXPECT_EQ(smarthost_.delivered[1].recipients, std::vector<std::string>{std::string(far_recipient2)});
  EXPECT_FALSE(owes_anything());
}

}  // namespace
}  // namespace pigeon::testing
