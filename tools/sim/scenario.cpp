#include "scenario.hpp"

#include <charconv>
#include <functional>
#include <map>

#include "firmware/ip_address.hpp"

namespace pigeon::sim {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  while (!(text = trim(text)).empty()) {
    const std::size_t end = std::min(text.find(' '), text.size());
    out.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
  return out;
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<hal::IpAddress> parse_address(std::string_view text) { return parse_ip_address(text); }

// "latency=2ms jitter=1ms bytes_per_ms=1000 stalls_per_million=500 stall=300ms"
bool parse_link(std::string_view text, hal::SimLink& link) {
  for (std::string_view word : words(text)) {
    const std::size_t equals = word.find('=');
    if (equals == std::string_view::npos) return false;
    const std::string_view key = word.substr(0, equals), value = word.substr(equals + 1);
    std::optional<std::uint64_t> number =
        key == "bytes_per_ms" || key == "stalls_per_million" ? parse_number<std::uint64_t>(value) : parse_duration_ms(value);
    if (!number || *number > UINT32_MAX) return false;
    const auto field = static_cast<std::uint32_t>(*number);
    if (key == "latency") link.latency_ms = field;
    else if (key == "jitter") link.jitter_ms = field;
    else if (key == "bytes_per_ms") link.bytes_per_ms = field;
    else if (key == "stalls_per_million") link.stall_per_million = field;
    else if (key == "stall") link.stall_ms = field;
    else return false;
  }
  return true;
}

class Parser {
 public:
  std::optional<Scenario> parse(std::string_view text, std::string& error) {
    for (std::size_t number = 1; !text.empty(); ++number) {
      const std::size_t end = std::min(text.find('\n'), text.size());
      std::string_view line = text.substr(0, end);
      text.remove_prefix(std::min(end + 1, text.size()));
      if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim(line);
      if (line.empty()) continue;
      const std::string problem = line.front() == '[' ? section(line) : key_value(line);
      if (!problem.empty()) {
        error = "line " + std::to_string(number) + ": " + problem;
        return std::nullopt;
      }
    }
    return scenario_;
  }

 private:
  std::string section(std::string_view line) {
    if (line.back() != ']') return "a section header ends with ]";
    const std::vector<std::string_view> parts = words(line.substr(1, line.size() - 2));
    if (parts.empty() || parts.size() > 2) return "a section is [kind] or [kind name]";
    kind_ = parts[0];
    const std::string name(parts.size() == 2 ? parts[1] : "");
    if (kind_ == "world" || kind_ == "faults") return parts.size() == 1 ? "" : "[" + kind_ + "] has no name";
    if (name.empty()) return "[" + kind_ + "] needs a name";
    if (kind_ == "relay") {
      scenario_.relays.emplace_back();
      scenario_.relays.back().settings.name = name;
    } else if (kind_ == "smarthost") {
      scenario_.smarthosts.emplace_back();
      scenario_.smarthosts.back().settings.name = name;
    } else if (kind_ == "devices") {
      scenario_.devices.emplace_back();
      scenario_.devices.back().name = name;
    } else if (kind_ == "reader") {
      scenario_.readers.emplace_back();
      scenario_.readers.back().settings.name = name;
    } else if (kind_ == "alerts") {
      scenario_.alerts.emplace_back();
      scenario_.alerts.back().name = name;
    } else {
      return "unknown section kind '" + kind_ + "'";
    }
    return "";
  }

  std::string key_value(std::string_view line) {
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) return "expected key = value";
    const std::string key(trim(line.substr(0, equals)));
    value_ = trim(line.substr(equals + 1));
    if (kind_.empty()) return "a key before the first section";
    if (kind_ == "world") return world(key);
    if (kind_ == "faults") return faults(key);
    if (kind_ == "relay") return relay(key, scenario_.relays.back());
    if (kind_ == "smarthost") return smarthost(key, scenario_.smarthosts.back());
    if (kind_ == "devices") return devices(key, scenario_.devices.back());
    if (kind_ == "reader") return reader(key, scenario_.readers.back());
    return alerts(key, scenario_.alerts.back());
  }

  std::string duration(std::uint64_t& out) {
    const auto value = parse_duration_ms(value_);
    if (!value) return "'" + std::string(value_) + "' is not a duration (90s, 15m, 2h, 1d)";
    out = *value;
    return "";
  }

  std::string client_tls(ClientTls& out) {
    const auto mode = client_tls_from_name(value_);
    if (!mode) return "tls is none, starttls or implicit, not '" + std::string(value_) + "'";
    out = *mode;
    return "";
  }

  template <typename Number>
  std::string number(Number& out) {
    const auto value = parse_number<Number>(value_);
    if (!value) return "'" + std::string(value_) + "' is not a number";
    out = *value;
    return "";
  }

  std::string address(hal::IpAddress& out) {
    const auto value = parse_address(value_);
    if (!value) return "'" + std::string(value_) + "' is not an IP address";
    out = *value;
    return "";
  }

  std::string link(hal::SimLink& out) {
    return parse_link(value_, out) ? "" : "a link is latency=, jitter=, bytes_per_ms=, stalls_per_million=, stall=";
  }

  std::string text(std::string& out) {
    out = value_;
    return "";
  }

  std::string world(const std::string& key) {
    if (key == "name") return text(scenario_.name);
    if (key == "duration") return duration(scenario_.duration_ms);
    if (key == "faults_until") return duration(scenario_.faults_until_ms);
    if (key == "drain_limit") return duration(scenario_.drain_limit_ms);
    if (key == "reset_after") return duration(scenario_.reset_after_ms);
    if (key == "epoch") return number(scenario_.epoch_s);
    return "unknown key '" + key + "' in [world]";
  }

  std::string relay(const std::string& key, RelaySpec& spec) {
    if (key == "address") return address(spec.address);
    if (key == "link") return link(spec.link);
    if (key == "smarthost") return text(spec.smarthost);
    if (key == "config") {
      spec.settings.config_lines.emplace_back(value_);
      return "";
    }
    if (key == "boot") return duration(spec.settings.boot_ms);
    if (key == "user") {
      const auto parts = words(value_);
      if (parts.size() != 2) return "user = NAME PASSWORD";
      spec.settings.users.push_back({std::string(parts[0]), std::string(parts[1])});
      return "";
    }
    if (key == "flash") {  // SECTORS x SECTOR_BYTES
      const auto parts = words(value_);
      const auto sectors = parts.size() == 3 ? parse_number<std::uint32_t>(parts[0]) : std::nullopt;
      const auto bytes = parts.size() == 3 ? parse_number<std::uint32_t>(parts[2]) : std::nullopt;
      if (!sectors || !bytes || parts[1] != "x" || *sectors > hal::RamFlash::max_sectors) {
        return "flash = SECTORS x SECTOR_BYTES, at most 1024 sectors";
      }
      spec.settings.flash = {*bytes, *sectors, 16};
      return "";
    }
    return "unknown key '" + key + "' in [relay]";
  }

  std::string smarthost(const std::string& key, SmarthostSpec& spec) {
    if (key == "address") return address(spec.address);
    if (key == "link") return link(spec.link);
    if (key == "port") return number(spec.settings.port);
    if (key == "greylist_delay") return duration(spec.settings.greylist_delay_ms);
    if (key == "tls") {
      if (value_ != "starttls" && value_ != "none") return "tls = starttls | none";
      spec.settings.starttls = value_ == "starttls";
      return "";
    }
    if (key == "mode") {  // MODE FROM UNTIL
      const auto parts = words(value_);
      const auto mode = parts.size() == 3 ? mode_from_name(parts[0]) : std::nullopt;
      const auto from = parts.size() == 3 ? parse_duration_ms(parts[1]) : std::nullopt;
      const auto until = parts.size() == 3 ? parse_duration_ms(parts[2]) : std::nullopt;
      if (!mode || !from || !until || *until <= *from) {
        return "mode = accept|greylist|refuse|hang|drop|lose_reply|bad_cert FROM UNTIL";
      }
      spec.settings.schedule.push_back({*mode, *from, *until});
      return "";
    }
    return "unknown key '" + key + "' in [smarthost]";
  }

  std::string devices(const std::string& key, DeviceGroup& group) {
    if (key == "count") return number(group.count);
    if (key == "first_address") return address(group.first_address);
    if (key == "link") return link(group.link);
    if (key == "relay") return text(group.relay);
    if (key == "from") return text(group.settings.from);
    if (key == "to") return text(group.settings.to);
    if (key == "interval") return duration(group.settings.interval_ms);
    if (key == "body_bytes") return number(group.settings.body_bytes);
    if (key == "tls") return client_tls(group.settings.tls.mode);
    if (key == "auth") {  // USER PASSWORD
      const auto parts = words(value_);
      if (parts.size() != 2) return "auth is USER PASSWORD";
      group.settings.user = parts[0];
      group.settings.password = parts[1];
      return "";
    }
    return "unknown key '" + key + "' in [devices]";
  }

  std::string reader(const std::string& key, ReaderSpec& spec) {
    if (key == "address") return address(spec.address);
    if (key == "link") return link(spec.link);
    if (key == "relay") return text(spec.relay);
    if (key == "user") return text(spec.settings.user);
    if (key == "password") return text(spec.settings.password);
    if (key == "interval") return duration(spec.settings.interval_ms);
    if (key == "tls") return client_tls(spec.settings.tls.mode);
    return "unknown key '" + key + "' in [reader]";
  }

  std::string alerts(const std::string& key, AlertSpec& spec) {
    if (key == "relay") return text(spec.relay);
    if (key == "to") return text(spec.to);
    if (key == "keys") return number(spec.keys);
    if (key == "interval") return duration(spec.interval_ms);
    if (key == "from") return duration(spec.from_ms);
    if (key == "until") return duration(spec.until_ms);
    if (key == "via") {
      if (value_ != "api" && value_ != "endpoint") return "via is api or endpoint";
      spec.via_endpoint = value_ == "endpoint";
      return "";
    }
    if (key == "address") return address(spec.address);
    if (key == "link") return link(spec.link);
    return "unknown key '" + key + "' in [alerts]";
  }

  // cut = A B at=3h for=20m | cut = A B count=6 for=1m..45m
  // power = RELAY count=4 | power = RELAY at=5h torn|clean
  // clock = RELAY at=12h jump=+2h|-30m
  std::string faults(const std::string& key) {
    const auto parts = words(value_);
    std::map<std::string, std::string, std::less<>> options;
    std::vector<std::string_view> names;
    for (std::string_view part : parts) {
      const std::size_t equals = part.find('=');
      if (equals == std::string_view::npos) names.push_back(part);
      else options[std::string(part.substr(0, equals))] = part.substr(equals + 1);
    }
    auto option_duration = [&](const char* name) -> std::optional<std::uint64_t> {
      const auto found = options.find(name);
      return found == options.end() ? std::nullopt : parse_duration_ms(found->second);
    };
    auto option_count = [&]() -> std::optional<std::uint32_t> {
      const auto found = options.find("count");
      return found == options.end() ? std::optional<std::uint32_t>(1) : parse_number<std::uint32_t>(found->second);
    };
    if (key == "cut") {
      CutSpec cut;
      const auto length = options.count("for") ? options["for"] : std::string();
      const std::size_t dots = length.find("..");
      const auto low = parse_duration_ms(length.substr(0, dots));
      const auto high = dots == std::string::npos ? low : parse_duration_ms(length.substr(dots + 2));
      const auto count = option_count();
      if (names.size() != 2 || !low || !high || *high < *low || !count) {
        return "cut = HOST HOST (at=TIME | count=N) for=LENGTH[..LENGTH]";
      }
      cut.a = names[0];
      cut.b = names[1];
      cut.at_ms = option_duration("at");
      cut.count = *count;
      cut.min_ms = *low;
      cut.max_ms = *high;
      scenario_.cuts.push_back(cut);
      return "";
    }
    if (key == "power") {
      PowerSpec power;
      const auto count = option_count();
      if (names.empty() || names.size() > 2 || !count) return "power = RELAY [torn|clean] (at=TIME | count=N)";
      power.relay = names[0];
      if (names.size() == 2) {
        if (names[1] != "torn" && names[1] != "clean") return "power = RELAY [torn|clean] (at=TIME | count=N)";
        power.torn = names[1] == "torn";
      }
      power.at_ms = option_duration("at");
      power.count = *count;
      scenario_.power_cuts.push_back(power);
      return "";
    }
    if (key == "clock") {
      const auto at = option_duration("at");
      const std::string jump = options.count("jump") ? options["jump"] : std::string();
      const bool back = jump.starts_with('-');
      const auto seconds = jump.size() > 1 && (back || jump[0] == '+') ? parse_duration_ms(jump.substr(1)) : std::nullopt;
      if (names.size() != 1 || !at || !seconds) return "clock = RELAY at=TIME jump=+LENGTH|-LENGTH";
      const auto magnitude = static_cast<std::int64_t>(*seconds / 1000);
      scenario_.clock_jumps.push_back({std::string(names[0]), *at, back ? -magnitude : magnitude});
      return "";
    }
    return "unknown fault '" + key + "' (cut, power, clock)";
  }

  Scenario scenario_;
  std::string kind_;
  std::string_view value_;
};

}  // namespace

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const auto value = parse_number<std::uint64_t>(text.substr(0, digits));
  if (!value) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit.empty() || unit == "s") scale = 1'000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  else return std::nullopt;
  return *value * scale;
}

std::optional<Scenario> parse_scenario(std::string_view text, std::string& error) { return Parser().parse(text, error); }

}  // namespace pigeon::sim
