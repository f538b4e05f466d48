// BrokerClient: the request/reply side every client command shares. It wraps NodeClient and turns
// every failure into one "titan: ..." line on stderr plus the exit code from commands.h.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "base/broker_addresses.h"
#include "base/node_client.h"
#include "cli/commands.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// Gives `client` the credential `target` names or implies (security/client_security.h). False, with why
// printed, when a named credential file cannot be used.
bool UseCredential(const Target& target, wire::NodeClient* client);

// Several brokers (--host a,b or TITAN_HOST=a,b; host:port entries allowed): a call answered NOT_LEADER
// goes again to the leader the standby named (or the next address); a call nothing answered in time goes
// to the next address when it is a read (the schema's `writes: false`) or a submission carrying a token
// (JOB_SUBMIT.token: accepted once however often it is sent), since another write may have been applied;
// such a write is sent again only after NOT_LEADER, which says it was not. target() names the broker in
// use.
class BrokerClient {
 public:
  explicit BrokerClient(const Target& target);

  // Sends `request`; returns kExitOk with *reply of type `expected`, or prints what went wrong and
  // returns kExitNoAnswer / kExitRefused. `timeout_ms` < 0 uses the target's.
  int Call(const wire::Message& request, wire::MsgType expected, wire::Message* reply, int timeout_ms = -1);

  // As above, with the reply read into its generated struct (Reply::kType is the type expected).
  template <class Reply>
  int Call(const wire::Message& request, Reply* reply, int timeout_ms = -1) {
    wire::Message raw;
    if (const int rc = Call(request, Reply::kType, &raw, timeout_ms); rc != kExitOk) return rc;
    return Read(Reply::From(raw), reply);
  }
  // The same, to the TitanStore the broker announces (or the node itself when it is a store).
  int CallStore(const wire::Message& request, wire::MsgType expected, wire::Message* reply);
  template <class Reply>
  int CallStore(const wire::Message& request, Reply* reply) {
    wire::Message raw;
    if (const int rc = CallStore(request, Reply::kType, &raw); rc != kExitOk) return rc;
    return Read(Reply::From(raw), reply);
  }

  // JOB_GET of run `run` of `id` (0: the latest). kExitOk with *job set and, when `runs` is given, how
  // many runs the id has had; kExitNotFound (printed) when the broker does not know `id` (or that run).
  int GetJob(const std::string& id, wire::JobInfo* job, int64_t run = 0, int64_t* runs = nullptr);

  // tcp://host:port of the broker's event PUB socket, from WELCOME, in *endpoint. Otherwise prints
  // why and returns kExitNoAnswer (nothing answered) or kExitRefused (the node has no event feed).
  int PubEndpoint(std::string* endpoint);

  // Several brokers: asks them (HELLO, as Call does) until the leader answers, so target() names it; for
  // connections of their own (artifact transfers). One broker: nothing is sent. Failures are left to the
  // connection that follows (it reports them).
  void FindLeader();

  const Target& target() const { return target_; }
  // Makes `sub` (a SUB socket for the broker's events) a CURVE client with this client's credential, if
  // it has one. Before connect.
  void SecureSubscriber(zmq::socket_t& sub) const;
  // This client's credential (nullopt: plaintext).
  const std::optional<security::Credential>& credential() const { return client_->credential(); }

 private:
  // kExitOk with the struct moved to *out, or the reason printed and kExitRefused.
  template <class T>
  int Read(Result<T> typed, T* out) {
    if (!typed.ok()) return Unreadable(typed.status());
    *out = std::move(typed).value();
    return kExitOk;
  }
  int Unreadable(const Status& why);
  // The exit code of a round trip to the broker (or `store`): kExitOk when `sent` and `reply` is of type
  // `expected`; otherwise `error`, the ERROR's code and reason, or the unexpected type, printed.
  int Answered(bool sent, const std::string& error, const wire::Message& request, wire::MsgType expected,
               const wire::Message& reply, bool store);

  // The NodeClient for the address in use (target_ names it).
  void UseCurrentAddress();
  // One call with failover between the brokers (see the class comment).
  bool CallAny(const wire::Message& request, wire::Message* reply, std::string* error, int timeout_ms);

  Target target_;
  std::optional<BrokerAddresses> addresses_;  // nullopt: --host is not a list this parses (one host as given)
  std::unique_ptr<wire::NodeClient> client_;
  bool credential_ok_ = true;  // false: UseCredential printed why; every call fails
};

}  // namespace titan::cli
