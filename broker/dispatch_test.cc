// PickWorker as tables: worker table in, choice out.
#include "broker/dispatch.h"

#include <gtest/gtest.h>

#include <sstream>

namespace titan::broker {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// "used/capacity" into two amounts.
void UsedOf(const std::string& v, int64_t* used, int64_t* cap) {
  *used = std::stoll(v.substr(0, v.find('/')));
  *cap = std::stoll(v.substr(v.find('/') + 1));
}

// Parses "name:busy/slots:CAP,CAP[:opt;opt...]" entries separated by spaces. Options: draining,
// cpu=RESERVED/CAPACITY (milli), mem=RESERVED/CAPACITY (MB), gpu=RESERVED/CAPACITY, ctl=memory+cpu,
// rt=name+name.
std::vector<WorkerSlot> Table(const std::string& spec) {
  std::vector<WorkerSlot> out;
  std::istringstream in(spec);
  std::string item;
  while (in >> item) {
    WorkerSlot w;
    const std::vector<std::string> f = Split(item, ':');
    w.name = f.at(0);
    w.busy = std::stoi(f.at(1).substr(0, f[1].find('/')));
    w.slots = std::stoi(f.at(1).substr(f[1].find('/') + 1));
    w.capabilities = Split(f.at(2), ',');
    for (const std::string& opt : f.size() > 3 ? Split(f[3], ';') : std::vector<std::string>{}) {
      const std::string key = opt.substr(0, opt.find('=')), value = opt.substr(opt.find('=') + 1);
      if (key == "draining") w.accepting = false;
      if (key == "cpu") UsedOf(value, &w.reserved.cpu_milli, &w.capacity.cpu_milli);
      if (key == "mem") UsedOf(value, &w.reserved.memory_mb, &w.capacity.memory_mb);
      if (key == "gpu") UsedOf(value, &w.reserved.gpus, &w.capacity.gpus);
      if (key == "ctl") w.controls = Split(value, '+');
      if (key == "rt") w.runtimes = Split(value, '+');
    }
    out.push_back(w);
  }
  return out;
}

// "REQUIREMENT [cpu=N] [mem=N] [gpu=N] [ctl=a+b] [rt=NAME] [pin=WORKER]".
Demand DemandSpec(const std::string& spec) {
  Demand d;
  std::istringstream in(spec);
  in >> d.requirement;
  std::string opt;
  while (in >> opt) {
    const std::string key = opt.substr(0, opt.find('=')), value = opt.substr(opt.find('=') + 1);
    if (key == "cpu") d.request.cpu_milli = std::stoll(value);
    if (key == "mem") d.request.memory_mb = std::stoll(value);
    if (key == "gpu") d.request.gpus = std::stoll(value);
    if (key == "ctl") d.controls = Split(value, '+');
    if (key == "rt") d.runtime = value;
    if (key == "pin") d.pinned_worker = value;
  }
  return d;
}

std::string Pick(const std::string& demand, const std::string& affinity, const std::string& table) {
  const auto workers = Table(table);
  const Placement p = PickWorker(DemandSpec(demand), affinity, workers);
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
  const char* demand;
  const char* affinity;
  const char* table;
  const char* want;
};

void Check(const Row* rows, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const Row& r = rows[i];
    EXPECT_EQ(r.want, Pick(r.demand, r.affinity, r.table))
        << "demand=" << r.demand << " affinity=" << r.affinity << " table=" << r.table;
  }
}

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
  Check(rows, std::size(rows));
}

TEST(PickWorker, PacksRequestsIntoCapacityWithoutOverCommit) {
  const Row rows[] = {
      // cpu: reserved + request within capacity
      {"GENERAL cpu=1000", "", "w1:1/4:GENERAL:cpu=1000/2000", "w1"},
      {"GENERAL cpu=1000", "", "w1:2/4:GENERAL:cpu=2000/2000", "not-now"},  // full: a free slot is not enough
      {"GENERAL cpu=1500", "", "w1:1/4:GENERAL:cpu=1000/2000", "not-now"},  // 2500 > 2000
      {"GENERAL cpu=3000", "", "w1:0/4:GENERAL:cpu=0/2000", "never"},       // larger than the worker
      {"GENERAL cpu=1000", "", "w1:0/4:GENERAL", "never"},                  // no capacity reported: none
      // memory and GPUs likewise, each on its own
      {"GENERAL mem=512", "", "w1:1/4:GENERAL:mem=512/1024", "w1"},
      {"GENERAL mem=513", "", "w1:1/4:GENERAL:mem=512/1024", "not-now"},
      {"GPU gpu=1", "", "w1:1/4:GPU:gpu=1/2", "w1"},
      {"GPU gpu=1", "", "w1:2/4:GPU:gpu=2/2", "not-now"},
      {"GPU gpu=3", "", "w1:0/4:GPU:gpu=0/2", "never"},
      // all requested resources must fit on one worker
      {"GENERAL cpu=1000 mem=512", "",
       "w1:0/4:GENERAL:cpu=0/4000;mem=0/256 w2:0/4:GENERAL:cpu=0/500;mem=0/4096", "never"},
      {"GENERAL cpu=1000 mem=512", "",
       "w1:0/4:GENERAL:cpu=0/4000;mem=0/256 w2:0/4:GENERAL:cpu=0/1000;mem=0/4096", "w2"},
      // a job without requests needs only a slot, even on a worker whose capacity is taken
      {"GENERAL", "", "w1:1/4:GENERAL:cpu=2000/2000;gpu=1/1", "w1"},
      // the fitting worker, not the least loaded one that cannot hold it
      {"GENERAL cpu=2000", "", "w1:0/4:GENERAL:cpu=0/1000 w2:3/4:GENERAL:cpu=1000/4000", "w2"},
      // slots still bound jobs with requests
      {"GENERAL cpu=100", "", "w1:1/1:GENERAL:cpu=0/8000", "not-now"},
  };
  Check(rows, std::size(rows));
}

TEST(PickWorker, LeastLoadedCountsTheLargestShareInUse) {
  const Row rows[] = {
      // w1: slots 1/4 but cpu 3/4; w2: 2/4 of both. 50% beats 75%
      {"GENERAL", "", "w1:1/4:GENERAL:cpu=3000/4000 w2:2/4:GENERAL:cpu=2000/4000", "w2"},
      // memory share counts too
      {"GENERAL", "", "w1:0/4:GENERAL:mem=900/1000 w2:1/4:GENERAL:mem=0/1000", "w2"},
      // equal largest shares: fewer busy, then name
      {"GENERAL", "", "w2:1/4:GENERAL:gpu=1/2 w1:2/4:GENERAL:gpu=0/2", "w2"},
      {"GENERAL", "", "w2:1/2:GENERAL:cpu=1000/2000 w1:1/2:GENERAL:cpu=1000/2000", "w1"},
  };
  Check(rows, std::size(rows));
}

TEST(PickWorker, ControlsAndRuntimesMustMatch) {
  const Row rows[] = {
      {"GENERAL ctl=memory", "", "w1:0/4:GENERAL w2:3/4:GENERAL:ctl=memory+cpu", "w2"},
      {"GENERAL ctl=cpu+memory", "", "w1:0/4:GENERAL:ctl=memory w2:0/4:GENERAL:ctl=cpu+memory+pids", "w2"},
      {"GENERAL ctl=io", "", "w1:0/4:GENERAL:ctl=memory+cpu", "never"},
      {"GENERAL ctl=memory", "", "w1:4/4:GENERAL:ctl=memory w2:0/4:GENERAL", "not-now"},
      {"GENERAL rt=py311", "", "w1:0/4:GENERAL:rt=py310 w2:2/4:GENERAL:rt=py310+py311", "w2"},
      {"GENERAL rt=py311", "", "w1:0/4:GENERAL:rt=py310", "never"},
      {"GENERAL rt=py311", "", "w1:0/4:GENERAL", "never"},
      // a capability still comes first
      {"GPU rt=py311", "", "w1:0/4:GENERAL:rt=py311", "never"},
  };
  Check(rows, std::size(rows));
}

TEST(PickWorker, AffinityNeverOverridesCapacity) {
  const Row rows[] = {
      {"GENERAL cpu=1000", "w1", "w1:1/4:GENERAL:cpu=1000/4000 w2:0/4:GENERAL:cpu=0/4000", "w1"},
      {"GENERAL cpu=1000", "w1", "w1:1/4:GENERAL:cpu=3500/4000 w2:0/4:GENERAL:cpu=0/4000", "w2"},
      {"GPU gpu=1", "w1", "w1:1/4:GPU:gpu=1/1 w2:3/4:GPU:gpu=0/1", "w2"},
      {"GENERAL ctl=memory", "w1", "w1:0/4:GENERAL w2:1/4:GENERAL:ctl=memory", "w2"},
      {"GENERAL cpu=1000", "w1", "w1:1/4:GENERAL:cpu=3500/4000", "not-now"},
  };
  Check(rows, std::size(rows));
}

TEST(PickWorker, PinnedWorkerOnly) {
  const Row rows[] = {
      {"GENERAL pin=w2", "", "w1:0/4:GENERAL w2:3/4:GENERAL", "w2"},
      {"GENERAL pin=w2", "", "w1:0/4:GENERAL w2:4/4:GENERAL", "not-now"},
      {"GENERAL pin=w3", "", "w1:0/4:GENERAL w2:0/4:GENERAL", "never"},
      {"GENERAL pin=w2", "w1", "w1:0/4:GENERAL w2:0/4:GENERAL", "w2"},  // pinning beats affinity
      {"GENERAL pin=w2 cpu=1000", "", "w1:0/4:GENERAL:cpu=0/4000 w2:0/4:GENERAL:cpu=500/1000", "not-now"},
  };
  Check(rows, std::size(rows));
}

TEST(WhyNever, SaysWhatNoLiveWorkerHasAndWhatToDo) {
  auto why = [](const std::string& demand, const std::string& table) {
    return WhyNever(DemandSpec(demand), Table(table));
  };
  EXPECT_EQ("", why("GENERAL cpu=1000", "w1:4/4:GENERAL:cpu=2000/2000"));  // busy, not never
  EXPECT_EQ("no live worker has capability GPU; start one with `titan worker --tag GPU`",
            why("GPU", "w1:0/4:GENERAL w2:0/4:GPU:draining"));
  EXPECT_EQ(
      "no live worker with capability GENERAL enforces memory limits (max_memory); run a worker that can "
      "(root, or a "
      "writable cgroup: docs/job-control.md) or drop max_memory",
      why("GENERAL ctl=cpu+memory", "w1:0/4:GENERAL:ctl=cpu"));
  EXPECT_EQ(
      "no live worker with capability GENERAL offers runtime 'py311'; start one with `titan worker --runtime "
      "py311=PATH`",
      why("GENERAL rt=py311", "w1:0/4:GENERAL:rt=py310"));
  EXPECT_EQ(
      "it requests cpu 4 cores and 1 GPU, more than any live worker with capability GENERAL has (the most: "
      "cpu 2 "
      "cores); lower the request or start a worker with `titan worker --cpus 4 --gpus 1`",
      why("GENERAL cpu=4000 gpu=1", "w1:0/4:GENERAL:cpu=0/2000 w2:0/4:GENERAL:cpu=0/1500"));
  EXPECT_EQ(
      "it requests cpu 1 core and memory 512 MB, which no single live worker with capability GENERAL has at "
      "once; "
      "lower the request or start a worker that has it all (`titan worker --cpus N --memory MB --gpus N`)",
      why("GENERAL cpu=1000 mem=512",
          "w1:0/4:GENERAL:cpu=0/4000;mem=0/256 w2:0/4:GENERAL:cpu=0/500;mem=0/4096"));
  EXPECT_EQ(
      "it must run on worker w9, which is not live (or not accepting jobs, or lacks capability GENERAL); "
      "start it "
      "again",
      why("GENERAL pin=w9", "w1:0/4:GENERAL"));
  EXPECT_EQ(
      "it requests memory 2048 MB, more than any live worker with capability GENERAL has (the most: memory "
      "1024 "
      "MB); lower the request or start a worker with `titan worker --memory 2048`",
      why("GENERAL pin=w2 mem=2048", "w1:0/4:GENERAL:mem=0/8192 w2:0/4:GENERAL:mem=0/1024"));
}

}  // namespace
}  // namespace titan::broker
