// Calls to the broker with the CLI's error reporting.
#include "cli/broker_client.h"

#include <iostream>

namespace titan::cli {

using wire::Datum;
using wire::Message;
using wire::MsgType;

BrokerClient::BrokerClient(const Target& target)
    : target_(target), client_(target.host, target.port, target.timeout_ms) {}

int BrokerClient::Call(const Message& request, MsgType expected, Message* reply, int timeout_ms) {
  std::string error;
  if (!client_.Call(request, reply, &error, timeout_ms)) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  if (reply->type == MsgType::kError) {
    const std::string_view code = reply->Bytes("code");
    std::cerr << "titan: " << code << ": " << reply->Bytes("reason") << '\n';
    if (code == "UNKNOWN_TYPE") {
      std::cerr
          << "titan: " << target_.host << ':' << target_.port
          << " is not a broker (a TitanStore?); point --port / TITAN_PORT at the broker `titan up` printed\n";
    }
    return kExitRefused;
  }
  if (reply->type != expected) {
    std::cerr << "titan: " << target_.host << ':' << target_.port << " answered "
              << wire::NameOf(request.type) << " with " << wire::NameOf(reply->type) << " instead of "
              << wire::NameOf(expected) << "; is it a Titan broker of this version?\n";
    return kExitRefused;
  }
  return kExitOk;
}

int BrokerClient::GetJob(const std::string& id, Datum* job, int64_t run, int64_t* runs) {
  Message request = wire::MakeMessage(MsgType::kJobGet).Set("id", Datum(wire::Text{id}));
  if (run > 0) request.Set("run", Datum(run));
  Message reply;
  const int rc = Call(request, MsgType::kJobInfo, &reply);
  if (rc != kExitOk) return rc;
  if (!reply.Bool("found") || !reply.Has("job")) {
    std::cerr << "titan: no job '" << id << "'" << (run > 0 ? " run " + std::to_string(run) : "") << " on "
              << target_.host << ':' << target_.port << " (list them with `titan jobs`)\n";
    return kExitNotFound;
  }
  *job = *reply.Find("job");
  if (runs != nullptr) *runs = reply.Int("runs", 1);
  return kExitOk;
}

int BrokerClient::PubEndpoint(std::string* endpoint) {
  std::string error;
  if (!client_.Discover(&error)) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  *endpoint = client_.Endpoint("pub");
  if (endpoint->empty()) {
    std::cerr
        << "titan: " << target_.host << ':' << target_.port
        << " announced no event feed: it is not a broker (a TitanStore?); point --port / TITAN_PORT at the "
           "broker\n";
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace titan::cli
