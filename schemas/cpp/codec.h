// Message <-> frames. Decoding never trusts the peer: every outcome is a DecodeStatus, never a throw.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "schemas/cpp/datum.h"
#include "schemas/generated/protocol.h"

namespace titan::wire {

// One protocol message: its type, its body fields and any raw blob frames.
struct Message {
  MsgType type = MsgType::kError;
  Map body;
  std::vector<std::string> blobs;

  // nullptr when the field is absent.
  const Datum* Find(std::string_view name) const;
  // Typed reads for fields a validated message is known to have; absent or nil gives the default.
  std::string_view Bytes(std::string_view name) const;  // str or bin field
  int64_t Int(std::string_view name, int64_t dflt = 0) const;
  bool Bool(std::string_view name, bool dflt = false) const;
  bool Has(std::string_view name) const;  // present and not nil
  // Sets (or replaces) a field; returns *this for chaining. `name` must be a field of this type in the
  // schema or an envelope field (asserted: a misspelled name is our bug; Encode refuses it in every build).
  // Prefer the typed structs of schemas/generated/messages.h, where a misspelled field does not compile.
  Message& Set(std::string_view name, Datum value);
};

Message MakeMessage(MsgType type);
Message MakeError(ErrorCode code, std::string reason);
// The ERROR reply for a failed Status: its code on the wire, its message as the reason. The one place
// where Status codes and wire error codes meet (both follow schemas/protocol.yaml `errors`).
Message MakeError(const Status& failed);
ErrorCode ErrorCodeOf(Status::Code code);
// The Status an ERROR reply stands for (code and reason); Ok for any other message.
Status StatusOf(const Message& reply);

enum class DecodeStatus { kOk, kMalformed, kWrongVersion, kUnknownType, kTooLarge };

struct Decoded {
  DecodeStatus status = DecodeStatus::kMalformed;
  std::string reason;          // empty when ok; a readable sentence otherwise
  Message msg;                 // valid only when ok
  std::optional<int64_t> rid;  // the request id, whenever the body could be read far enough
  ErrorCode error_code() const;
};

// Decodes [signature][type][body][blob]* (routing envelope already removed).
Decoded Decode(std::span<const std::string_view> frames);
Decoded Decode(const std::vector<std::string>& frames);

// Checks `msg` against its schema row; on failure sets `reason` and returns false.
bool Validate(const Message& msg, std::string* reason);

// INTERNAL naming the first field of `msg` (nested struct fields included) that the schema does not
// have for its type. Decode keeps only schema fields, so a failure is always a bug of the sender's code.
Status CheckFieldNames(const Message& msg);

// Encodes to [signature][type][body][blob]*. Fields are written in schema order (canonical bytes).
// A field the schema lacks (CheckFieldNames) is our bug: asserted in debug builds; a release build encodes
// ERROR INTERNAL naming it instead, so the peer sees the bug rather than a message missing a field.
std::vector<std::string> Encode(const Message& msg);

// Convenience for a `value` field: Text when `text` is true, else Bytes.
Datum ValueDatum(std::string bytes, bool text);

}  // namespace titan::wire
