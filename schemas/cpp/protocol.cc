// Static tables behind protocol.h; keep in step with schemas/protocol.yaml (the schema test checks).
#include "protocol.h"

#include <array>
#include <cstdlib>

namespace titan::wire {
namespace {

using F = FieldSpec;
using T = FieldType;

constexpr F kErrorFields[] = {{"code", T::kStr, false}, {"reason", T::kStr, false}};
constexpr F kHelloFields[] = {{"client", T::kStr, true}};
constexpr F kWelcomeFields[] = {{"node", T::kStr, false},
                                {"version", T::kStr, false},
                                {"store_port", T::kInt, true},
                                {"store_host", T::kStr, true}};
constexpr F kKeyValue[] = {{"key", T::kValue, false}, {"value", T::kValue, false}};
constexpr F kKey[] = {{"key", T::kValue, false}};
constexpr F kKeyMember[] = {{"key", T::kValue, false}, {"member", T::kValue, false}};
constexpr F kIncr[] = {{"key", T::kValue, false}, {"delta", T::kInt, false}};
constexpr F kCas[] = {{"key", T::kValue, false}, {"expected", T::kValue, true}, {"value", T::kValue, false}};
constexpr F kKeys[] = {{"prefix", T::kValue, false}, {"limit", T::kInt, false}};
constexpr F kValueReply[] = {{"found", T::kBool, false}, {"value", T::kValue, true}};
constexpr F kCount[] = {{"count", T::kInt, false}};
constexpr F kList[] = {{"items", T::kListValue, false}, {"truncated", T::kBool, false}};
constexpr F kInt[] = {{"value", T::kInt, false}};
constexpr F kCasResult[] = {{"swapped", T::kBool, false}, {"current", T::kValue, true}};
constexpr F kEnvelope[] = {{"rid", T::kInt, true}};

const MessageSpec kMessages[] = {
    {"ERROR", MsgType::kError, kErrorFields},
    {"HELLO", MsgType::kHello, kHelloFields},
    {"WELCOME", MsgType::kWelcome, kWelcomeFields},
    {"STORE_PUT", MsgType::kStorePut, kKeyValue},
    {"STORE_GET", MsgType::kStoreGet, kKey},
    {"STORE_DELETE", MsgType::kStoreDelete, kKey},
    {"STORE_SADD", MsgType::kStoreSadd, kKeyMember},
    {"STORE_SREM", MsgType::kStoreSrem, kKeyMember},
    {"STORE_SMEMBERS", MsgType::kStoreSmembers, kKey},
    {"STORE_INCR", MsgType::kStoreIncr, kIncr},
    {"STORE_CAS", MsgType::kStoreCas, kCas},
    {"STORE_KEYS", MsgType::kStoreKeys, kKeys},
    {"STORE_OK", MsgType::kStoreOk, {}},
    {"STORE_VALUE", MsgType::kStoreValue, kValueReply},
    {"STORE_COUNT", MsgType::kStoreCount, kCount},
    {"STORE_LIST", MsgType::kStoreList, kList},
    {"STORE_INT", MsgType::kStoreInt, kInt},
    {"STORE_CAS_RESULT", MsgType::kStoreCasResult, kCasResult},
};

// Index by code for O(1) lookup on the hot path.
struct ByCode {
  std::array<const MessageSpec*, 256> table{};
  ByCode() {
    for (const auto& m : kMessages) table[static_cast<uint8_t>(m.type)] = &m;
  }
};
const ByCode& Index() {
  static const ByCode index;
  return index;
}

constexpr ErrorCode kErrorCodes[] = {ErrorCode::kMalformed, ErrorCode::kWrongVersion, ErrorCode::kUnknownType,
                                     ErrorCode::kTooLarge,  ErrorCode::kWrongType,    ErrorCode::kInvalid,
                                     ErrorCode::kUnavailable, ErrorCode::kInternal};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed: return "MALFORMED";
    case ErrorCode::kWrongVersion: return "WRONG_VERSION";
    case ErrorCode::kUnknownType: return "UNKNOWN_TYPE";
    case ErrorCode::kTooLarge: return "TOO_LARGE";
    case ErrorCode::kWrongType: return "WRONG_TYPE";
    case ErrorCode::kInvalid: return "INVALID";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  std::abort();
}

std::span<const ErrorCode> AllErrorCodes() { return kErrorCodes; }

std::string_view FieldTypeName(FieldType t) {
  switch (t) {
    case T::kStr: return "str";
    case T::kBin: return "bin";
    case T::kValue: return "value";
    case T::kInt: return "int";
    case T::kBool: return "bool";
    case T::kMap: return "map";
    case T::kListValue: return "list<value>";
    case T::kListStr: return "list<str>";
  }
  std::abort();
}

std::span<const FieldSpec> EnvelopeFields() { return kEnvelope; }
std::span<const MessageSpec> AllMessages() { return kMessages; }
const MessageSpec* FindMessage(uint8_t code) { return Index().table[code]; }

const MessageSpec& SpecOf(MsgType type) {
  const MessageSpec* spec = FindMessage(static_cast<uint8_t>(type));
  if (spec == nullptr) std::abort();  // every MsgType enumerator has a row
  return *spec;
}

std::string_view NameOf(MsgType type) { return SpecOf(type).name; }

}  // namespace titan::wire
