// Static tables behind protocol.h; keep in step with schemas/protocol.yaml (the schema test checks).
#include "schemas/cpp/protocol.h"

#include <array>
#include <cstdlib>

namespace titan::wire {
namespace {

using F = FieldSpec;
using T = FieldType;

constexpr F kErrorFields[] = {{"code", T::kStr, false}, {"reason", T::kStr, false}};
constexpr F kHelloFields[] = {{"client", T::kStr, true}};
constexpr F kWelcomeFields[] = {{"node", T::kStr, false},       {"version", T::kStr, false},
                                {"store_port", T::kInt, true},  {"store_host", T::kStr, true},
                                {"worker_port", T::kInt, true}, {"pub_port", T::kInt, true}};
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

// ---- structs ----
constexpr F kJobSpec[] = {
    {"id", T::kStr, false},         {"file", T::kStr, false},        {"args", T::kStr, true},
    {"job_type", T::kStr, true},    {"port", T::kInt, true},         {"priority", T::kInt, true},
    {"delay_ms", T::kInt, true},    {"requirement", T::kStr, true},  {"affinity", T::kBool, true},
    {"parents", T::kListStr, true}, {"retries", T::kInt, true},      {"timeout_ms", T::kInt, true},
    {"env", T::kListStr, true},     {"hitl_message", T::kStr, true}, {"max_wait_s", T::kInt, true},
    {"archive", T::kBool, true},    {"health_cmd", T::kStr, true},   {"max_restarts", T::kInt, true},
    {"spawned_by", T::kStr, true}};
constexpr F kFileBlob[] = {{"name", T::kStr, false}, {"content", T::kBin, true}, {"sha256", T::kStr, true}};
constexpr F kJobInfo[] = {
    {"id", T::kStr, false},          {"state", T::kStr, false},        {"file", T::kStr, false},
    {"requirement", T::kStr, false}, {"priority", T::kInt, false},     {"attempt", T::kInt, false},
    {"parents", T::kListStr, false}, {"worker", T::kStr, true},        {"exit_code", T::kInt, true},
    {"reason", T::kStr, true},       {"submitted_ms", T::kInt, false}, {"started_ms", T::kInt, true},
    {"finished_ms", T::kInt, true},  {"dag", T::kStr, true},           {"kind", T::kStr, true},
    {"message", T::kStr, true},      {"decided_by", T::kStr, true},    {"job_type", T::kStr, true},
    {"port", T::kInt, true},         {"restarts", T::kInt, true},      {"ready", T::kBool, true},
    {"run", T::kInt, true},          {"up_since_ms", T::kInt, true}};
constexpr F kDagInfo[] = {
    {"id", T::kStr, false},          {"name", T::kStr, false},         {"state", T::kStr, false},
    {"agent_run_id", T::kStr, true}, {"jobs", T::kInt, false},         {"done", T::kInt, false},
    {"failed", T::kInt, false},      {"submitted_ms", T::kInt, false}, {"finished_ms", T::kInt, true}};
constexpr F kScheduleInfo[] = {{"name", T::kStr, false},
                               {"cron", T::kStr, false},
                               {"jobs", T::kInt, false},
                               {"next_ms", T::kInt, false},
                               {"last_ms", T::kInt, true}};
constexpr F kWorkerInfo[] = {{"name", T::kStr, false},
                             {"host", T::kStr, false},
                             {"slots", T::kInt, false},
                             {"busy", T::kInt, false},
                             {"capabilities", T::kListStr, false},
                             {"state", T::kStr, false},
                             {"running", T::kListStr, false},
                             {"seen_ms_ago", T::kInt, false},
                             {"parent", T::kStr, true},
                             {"port", T::kInt, true}};
constexpr F kArtifactInfo[] = {{"space", T::kStr, false},
                               {"name", T::kStr, false},
                               {"sha256", T::kStr, false},
                               {"size", T::kInt, false},
                               {"created_ms", T::kInt, false}};
constexpr F kScaleEvent[] = {{"action", T::kStr, false},
                             {"worker", T::kStr, false},
                             {"parent", T::kStr, false},
                             {"reason", T::kStr, false},
                             {"ts_ms", T::kInt, false}};
constexpr F kJobRef[] = {{"id", T::kStr, false}, {"attempt", T::kInt, false}};
constexpr F kJobResult[] = {{"id", T::kStr, false},         {"attempt", T::kInt, false},
                            {"exit_code", T::kInt, false},  {"signal", T::kInt, false},
                            {"cancelled", T::kBool, false}, {"reason", T::kStr, true}};

constexpr StructSpec kStructs[] = {
    {"JobSpec", kJobSpec},           {"FileBlob", kFileBlob},         {"JobInfo", kJobInfo},
    {"DagInfo", kDagInfo},           {"ScheduleInfo", kScheduleInfo}, {"WorkerInfo", kWorkerInfo},
    {"ArtifactInfo", kArtifactInfo}, {"ScaleEvent", kScaleEvent},     {"JobRef", kJobRef},
    {"JobResult", kJobResult}};

// ---- client dialog ----
constexpr F kJobSubmit[] = {{"jobs", T::kListStruct, false, "JobSpec", kJobSpec},
                            {"files", T::kListStruct, false, "FileBlob", kFileBlob},
                            {"dag", T::kStr, true},
                            {"agent_run_id", T::kStr, true}};
constexpr F kJobAccepted[] = {{"ids", T::kListStr, false}, {"dag", T::kStr, true}};
constexpr F kId[] = {{"id", T::kStr, false}};
constexpr F kJobGet[] = {{"id", T::kStr, false}, {"run", T::kInt, true}};
constexpr F kOkFields[] = {{"name", T::kStr, true}};
constexpr F kWorkerAdd[] = {{"port", T::kInt, true}, {"capability", T::kStr, true}, {"slots", T::kInt, true}};
constexpr F kJobInfoReply[] = {
    {"found", T::kBool, false}, {"job", T::kStruct, true, "JobInfo", kJobInfo}, {"runs", T::kInt, true}};
constexpr F kJobList[] = {{"state", T::kStr, true}, {"limit", T::kInt, false}, {"job_type", T::kStr, true}};
constexpr F kJobListReply[] = {{"jobs", T::kListStruct, false, "JobInfo", kJobInfo},
                               {"truncated", T::kBool, false}};
constexpr F kJobLogs[] = {{"id", T::kStr, false},
                          {"offset", T::kInt, false},
                          {"max_bytes", T::kInt, false},
                          {"run", T::kInt, true}};
constexpr F kJobLogData[] = {{"id", T::kStr, false},
                             {"offset", T::kInt, false},
                             {"next_offset", T::kInt, false},
                             {"complete", T::kBool, false}};
constexpr F kJobWait[] = {{"id", T::kStr, false}, {"timeout_ms", T::kInt, false}};
constexpr F kStats[] = {{"workers", T::kListStruct, false, "WorkerInfo", kWorkerInfo},
                        {"pending", T::kInt, false},
                        {"blocked", T::kInt, false},
                        {"scheduled", T::kInt, false},
                        {"queued", T::kInt, false},
                        {"running", T::kInt, false},
                        {"unsatisfiable", T::kInt, false},
                        {"completed", T::kInt, false},
                        {"failed", T::kInt, false},
                        {"scaling", T::kListStruct, true, "ScaleEvent", kScaleEvent}};
constexpr F kName[] = {{"name", T::kStr, false}};
constexpr F kGateDecide[] = {
    {"id", T::kStr, false}, {"approve", T::kBool, false}, {"reason", T::kStr, true}, {"by", T::kStr, true}};
constexpr F kDagList[] = {{"agent_run_id", T::kStr, true}, {"limit", T::kInt, false}};
constexpr F kDagListReply[] = {{"dags", T::kListStruct, false, "DagInfo", kDagInfo}};
constexpr F kDagInfoReply[] = {{"found", T::kBool, false},
                               {"dag", T::kStruct, true, "DagInfo", kDagInfo},
                               {"jobs", T::kListStruct, false, "JobInfo", kJobInfo}};
constexpr F kLimit[] = {{"limit", T::kInt, false}};
constexpr F kRunListReply[] = {{"runs", T::kListStruct, false, "DagInfo", kDagInfo}};
constexpr F kScheduleAdd[] = {{"name", T::kStr, false},
                              {"cron", T::kStr, false},
                              {"jobs", T::kListStruct, false, "JobSpec", kJobSpec},
                              {"files", T::kListStruct, false, "FileBlob", kFileBlob},
                              {"dag", T::kStr, true}};
// ---- artifacts ----
constexpr F kArtifactPut[] = {
    {"space", T::kStr, false}, {"name", T::kStr, false}, {"size", T::kInt, false}, {"sha256", T::kStr, true}};
constexpr F kArtifactUpload[] = {
    {"upload", T::kStr, false}, {"chunk_bytes", T::kInt, false}, {"credit", T::kInt, false}};
constexpr F kArtifactChunk[] = {
    {"upload", T::kStr, false}, {"offset", T::kInt, false}, {"crc32", T::kInt, false}};
constexpr F kArtifactChunkAck[] = {{"upload", T::kStr, false}, {"received", T::kInt, false}};
constexpr F kUpload[] = {{"upload", T::kStr, false}};
constexpr F kSpaceName[] = {{"space", T::kStr, false}, {"name", T::kStr, false}};
constexpr F kArtifactInfoReply[] = {{"artifact", T::kStruct, false, "ArtifactInfo", kArtifactInfo}};
constexpr F kArtifactRead[] = {
    {"sha256", T::kStr, false}, {"offset", T::kInt, false}, {"length", T::kInt, false}};
constexpr F kArtifactData[] = {
    {"sha256", T::kStr, false}, {"offset", T::kInt, false}, {"size", T::kInt, false}};
constexpr F kArtifactList[] = {{"space", T::kStr, true}};
constexpr F kArtifactListReply[] = {{"artifacts", T::kListStruct, false, "ArtifactInfo", kArtifactInfo}};
constexpr F kScheduleListReply[] = {{"schedules", T::kListStruct, false, "ScheduleInfo", kScheduleInfo}};

// ---- worker dialog ----
constexpr F kWorkerReady[] = {{"name", T::kStr, false},
                              {"host", T::kStr, false},
                              {"pid", T::kInt, false},
                              {"slots", T::kInt, false},
                              {"capabilities", T::kListStr, false},
                              {"running", T::kListStruct, false, "JobRef", kJobRef},
                              {"finished", T::kListStruct, false, "JobResult", kJobResult},
                              {"parent", T::kStr, true},
                              {"port", T::kInt, true}};
constexpr F kWorkerWelcome[] = {
    {"heartbeat_ms", T::kInt, false}, {"store_port", T::kInt, true}, {"pub_port", T::kInt, true}};
constexpr F kHeartbeat[] = {{"busy", T::kInt, true}, {"draining", T::kBool, true}};
constexpr F kJobAssign[] = {{"job", T::kStruct, false, "JobSpec", kJobSpec},
                            {"attempt", T::kInt, false},
                            {"file_sha256", T::kStr, false},
                            {"file_size", T::kInt, false},
                            {"shared_workdir", T::kBool, true},
                            {"first_attempt", T::kInt, true}};
constexpr F kJobStarted[] = {{"id", T::kStr, false}, {"attempt", T::kInt, false}, {"pid", T::kInt, false}};
constexpr F kJobLog[] = {
    {"id", T::kStr, false}, {"attempt", T::kInt, false}, {"seq", T::kInt, false}, {"stream", T::kStr, false}};
constexpr F kJobDone[] = {{"result", T::kStruct, false, "JobResult", kJobResult}};
constexpr F kJobCancel[] = {{"id", T::kStr, false}, {"attempt", T::kInt, false}, {"reason", T::kStr, false}};
constexpr F kReason[] = {{"reason", T::kStr, false}};
constexpr F kServiceStatus[] = {{"id", T::kStr, false},     {"attempt", T::kInt, false},
                                {"ready", T::kBool, false}, {"restarts", T::kInt, false},
                                {"pid", T::kInt, false},    {"reason", T::kStr, true}};
constexpr F kWorkerSpawn[] = {{"name", T::kStr, false},   {"slots", T::kInt, false},
                              {"reason", T::kStr, false}, {"tags", T::kListStr, true},
                              {"port", T::kInt, true},    {"manual", T::kBool, true}};

// ---- events ----
constexpr F kEventJob[] = {{"id", T::kStr, false},       {"state", T::kStr, false},
                           {"attempt", T::kInt, false},  {"worker", T::kStr, true},
                           {"exit_code", T::kInt, true}, {"reason", T::kStr, true},
                           {"ts_ms", T::kInt, false}};
constexpr F kEventLog[] = {{"id", T::kStr, false}, {"offset", T::kInt, false}, {"stream", T::kStr, false}};
constexpr F kEventWorker[] = {{"worker", T::kStruct, false, "WorkerInfo", kWorkerInfo},
                              {"event", T::kStr, false}};
constexpr F kEventScale[] = {{"event", T::kStruct, false, "ScaleEvent", kScaleEvent}};

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
    {"OK", MsgType::kOk, kOkFields},
    {"JOB_SUBMIT", MsgType::kJobSubmit, kJobSubmit},
    {"JOB_ACCEPTED", MsgType::kJobAccepted, kJobAccepted},
    {"JOB_GET", MsgType::kJobGet, kJobGet},
    {"JOB_INFO", MsgType::kJobInfo, kJobInfoReply},
    {"JOB_LIST", MsgType::kJobList, kJobList},
    {"JOB_LIST_REPLY", MsgType::kJobListReply, kJobListReply},
    {"JOB_LOGS", MsgType::kJobLogs, kJobLogs},
    {"JOB_LOG_DATA", MsgType::kJobLogData, kJobLogData},
    {"JOB_STOP", MsgType::kJobStop, kId},
    {"JOB_WAIT", MsgType::kJobWait, kJobWait},
    {"STATS_GET", MsgType::kStatsGet, {}},
    {"STATS", MsgType::kStats, kStats},
    {"WORKER_STOP", MsgType::kWorkerStop, kName},
    {"WORKER_ADD", MsgType::kWorkerAdd, kWorkerAdd},
    {"GATE_DECIDE", MsgType::kGateDecide, kGateDecide},
    {"DAG_LIST", MsgType::kDagList, kDagList},
    {"DAG_LIST_REPLY", MsgType::kDagListReply, kDagListReply},
    {"DAG_GET", MsgType::kDagGet, kId},
    {"DAG_INFO", MsgType::kDagInfo, kDagInfoReply},
    {"DAG_CANCEL", MsgType::kDagCancel, kId},
    {"RUN_LIST", MsgType::kRunList, kLimit},
    {"RUN_LIST_REPLY", MsgType::kRunListReply, kRunListReply},
    {"SCHEDULE_ADD", MsgType::kScheduleAdd, kScheduleAdd},
    {"SCHEDULE_LIST", MsgType::kScheduleList, {}},
    {"SCHEDULE_LIST_REPLY", MsgType::kScheduleListReply, kScheduleListReply},
    {"SCHEDULE_REMOVE", MsgType::kScheduleRemove, kName},
    {"ARTIFACT_PUT", MsgType::kArtifactPut, kArtifactPut},
    {"ARTIFACT_UPLOAD", MsgType::kArtifactUpload, kArtifactUpload},
    {"ARTIFACT_CHUNK", MsgType::kArtifactChunk, kArtifactChunk},
    {"ARTIFACT_CHUNK_ACK", MsgType::kArtifactChunkAck, kArtifactChunkAck},
    {"ARTIFACT_COMMIT", MsgType::kArtifactCommit, kUpload},
    {"ARTIFACT_ABORT", MsgType::kArtifactAbort, kUpload},
    {"ARTIFACT_STAT", MsgType::kArtifactStat, kSpaceName},
    {"ARTIFACT_INFO", MsgType::kArtifactInfo, kArtifactInfoReply},
    {"ARTIFACT_READ", MsgType::kArtifactRead, kArtifactRead},
    {"ARTIFACT_DATA", MsgType::kArtifactData, kArtifactData},
    {"ARTIFACT_LIST", MsgType::kArtifactList, kArtifactList},
    {"ARTIFACT_LIST_REPLY", MsgType::kArtifactListReply, kArtifactListReply},
    {"ARTIFACT_DELETE", MsgType::kArtifactDelete, kSpaceName},
    {"WORKER_READY", MsgType::kWorkerReady, kWorkerReady},
    {"WORKER_WELCOME", MsgType::kWorkerWelcome, kWorkerWelcome},
    {"HEARTBEAT", MsgType::kHeartbeat, kHeartbeat},
    {"JOB_ASSIGN", MsgType::kJobAssign, kJobAssign},
    {"JOB_STARTED", MsgType::kJobStarted, kJobStarted},
    {"JOB_LOG", MsgType::kJobLog, kJobLog},
    {"JOB_DONE", MsgType::kJobDone, kJobDone},
    {"JOB_ACK", MsgType::kJobAck, kJobRef},
    {"JOB_CANCEL", MsgType::kJobCancel, kJobCancel},
    {"WORKER_DRAIN", MsgType::kWorkerDrain, kReason},
    {"DISCONNECT", MsgType::kDisconnect, kReason},
    {"SERVICE_STATUS", MsgType::kServiceStatus, kServiceStatus},
    {"WORKER_SPAWN", MsgType::kWorkerSpawn, kWorkerSpawn},
    {"EVENT_JOB", MsgType::kEventJob, kEventJob},
    {"EVENT_LOG", MsgType::kEventLog, kEventLog},
    {"EVENT_WORKER", MsgType::kEventWorker, kEventWorker},
    {"EVENT_SCALE", MsgType::kEventScale, kEventScale},
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
                                     ErrorCode::kNotFound,  ErrorCode::kUnavailable,  ErrorCode::kInternal};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return "MALFORMED";
    case ErrorCode::kWrongVersion:
      return "WRONG_VERSION";
    case ErrorCode::kUnknownType:
      return "UNKNOWN_TYPE";
    case ErrorCode::kTooLarge:
      return "TOO_LARGE";
    case ErrorCode::kWrongType:
      return "WRONG_TYPE";
    case ErrorCode::kInvalid:
      return "INVALID";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case ErrorCode::kInternal:
      return "INTERNAL";
  }
  std::abort();
}

std::span<const ErrorCode> AllErrorCodes() { return kErrorCodes; }

std::string FieldTypeName(const FieldSpec& f) {
  switch (f.type) {
    case T::kStr:
      return "str";
    case T::kBin:
      return "bin";
    case T::kValue:
      return "value";
    case T::kInt:
      return "int";
    case T::kBool:
      return "bool";
    case T::kMap:
      return "map";
    case T::kListValue:
      return "list<value>";
    case T::kListStr:
      return "list<str>";
    case T::kStruct:
      return std::string(f.struct_name);
    case T::kListStruct:
      return "list<" + std::string(f.struct_name) + ">";
  }
  std::abort();
}

std::span<const StructSpec> AllStructs() { return kStructs; }

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
