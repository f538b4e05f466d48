// `titan kv ...`: TitanStore calls from a shell (and StoreCall, which `titan store get|set` share).
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "base/node_client.h"
#include "cli/commands.h"
#include "cli/kv_call.h"

namespace titan::cli {
namespace {

using wire::Datum;
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
Datum ArgValue(const std::string& arg) {
  if (arg == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return wire::ValueDatum(std::move(data), false);
  }
  return wire::ValueDatum(arg, wire::IsValidUtf8(arg));
}

void PrintValue(const Datum& d) {
  std::cout << d.bytes();
  if (d.is_text()) std::cout << '\n';
}

}  // namespace

int StoreCall(const Target& target, const Message& req, MsgType expected_reply) {
  wire::NodeClient client(target.host, target.port, target.timeout_ms);
  Message reply;
  std::string error;
  if (!client.CallStore(req, &reply, &error)) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  if (reply.type == MsgType::kError) {
    std::cerr << "titan: " << reply.Bytes("code") << ": " << reply.Bytes("reason") << '\n';
    return kExitRefused;
  }
  if (reply.type != expected_reply) {
    std::cerr << "titan: unexpected reply " << wire::NameOf(reply.type) << '\n';
    return kExitRefused;
  }
  switch (reply.type) {
    case MsgType::kStoreOk:
      return kExitOk;
    case MsgType::kStoreValue:
      if (!reply.Bool("found")) {
        std::cerr << "titan: key " << wire::Render(*req.Find("key")) << " not found\n";
        return kExitNotFound;
      }
      PrintValue(*reply.Find("value"));
      return kExitOk;
    case MsgType::kStoreCount:
    case MsgType::kStoreInt:
      std::cout << reply.Int(reply.type == MsgType::kStoreInt ? "value" : "count") << '\n';
      return kExitOk;
    case MsgType::kStoreList:
      for (const Datum& item : std::get<wire::List>(reply.Find("items")->v)) PrintValue(item);
      if (reply.Bool("truncated"))
        std::cerr << "titan: list truncated; narrow it (--limit / a longer prefix)\n";
      return kExitOk;
    case MsgType::kStoreCasResult:
      if (reply.Has("current")) PrintValue(*reply.Find("current"));
      return reply.Bool("swapped") ? kExitOk : kExitNotFound;
    default:
      return kExitRefused;
  }
}

void AddKvCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<KvArgs>();
  CLI::App* kv = app.add_subcommand("kv", "Read and write TitanStore from a shell");
  kv->require_subcommand(1);
  const Target* t = &target;
  auto add = [&](const char* name, const char* help, auto build, MsgType reply) {
    CLI::App* cmd = kv->add_subcommand(name, help);
    cmd->callback([=] { *exit_code = StoreCall(*t, build(), reply); });
    return cmd;
  };
  auto msg = [](MsgType type) { return wire::MakeMessage(type); };

  add(
      "get", "print the value of KEY (exit 1 when missing)",
      [=] { return msg(MsgType::kStoreGet).Set("key", ArgValue(a->key)); }, MsgType::kStoreValue)
      ->add_option("key", a->key)
      ->required();
  auto* put = add(
      "put", "set KEY to VALUE ('-' reads binary from stdin)",
      [=] { return msg(MsgType::kStorePut).Set("key", ArgValue(a->key)).Set("value", ArgValue(a->value)); },
      MsgType::kStoreOk);
  put->add_option("key", a->key)->required();
  put->add_option("value", a->value)->required();
  add(
      "del", "delete KEY (prints 1 if it existed)",
      [=] { return msg(MsgType::kStoreDelete).Set("key", ArgValue(a->key)); }, MsgType::kStoreCount)
      ->add_option("key", a->key)
      ->required();
  for (auto [name, type, help] :
       {std::tuple{"sadd", MsgType::kStoreSadd, "add MEMBER to set KEY (prints 1 if new)"},
        std::tuple{"srem", MsgType::kStoreSrem, "remove MEMBER from set KEY"}}) {
    auto* cmd = add(
        name, help,
        [=, type = type] {
          return msg(type).Set("key", ArgValue(a->key)).Set("member", ArgValue(a->member));
        },
        MsgType::kStoreCount);
    cmd->add_option("key", a->key)->required();
    cmd->add_option("member", a->member)->required();
  }
  add(
      "smembers", "print the members of set KEY, one per line",
      [=] { return msg(MsgType::kStoreSmembers).Set("key", ArgValue(a->key)); }, MsgType::kStoreList)
      ->add_option("key", a->key)
      ->required();
  auto* incr = add(
      "incr", "add DELTA (default 1) to the integer at KEY atomically and print it",
      [=] { return msg(MsgType::kStoreIncr).Set("key", ArgValue(a->key)).Set("delta", Datum(a->delta)); },
      MsgType::kStoreInt);
  incr->add_option("key", a->key)->required();
  incr->add_option("delta", a->delta);
  auto* cas = add(
      "cas", "KEY EXPECTED NEW: set KEY to NEW only if it holds EXPECTED; exit 1 if it did not",
      [=] {
        Message m =
            msg(MsgType::kStoreCas).Set("key", ArgValue(a->key)).Set("value", ArgValue(a->cas.back()));
        if (!a->absent) m.Set("expected", ArgValue(a->cas.front()));
        return m;
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
  auto* keys = add(
      "keys", "list keys starting with PREFIX",
      [=] {
        return msg(MsgType::kStoreKeys).Set("prefix", ArgValue(a->prefix)).Set("limit", Datum(a->limit));
      },
      MsgType::kStoreList);
  keys->add_option("prefix", a->prefix);
  keys->add_option("--limit", a->limit)->capture_default_str();
}

}  // namespace titan::cli
