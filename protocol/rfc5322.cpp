#include "rfc5322.hpp"

#include <array>

#include "ascii.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Days since 1970-01-01 to a proleptic Gregorian date (the well-known
// era-based conversion: 400-year eras of 146097 days).
CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned month_index = (5 * day_of_year + 2) / 153;  // March = 0
  const unsigned day = day_of_year - (153 * month_index + 2) / 5 + 1;
  const unsigned month = month_index < 10 ? month_index + 3 : month_index - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

constexpr std::array<std::string_view, 7> weekdays{"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A field's text can stand in a header line: no CR, LF or other control byte
// that would end the line or hide what follows.
bool header_safe(std::string_view text) {
  for (const char c : text) {
    if (ascii::is_control(c)) return false;
  }
  return true;
}

}  // namespace

std::string_view format_date(std::int64_t unix_time_s, std::span<char, 32> out) {
  const std::int64_t seconds_per_day = 86400;
  std::int64_t days = unix_time_s / seconds_per_day;
  std::int64_t second_of_day = unix_time_s % seconds_per_day;
  if (second_of_day < 0) second_of_day += seconds_per_day, --days;
  const CivilDate date = civil_from_days(days);
  // 1970-01-01 was a Thursday, the first entry of `weekdays`.
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7) % 7);

  TextBuilder writer(out);
  writer.text(weekdays[weekday]);
  writer.text(", ");
  writer.number(date.day, 2);
  writer.text(" ");
  writer.text(months[date.month - 1]);
  writer.text(" ");
  writer.number(date.year, 4);
  writer.text(" ");
  writer.number(second_of_day / 3600, 2);
  writer.text(":");
  writer.number(second_of_day / 60 % 60, 2);
  writer.text(":");
  writer.number(second_of_day % 60, 2);
  writer.text(" +0000");
  return writer.view();
}

std::size_t write_received_header(const ReceivedTrace& trace, std::span<char> out) {
  // The engines check what clients send; this is the last line of defence.
  for (const std::string_view field :
       {trace.helo_name, trace.client_ip, trace.host_name, trace.protocol, trace.id, trace.recipient}) {
    if (!header_safe(field)) return 0;
  }
  std::array<char, 32> date{};
  TextBuilder writer(out);
  writer.text("Received: from ");
  writer.text(trace.helo_name.empty() ? std::string_view("unknown") : trace.helo_name);
  writer.text(" ([");
  writer.text(trace.client_ip);
  writer.text("])\r\n\tby ");
  writer.text(trace.host_name);
  writer.text(" (pigeon) with ");
  writer.text(trace.protocol);
  writer.text(" id ");
  writer.text(trace.id);
  if (!trace.recipient.empty()) {
    writer.text("\r\n\tfor <");
    writer.text(trace.recipient);
    writer.text(">");
  }
  writer.text(";\r\n\t");
  writer.text(format_date(trace.unix_time_s, date));
  writer.text("\r\n");
  return writer.view().size();
}

}  // namespace pigeon::protocol
