// PickWorker as tables: worker table in, choice out.
#include "broker/dispatch.h"

#include <gtest/gtest.h>

#include <sstream>

namespace titan::broker {
namespace {

// Parses "name:busy/slots:CAP,CAP[:draining]" entries separated by spaces.
std::vector<WorkerSlot> Table(const std::string& spec) {
  std::vector<WorkerSlot> out;
  std::istringstream in(spec);
  std::string item;
  while (in >> item) {
    WorkerSlot w;
    std::istringstream f(item);
    std::string load, caps, flag;
    std::getline(f, w.name, ':');
    std::getline(f, load, ':');
    std::getline(f, caps, ':');
    std::getline(f, flag, ':');
    w.busy = std::stoi(load.substr(0, load.find('/')));
    w.slots = std::stoi(load.substr(load.find('/') + 1));
    std::istringstream c(caps);
    std::string cap;
    while (std::getline(c, cap, ',')) w.capabilities.push_back(cap);
    w.accepting = flag != "draining";
    out.push_back(w);
  }
  return out;
}

std::string Pick(const std::string& requirement, const std::string& affinity, const std::string& table) {
  const auto workers = Table(table);
  const Placement p = PickWorker(requirement, affinity, workers);
  switch (p.kind) {
    case Placement::kWorker:
      return workers[p.index].name;
    case Placement::kNotNow:
      return "not-now";
    case Placement::kNever:
      return "never";
  }
  return "?";
}

struct Row {
  const char* requirement;
  const char* affinity;
  const char* table;
  const char* want;
};

TEST(PickWorker, Table) {
  const Row rows[] = {
      // least load
      {"GENERAL", "", "w1:2/4:GENERAL w2:0/4:GENERAL", "w2"},
      {"GENERAL", "", "w1:1/4:GENERAL w2:1/2:GENERAL", "w1"},  // 25% beats 50%
      {"GENERAL", "", "w1:1/2:GENERAL w2:2/4:GENERAL", "w1"},  // equal ratio: fewer busy
      {"GENERAL", "", "w2:0/4:GENERAL w1:0/4:GENERAL", "w1"},  // all equal: name order
      // strict capability
      {"GPU", "", "w1:0/4:GENERAL w2:3/4:GENERAL,GPU", "w2"},
      {"GPU", "", "w1:0/4:GENERAL w2:4/4:GENERAL,GPU", "not-now"},
      {"GPU", "", "w1:0/4:GENERAL w2:0/4:GENERAL,HIGH_MEM", "never"},
      {"GENERAL", "", "", "never"},
      // draining workers take nothing
      {"GENERAL", "", "w1:0/4:GENERAL:draining w2:3/4:GENERAL", "w2"},
      {"GENERAL", "", "w1:0/4:GENERAL:draining", "never"},
      // affinity: the parent's worker when it has a slot, else least load
      {"GENERAL", "w1", "w1:3/4:GENERAL w2:0/4:GENERAL", "w1"},
      {"GENERAL", "w1", "w1:4/4:GENERAL w2:1/4:GENERAL", "w2"},
      {"GPU", "w1", "w1:0/4:GENERAL w2:1/4:GENERAL,GPU", "w2"},  // affinity never breaks capability
      {"GENERAL", "gone", "w1:1/4:GENERAL", "w1"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(r.want, Pick(r.requirement, r.affinity, r.table))
        << "requirement=" << r.requirement << " affinity=" << r.affinity << " table=" << r.table;
  }
}

}  // namespace
}  // namespace titan::broker
