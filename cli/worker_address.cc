// Finding a worker by host and port.
#include "cli/worker_address.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace titan::cli {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string FirstLabel(const std::string& host) { return host.substr(0, host.find('.')); }

bool SameName(const std::string& a, const std::string& b) {
  const bool a_ip = !a.empty() && std::isdigit(static_cast<unsigned char>(a[0]));
  return a == b || (!a_ip && FirstLabel(a) == FirstLabel(b));
}

std::string Describe(const WorkerAddress& w) {
  return w.name + " (" + w.host + (w.port ? ":" + std::to_string(w.port) : ", no port") + ")";
}

}  // namespace

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string BrokerMachine(std::string_view broker_host, std::string_view local_hostname) {
  return std::string(IsLoopback(Lower(broker_host)) ? local_hostname : broker_host);
}

std::vector<WorkerAddress> WorkersFromStats(const wire::StatsMsg& stats) {
  std::vector<WorkerAddress> out;
  for (const wire::WorkerInfo& w : stats.workers) out.push_back({w.name, w.host, w.port.value_or(0)});
  return out;
}

bool SameMachine(std::string_view host, std::string_view worker_host, std::string_view broker_machine) {
  std::string h = Lower(host);
  if (IsLoopback(h)) h = Lower(broker_machine);
  const std::string w = Lower(worker_host);
  return !h.empty() && (SameName(h, w) || (IsLoopback(h) && IsLoopback(w)));
}

bool FindWorkerAt(const std::vector<WorkerAddress>& workers, std::string_view host, int64_t port,
                  std::string_view broker_machine, std::string* name, std::string* error) {
  for (const WorkerAddress& w : workers) {
    if (w.port == port && SameMachine(host, w.host, broker_machine)) {
      *name = w.name;
      return true;
    }
  }
  *error = "no worker with port " + std::to_string(port) + " on " + std::string(host) + "; ";
  if (workers.empty()) {
    *error += "no worker is connected";
    return false;
  }
  *error += "the workers are:";
  for (size_t i = 0; i < workers.size(); ++i) *error += (i ? ", " : " ") + Describe(workers[i]);
  *error += " (`titan shutdown WORKER` takes a name)";
  return false;
}

bool FindShutdownTarget(const std::vector<WorkerAddress>& workers, std::string_view word, std::string* name,
                        std::string* error) {
  for (const WorkerAddress& w : workers) {
    if (w.name == word) {
      *name = w.name;
      return true;
    }
  }
  const bool digits = !word.empty() && word.size() <= 5 &&
                      std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isdigit(c); });
  std::vector<const WorkerAddress*> at;
  if (digits) {
    const int64_t port = std::stoll(std::string(word));
    for (const WorkerAddress& w : workers)
      if (w.port != 0 && w.port == port) at.push_back(&w);
  }
  if (at.size() == 1) {
    *name = at[0]->name;
    return true;
  }
  if (at.size() > 1) {
    *error = "workers on several machines have port " + std::string(word) + ":";
    for (size_t i = 0; i < at.size(); ++i) *error += (i ? ", " : " ") + Describe(*at[i]);
    *error += "; name one with `titan shutdown HOST " + std::string(word) + "` or `titan shutdown WORKER`";
    return false;
  }
  *error = "no worker named '" + std::string(word) + "'" +
           (digits ? " or with port " + std::string(word) : "") + "; ";
  if (workers.empty()) {
    *error += "no worker is connected";
    return false;
  }
  *error += "the workers are:";
  for (size_t i = 0; i < workers.size(); ++i) *error += (i ? ", " : " ") + Describe(workers[i]);
  *error += " (`titan shutdown` takes a WORKER name, a PORT, or HOST PORT)";
  return false;
}

bool IsWorkerJar(std::string_view file) {
  return Lower(std::filesystem::path(file).filename().string()) == "worker.jar";
}

}  // namespace titan::cli
