// Calls to the broker with the CLI's error reporting.
#include "cli/broker_client.h"

#include <iostream>

namespace titan::cli {

using wire::Message;
using wire::MsgType;

bool UseCredential(const Target& target, wire::NodeClient* client) {
  Result<std::optional<security::Credential>> found =
      security::FindCredential(target.credentials, target.host, target.port);
  if (!found.ok()) {
    std::cerr << "titan: " << found.message() << '\n';
    return false;
  }
  client->set_credential(std::move(*found));
  return true;
}

BrokerClient::BrokerClient(const Target& target) : target_(target) {
  if (Result<BrokerAddresses> list = BrokerAddresses::Parse(target.host, target.port); list.ok()) {
    addresses_ = std::move(*list);
  }
  UseCurrentAddress();
}

void BrokerClient::UseCurrentAddress() {
  if (addresses_) {
    target_.host = addresses_->current().host;
    target_.port = addresses_->current().port;
  }
  client_ = std::make_unique<wire::NodeClient>(target_.host, target_.port, target_.timeout_ms);
  credential_ok_ = UseCredential(target_, client_.get());
}

void BrokerClient::SecureSubscriber(zmq::socket_t& sub) const {
  if (client_->credential()) security::SecureClient(sub, *client_->credential());
}

bool BrokerClient::CallAny(const Message& request, Message* reply, std::string* error, int timeout_ms) {
  const size_t brokers = addresses_ ? addresses_->size() : 1;
  // Each address may be tried twice: a standby names no leader while it takes over, and is asked again.
  for (size_t attempt = 0;; ++attempt) {
    const bool sent = client_->Call(request, reply, error, timeout_ms);
    if (brokers < 2 || attempt + 1 >= 2 * brokers + 1) return sent;
    if (sent) {
      const Result<wire::ErrorMsg> refusal = wire::ErrorMsg::From(*reply);
      if (reply->type != MsgType::kError || !refusal.ok() ||
          refusal->code != wire::ErrorCodeName(wire::ErrorCode::kNotLeader)) {
        return true;
      }
      addresses_->NotLeader(refusal->leader.value_or(""));
    } else {
      // It may have been applied: a write is sent again only when it carries a token (a submission: a
      // broker that accepted it already answers it again and submits nothing).
      if (wire::SpecOf(request.type).writes && request.Find("token") == nullptr) return false;
      addresses_->NoAnswer();
    }
    UseCurrentAddress();
    if (!credential_ok_) return false;
  }
}

int BrokerClient::Call(const Message& request, MsgType expected, Message* reply, int timeout_ms) {
  if (!credential_ok_) return kExitUsage;
  std::string error;
  const bool sent = CallAny(request, reply, &error, timeout_ms);
  return Answered(sent, error, request, expected, *reply, /*store=*/false);
}

int BrokerClient::CallStore(const Message& request, MsgType expected, Message* reply) {
  if (!credential_ok_) return kExitUsage;
  std::string error;
  const bool sent = client_->CallStore(request, reply, &error);
  return Answered(sent, error, request, expected, *reply, /*store=*/true);
}

int BrokerClient::Answered(bool sent, const std::string& error, const Message& request, MsgType expected,
                           const Message& reply, bool store) {
  const char* node = store ? "TitanStore" : "broker";
  if (!sent) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  if (reply.type == MsgType::kError) {
    const Result<wire::ErrorMsg> refusal = wire::ErrorMsg::From(reply);  // Decode checked its fields
    const std::string code = refusal.ok() ? refusal.value().code : "ERROR";
    std::cerr << "titan: " << code << ": " << (refusal.ok() ? refusal.value().reason : refusal.message())
              << '\n';
    if (code == wire::ErrorCodeName(wire::ErrorCode::kUnknownType) && !store) {
      std::cerr
          << "titan: " << target_.host << ':' << target_.port
          << " is not a broker (a TitanStore?); point --port / TITAN_PORT at the broker `titan up` printed\n";
    }
    return kExitRefused;
  }
  if (reply.type != expected) {
    std::cerr << "titan: " << (store ? "the TitanStore announced by " : "") << target_.host << ':'
              << target_.port << " answered " << wire::NameOf(request.type) << " with "
              << wire::NameOf(reply.type) << " instead of " << wire::NameOf(expected) << "; is it a Titan "
              << node << " of this version?\n";
    return kExitRefused;
  }
  return kExitOk;
}

int BrokerClient::GetJob(const std::string& id, wire::JobInfo* job, int64_t run, int64_t* runs) {
  wire::JobGetMsg request{.id = id};
  if (run > 0) request.run = run;
  wire::JobInfoMsg reply;
  if (const int rc = Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  if (!reply.found || !reply.job) {
    std::cerr << "titan: no job '" << id << "'" << (run > 0 ? " run " + std::to_string(run) : "") << " on "
              << target_.host << ':' << target_.port << " (list them with `titan jobs`)\n";
    return kExitNotFound;
  }
  *job = std::move(*reply.job);
  if (runs != nullptr) *runs = reply.runs.value_or(1);
  return kExitOk;
}

int BrokerClient::Unreadable(const Status& why) {
  std::cerr << "titan: " << target_.host << ':' << target_.port << " sent a reply this titan cannot read ("
            << why.message() << "); is it a Titan broker of this version?\n";
  return kExitRefused;
}

void BrokerClient::FindLeader() {
  if (!addresses_ || addresses_->size() < 2 || !credential_ok_) return;
  Message welcome;
  std::string error;
  (void)CallAny(wire::HelloMsg{.client = std::string("titan-cli")}.ToMessage(), &welcome, &error, -1);
}

int BrokerClient::PubEndpoint(std::string* endpoint) {
  std::string error;
  if (addresses_ && addresses_->size() > 1) {  // find the leader first: a standby announces no feed
    Message welcome;
    (void)CallAny(wire::HelloMsg{.client = std::string("titan-cli")}.ToMessage(), &welcome, &error, -1);
  }
  if (!client_->Discover(&error)) {
    std::cerr << "titan: " << error << '\n';
    return kExitNoAnswer;
  }
  *endpoint = client_->Endpoint("pub");
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
