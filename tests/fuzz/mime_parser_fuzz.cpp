// Fuzzes the MIME parser: any bytes as a message. Every part lies inside the
// message, its header before its body; a child lies inside its parent's body,
// after its previous sibling; a body has no more line breaks than bytes; and feeding
// the message whole or in pieces gives the same structure. The same bytes
// through the transfer decoders (base64, quoted-printable): whole and in
// pieces give the same output, never longer than the input.
#include <string>

#include "protocol/mime_decoder.hpp"
#include "protocol/mime_parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

using protocol::mime::no_parent;
using protocol::mime::Part;
using protocol::mime::PartKind;
using protocol::mime::Structure;

Structure parse(std::span<const std::uint8_t> message, const std::vector<std::size_t>& pieces) {
  Structure structure;
  protocol::mime::Parser parser(structure);
  std::size_t offset = 0;
  for (const std::size_t piece : pieces) {
    parser.feed(message.subspan(offset, piece));
    offset += piece;
  }
  parser.finish();
  return structure;
}

void check(const Structure& structure, std::size_t message_bytes) {
  require(structure.count >= 1 && structure.count <= Structure::max_parts);
  require(structure.parts[0].parent == no_parent && structure.parts[0].header_offset == 0);
  require(structure.parts[0].body_end == message_bytes);
  for (std::uint8_t i = 0; i < structure.count; ++i) {
    const Part& part = structure.parts[i];
    require(part.header_offset <= part.body_offset && part.body_offset <= part.body_end);
    require(part.body_end <= message_bytes);
    require(part.body_lines <= part.body_bytes());
    if (i > 0) {
      require(part.parent < i);
      const Part& parent = structure.parts[part.parent];
      require(parent.kind == PartKind::multipart || parent.kind == PartKind::message);
      require(parent.body_offset <= part.header_offset && part.body_end <= parent.body_end);
      if (parent.kind == PartKind::message) require(part.header_offset == parent.body_offset);
    }
    if (const auto next = structure.next_sibling(i)) require(part.body_end <= structure.parts[*next].header_offset);
    if (part.kind == PartKind::message) require(structure.first_child(i).has_value());
  }
}

class StringSink final : public protocol::imap::ByteSink {
 public:
  void put(std::span<const std::uint8_t> bytes) override { text.append(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }
  std::string text;
};

std::string decode(protocol::mime::Encoding encoding, std::span<const std::uint8_t> encoded,
                   const std::vector<std::size_t>& pieces) {
  protocol::mime::TransferDecoder decoder(encoding);
  StringSink sink;
  std::size_t offset = 0;
  for (const std::size_t piece : pieces) {
    const std::size_t before = sink.text.size();
    decoder.feed(encoded.subspan(offset, piece), sink);
    require(sink.text.size() - before <= piece + protocol::mime::TransferDecoder::held_bytes);
    offset += piece;
  }
  decoder.finish(sink);
  require(sink.text.size() <= encoded.size() + 1);  // an escape cut short comes out whole
  return sink.text;
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pigeon::fuzz;
  const Tape tape({data, size});
  const auto message = tape.session();
  const Structure whole = parse(message, {message.size()});
  check(whole, message.size());
  const Structure split = parse(message, piece_sizes(tape, message.size()));
  require(whole == split);
  const auto encoding = static_cast<pigeon::protocol::mime::Encoding>(tape.at(3) % 3);
  require(decode(encoding, message, {message.size()}) == decode(encoding, message, piece_sizes(tape, message.size())));
  return 0;
}
