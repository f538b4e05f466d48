// `titan kv ...`: TitanStore calls from a shell (and StoreCall, which `titan store get|set` share).
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "base/node_client.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/kv_call.h"
#include "schemas/generated/messages.h"

namespace titan::cli {
namespace {

using wire::Message;
using wire::MsgType;

// Arguments of the kv subcommands, filled by CLI11.
struct KvArgs {
  std::string key, value, member, prefix;
  std::vector<std::string> cas;  // [EXPECTED] NEW
  int64_t delta = 1;
  int64_t limit = 1000;
  bool absent = false;
};

// A shell argument as a protocol value: text when valid UTF-8; "-" reads binary from stdin.
wire::Value ArgValue(const std::string& arg) {
  if (arg == "-") return {std::string(std::istreambuf_iterator<char>(std::cin), {}), false};
  return {arg, wire::IsValidUtf8(arg)};
}

void PrintValue(const wire::Value& v) {
  std::cout << v.bytes;
  if (v.text) std::cout << '\n';
}

// fn(the reply read into T), or kExitRefused when it does not read (Decode checked it, so it does).
template <class T, class Fn>
int WithReply(const Message& reply, Fn fn) {
  const Result<T> typed = T::From(reply);
  if (!typed.ok()) {
    std::cerr << "titan: " << typed.message() << '\n';
    return kExitRefused;
  }
  return fn(typed.value());
}

// Prints a successful reply to `req` (a value, a count, items) and returns the exit code.
int PrintReply(const Message& req, const Message& reply) {
  switch (reply.type) {
    case MsgType::kStoreOk:
      return kExitOk;
    case MsgType::kStoreValue:
      return WithReply<wire::StoreValueMsg>(reply, [&](const wire::StoreValueMsg& r) {
        if (r.found && r.value) return PrintValue(*r.value), kExitOk;
        const Result<wire::StoreGetMsg> get = wire::StoreGetMsg::From(req);
        std::cerr << "titan: key "
                  << (get.ok() ? wire::Render(wire::ValueDatum(get.value().key.bytes, get.value().key.text))
                               : "")
                  << " not found\n";
        return kExitNotFound;
      });
    case MsgType::kStoreCount:
      return WithReply<wire::StoreCountMsg>(
          reply, [](const auto& r) { return std::cout << r.count << '\n', kExitOk; });
    case MsgType::kStoreInt:
      return WithReply<wire::StoreIntMsg>(
          reply, [](const auto& r) { return std::cout << r.value << '\n', kExitOk; });
    case MsgType::kStoreList:
      return WithReply<wire::StoreListMsg>(reply, [](const wire::StoreListMsg& r) {
        for (const wire::Value& item : r.items) PrintValue(item);
        if (r.truncated) std::cerr << "titan: list truncated; narrow it (--limit / a longer prefix)\n";
        return kExitOk;
      });
    case MsgType::kStoreCasResult:
      return WithReply<wire::StoreCasResultMsg>(reply, [](const wire::StoreCasResultMsg& r) {
        if (r.current) PrintValue(*r.current);
        return r.swapped ? kExitOk : kExitNotFound;
      });
    default:
      return kExitRefused;
  }
}

}  // namespace

int StoreCall(const Target& target, const Message& req, MsgType expected_reply) {
  wire::NodeClient client(target.host, target.port, target.timeout_ms);
  if (!UseCredential(target, &client)) return kExitUsage;
  Message reply;
  std::string error;
  if (!client.CallStore(req, &reply, &error)) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  if (reply.type == MsgType::kError) {
    return WithReply<wire::ErrorMsg>(reply, [](const wire::ErrorMsg& e) {
      std::cerr << "titan: " << e.code << ": " << e.reason << '\n';
      return kExitRefused;
    });
  }
  if (reply.type != expected_reply) {
    std::cerr << "titan: unexpected reply " << wire::NameOf(reply.type) << '\n';
    return kExitRefused;
  }
  return PrintReply(req, reply);
}

namespace {

// Adds `kv NAME`, whose callback sends the request `build` makes and expects `reply`.
template <typename Build>
CLI::App* AddCall(CLI::App* kv, const Target* t, int* exit_code, const char* name, const char* help,
                  Build build, MsgType reply) {
  CLI::App* cmd = kv->add_subcommand(name, help);
  cmd->callback([=] { *exit_code = StoreCall(*t, build(), reply); });
  return cmd;
}

// get, put, del.
void AddValueCommands(CLI::App* kv, const Target* t, int* exit_code, const std::shared_ptr<KvArgs>& a) {
  AddCall(
      kv, t, exit_code, "get", "print the value of KEY (exit 1 when missing)",
      [=] { return wire::StoreGetMsg{ArgValue(a->key)}.ToMessage(); }, MsgType::kStoreValue)
      ->add_option("key", a->key)
      ->required();
  auto* put = AddCall(
      kv, t, exit_code, "put", "set KEY to VALUE ('-' reads binary from stdin)",
      [=] {
        return wire::StorePutMsg{ArgValue(a->key), ArgValue(a->value)}.ToMessage();
      },
      MsgType::kStoreOk);
  put->add_option("key", a->key)->required();
  put->add_option("value", a->value)->required();
  AddCall(
      kv, t, exit_code, "del", "delete KEY (prints 1 if it existed)",
      [=] { return wire::StoreDeleteMsg{ArgValue(a->key)}.ToMessage(); }, MsgType::kStoreCount)
      ->add_option("key", a->key)
      ->required();
}

// sadd, srem, smembers.
void AddSetCommands(CLI::App* kv, const Target* t, int* exit_code, const std::shared_ptr<KvArgs>& a) {
  auto* sadd = AddCall(
      kv, t, exit_code, "sadd", "add MEMBER to set KEY (prints 1 if new)",
      [=] {
        return wire::StoreSaddMsg{ArgValue(a->key), ArgValue(a->member)}.ToMessage();
      },
      MsgType::kStoreCount);
  auto* srem = AddCall(
      kv, t, exit_code, "srem", "remove MEMBER from set KEY",
      [=] {
        return wire::StoreSremMsg{ArgValue(a->key), ArgValue(a->member)}.ToMessage();
      },
      MsgType::kStoreCount);
  for (CLI::App* cmd : {sadd, srem}) {
    cmd->add_option("key", a->key)->required();
    cmd->add_option("member", a->member)->required();
  }
  AddCall(
      kv, t, exit_code, "smembers", "print the members of set KEY, one per line",
      [=] { return wire::StoreSmembersMsg{ArgValue(a->key)}.ToMessage(); }, MsgType::kStoreList)
      ->add_option("key", a->key)
      ->required();
}

// cas KEY EXPECTED NEW, or cas --absent KEY NEW.
void AddCasCommand(CLI::App* kv, const Target* t, int* exit_code, const std::shared_ptr<KvArgs>& a) {
  auto* cas = AddCall(
      kv, t, exit_code, "cas",
      "KEY EXPECTED NEW: set KEY to NEW only if it holds EXPECTED; exit 1 if it did not",
      [=] {
        wire::StoreCasMsg cas{.key = ArgValue(a->key), .value = ArgValue(a->cas.back())};
        if (!a->absent) cas.expected = ArgValue(a->cas.front());
        return std::move(cas).ToMessage();
      },
      MsgType::kStoreCasResult);
  cas->add_option("key", a->key)->required();
  cas->add_option("expected_new", a->cas, "EXPECTED NEW, or NEW alone with --absent")
      ->required()
      ->expected(1, 2);
  cas->add_flag("--absent", a->absent, "swap only if KEY does not exist (give KEY NEW)");
  cas->parse_complete_callback([a] {
    if (a->cas.size() != (a->absent ? 1u : 2u)) {
      throw CLI::ValidationError("cas", a->absent ? "with --absent give KEY NEW" : "give KEY EXPECTED NEW");
    }
  });
}

// incr, keys.
void AddCounterAndKeyCommands(CLI::App* kv, const Target* t, int* exit_code,
                              const std::shared_ptr<KvArgs>& a) {
  auto* incr = AddCall(
      kv, t, exit_code, "incr", "add DELTA (default 1) to the integer at KEY atomically and print it",
      [=] {
        return wire::StoreIncrMsg{ArgValue(a->key), a->delta}.ToMessage();
      },
      MsgType::kStoreInt);
  incr->add_option("key", a->key)->required();
  incr->add_option("delta", a->delta);
  auto* keys = AddCall(
      kv, t, exit_code, "keys", "list keys starting with PREFIX",
      [=] {
        return wire::StoreKeysMsg{ArgValue(a->prefix), a->limit}.ToMessage();
      },
      MsgType::kStoreList);
  keys->add_option("prefix", a->prefix);
  keys->add_option("--limit", a->limit)->capture_default_str();
}

}  // namespace

void AddKvCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<KvArgs>();
  CLI::App* kv = app.add_subcommand("kv", "Read and write TitanStore from a shell");
  kv->require_subcommand(1);
  AddValueCommands(kv, &target, exit_code, a);
  AddSetCommands(kv, &target, exit_code, a);
  AddCasCommand(kv, &target, exit_code, a);
  AddCounterAndKeyCommands(kv, &target, exit_code, a);
}

}  // namespace titan::cli
