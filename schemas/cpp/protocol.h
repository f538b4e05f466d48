// The message table of schemas/protocol.yaml, mirrored for C++. protocol_schema_test.cc fails when
// this table and the YAML differ, so the YAML stays the one definition.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace titan::wire {

inline constexpr std::string_view kProtocolName = "TITAN";
inline constexpr uint8_t kProtocolVersion = 1;
// Signature frame: "TITAN" followed by the version byte.
inline constexpr std::string_view kSignature{"TITAN\x01", 6};

inline constexpr size_t kMaxFrames = 16;
inline constexpr size_t kMaxBodyBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxValueBytes = 1024 * 1024;
inline constexpr size_t kMaxMembersReply = 100000;
inline constexpr size_t kMaxChunkBytes = 1024 * 1024;

enum class MsgType : uint8_t {
  kError = 0x01,
  kHello = 0x02,
  kWelcome = 0x03,
  kStorePut = 0x10,
  kStoreGet = 0x11,
  kStoreDelete = 0x12,
  kStoreSadd = 0x13,
  kStoreSrem = 0x14,
  kStoreSmembers = 0x15,
  kStoreIncr = 0x16,
  kStoreCas = 0x17,
  kStoreKeys = 0x18,
  kStoreOk = 0x20,
  kStoreValue = 0x21,
  kStoreCount = 0x22,
  kStoreList = 0x23,
  kStoreInt = 0x24,
  kStoreCasResult = 0x25,
  kOk = 0x30,
  kJobSubmit = 0x31,
  kJobAccepted = 0x32,
  kJobGet = 0x33,
  kJobInfo = 0x34,
  kJobList = 0x35,
  kJobListReply = 0x36,
  kJobLogs = 0x37,
  kJobLogData = 0x38,
  kJobStop = 0x39,
  kJobWait = 0x3a,
  kStatsGet = 0x3b,
  kStats = 0x3c,
  kWorkerStop = 0x3d,
  kGateDecide = 0x3e,
  kWorkerAdd = 0x3f,
  kDagList = 0x40,
  kDagListReply = 0x41,
  kDagGet = 0x42,
  kDagInfo = 0x43,
  kDagCancel = 0x44,
  kRunList = 0x45,
  kRunListReply = 0x46,
  kScheduleAdd = 0x47,
  kScheduleList = 0x48,
  kScheduleListReply = 0x49,
  kScheduleRemove = 0x4a,
  kArtifactPut = 0x60,
  kArtifactUpload = 0x61,
  kArtifactChunk = 0x62,
  kArtifactChunkAck = 0x63,
  kArtifactCommit = 0x64,
  kArtifactAbort = 0x65,
  kArtifactStat = 0x66,
  kArtifactInfo = 0x67,
  kArtifactRead = 0x68,
  kArtifactData = 0x69,
  kArtifactList = 0x6a,
  kArtifactListReply = 0x6b,
  kArtifactDelete = 0x6c,
  kWorkerReady = 0x50,
  kWorkerWelcome = 0x51,
  kHeartbeat = 0x52,
  kJobAssign = 0x53,
  kJobStarted = 0x54,
  kJobLog = 0x55,
  kJobDone = 0x56,
  kJobAck = 0x57,
  kJobCancel = 0x58,
  kWorkerDrain = 0x59,
  kDisconnect = 0x5a,
  kServiceStatus = 0x5b,
  kWorkerSpawn = 0x5c,
  kEventJob = 0x70,
  kEventLog = 0x71,
  kEventWorker = 0x72,
  kEventScale = 0x73,
};

// Error codes carried in ERROR.code, as strings on the wire.
enum class ErrorCode : uint8_t {
  kMalformed,
  kWrongVersion,
  kUnknownType,
  kTooLarge,
  kWrongType,
  kInvalid,
  kNotFound,
  kUnavailable,
  kInternal,
};
std::string_view ErrorCodeName(ErrorCode code);  // "MALFORMED", ...
std::span<const ErrorCode> AllErrorCodes();

enum class FieldType : uint8_t {
  kStr,
  kBin,
  kValue,
  kInt,
  kBool,
  kMap,
  kListValue,
  kListStr,
  kStruct,
  kListStruct
};

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool optional;
  // kStruct / kListStruct only: the struct's name in the schema and its fields.
  std::string_view struct_name = {};
  std::span<const FieldSpec> nested = {};
};

// The type as spelled in the schema: "str", "list<value>", "JobSpec", "list<JobSpec>".
std::string FieldTypeName(const FieldSpec& f);

struct StructSpec {
  std::string_view name;
  std::span<const FieldSpec> fields;
};
std::span<const StructSpec> AllStructs();

struct MessageSpec {
  std::string_view name;  // "STORE_PUT"
  MsgType type;
  std::span<const FieldSpec> fields;
};

// Fields any request or reply may carry besides its own (see `envelope_fields` in the schema).
std::span<const FieldSpec> EnvelopeFields();

std::span<const MessageSpec> AllMessages();
// nullptr when `code` is not a message of this protocol version.
const MessageSpec* FindMessage(uint8_t code);
const MessageSpec& SpecOf(MsgType type);
std::string_view NameOf(MsgType type);

}  // namespace titan::wire
