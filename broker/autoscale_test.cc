// DecideScaling as tables: when a child is asked for, of whom, and when an idle child is retired.
#include "broker/autoscale.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

std::string Render(const std::vector<ScaleAction>& actions) {
  std::string out;
  for (const auto& a : actions) {
    out += (out.empty() ? "" : " ") + std::string(a.kind == ScaleAction::kSpawn ? "spawn " : "retire ") +
           a.worker + "@" + a.parent;
  }
  return out.empty() ? "-" : out;
}

ScaleWorker W(std::string name, int busy, int slots = 2, std::string parent = "", int64_t idle_since = 0,
              std::vector<std::string> caps = {"GENERAL"}) {
  return ScaleWorker{std::move(name), std::move(parent), std::move(caps), slots, busy, false, idle_since};
}

TEST(DecideScaling, Table) {
  ScalePolicy on;
  on.max_children = 2;
  on.min_children = 0;
  on.wait_ms = 2000;
  on.cooldown_ms = 10000;
  ScalePolicy off = on;
  off.max_children = 0;
  const int64_t now = 100000;
  struct Row {
    const char* what;
    ScalePolicy policy;
    std::vector<ScaleWorker> workers;
    std::vector<ScaleWait> waits;
    std::vector<ScalePending> pending;
    std::string expect;
  } rows[] = {
      {"off by default", off, {W("a", 2)}, {{"GENERAL", now - 60000}}, {}, "-"},
      {"nothing waits", on, {W("a", 2)}, {}, {}, "-"},
      {"a short wait is not enough", on, {W("a", 2)}, {{"GENERAL", now - 1999}}, {}, "-"},
      {"long wait, no free slot: spawn", on, {W("a", 2)}, {{"GENERAL", now - 2000}}, {}, "spawn a-auto-7@a"},
      {"a free slot will take it", on, {W("a", 2), W("b", 1)}, {{"GENERAL", now - 5000}}, {}, "-"},
      {"free slot lacks the capability",
       on,
       {W("a", 2, 2, "", 0, {"GENERAL", "GPU"}), W("b", 0)},
       {{"GPU", now - 5000}},
       {},
       "spawn a-auto-7@a"},
      {"nobody has the capability", on, {W("a", 2)}, {{"GPU", now - 5000}}, {}, "-"},
      {"a spawn is pending", on, {W("a", 2)}, {{"GENERAL", now - 5000}}, {{"a", "a-auto-6", now - 100}}, "-"},
      {"max children reached",
       on,
       {W("a", 2), W("a-auto-1", 2, 2, "a"), W("a-auto-2", 2, 2, "a")},
       {{"GENERAL", now - 5000}},
       {},
       "-"},
      {"the parent with fewer children",
       on,
       {W("a", 2), W("a-auto-1", 2, 2, "a"), W("b", 2)},
       {{"GENERAL", now - 5000}},
       {},
       "spawn b-auto-7@b"},
      {"children never parent", on, {W("a-auto-1", 2, 2, "a")}, {{"GENERAL", now - 5000}}, {}, "-"},
      {"idle child past cool-down retires",
       on,
       {W("a", 0), W("a-auto-1", 0, 2, "a", now - 10000)},
       {},
       {},
       "retire a-auto-1@a"},
      {"idle child within cool-down stays",
       on,
       {W("a", 0), W("a-auto-1", 0, 2, "a", now - 9999)},
       {},
       {},
       "-"},
      {"busy child stays", on, {W("a", 0), W("a-auto-1", 1, 2, "a", 0)}, {}, {}, "-"},
      {"the longest idle goes first",
       on,
       {W("a", 0), W("a-auto-1", 0, 2, "a", now - 20000), W("a-auto-2", 0, 2, "a", now - 30000)},
       {},
       {},
       "retire a-auto-2@a"},
  };
  for (auto& r : rows) {
    EXPECT_EQ(r.expect, Render(DecideScaling(r.policy, r.workers, r.waits, r.pending, now, 7))) << r.what;
  }
  ScalePolicy keep_one = on;
  keep_one.min_children = 1;
  EXPECT_EQ("-", Render(DecideScaling(keep_one, {W("a", 0), W("a-auto-1", 0, 2, "a", now - 50000)}, {}, {},
                                      now, 7)))
      << "min_children are kept";
}

// A worker an operator added (`deploy Worker.jar PORT`, a child with an address port) is not auto-scaling's
// to retire, however long it idles, nor does it use up its parent's auto-scaled children.
TEST(DecideScaling, NeverRetiresAWorkerAnOperatorAdded) {
  ScalePolicy on;
  on.max_children = 1;
  on.cooldown_ms = 10000;
  const int64_t now = 100000;
  ScaleWorker added = W("worker-8081", 0, 4, "a", now - 60000, {"GENERAL", "GPU"});
  added.manual = true;
  EXPECT_EQ("-", Render(DecideScaling(on, {W("a", 0), added}, {}, {}, now, 7)));
  EXPECT_EQ(
      "retire a-auto-1@a",
      Render(DecideScaling(on, {W("a", 0), added, W("a-auto-1", 0, 2, "a", now - 10000)}, {}, {}, now, 7)))
      << "an auto-scaled sibling still retires";
  ScaleWorker busy_added = W("worker-8081", 4, 4, "a");
  busy_added.manual = true;
  EXPECT_EQ("spawn a-auto-7@a",
            Render(DecideScaling(on, {W("a", 2), busy_added}, {{"GENERAL", now - 5000}}, {}, now, 7)))
      << "it does not count against a's max_children (1)";
}

}  // namespace
}  // namespace titan::broker
