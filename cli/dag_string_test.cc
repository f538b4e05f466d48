// Raw DAG strings as tables: what each good string submits (JobSpecs and files, rendered) and the
// message for each bad one.
#include "cli/dag_string.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

// "jobs: [...] files: name=bytes ..." for a string that parses, else "error: <message>".
std::string Parse(std::string_view text) {
  Pipeline p;
  std::string error;
  if (!ParseDagString(text, &p, &error)) return "error: " + error;
  wire::List jobs;
  for (const wire::JobSpec& spec : p.jobs) jobs.push_back(spec.ToDatum());
  std::string out = "jobs: " + wire::Render(wire::Datum(std::move(jobs)));
  for (const auto& [name, bytes] : p.files) out += " file " + name + "=" + bytes;
  return out;
}

// The JobSpecs are rendered in schema order (JobSpec::ToDatum).
TEST(ParseDagString, GoodStrings) {
  const struct {
    const char* text;
    const char* expect;
  } rows[] = {
      {"a|GENERAL|etl.py|1|0|[]",
       R"(jobs: [{id: "a", file: "etl.py", priority: 1, delay_ms: 0, requirement: "GENERAL"}])"},
      {"  a|GPU|etl.py|5|250|[] ;  ",  // whitespace around jobs, a trailing ';'
       R"(jobs: [{id: "a", file: "etl.py", priority: 5, delay_ms: 250, requirement: "GPU"}])"},
      {"a|GENERAL|RUN_PAYLOAD|hi.py|cHJpbnQoImhpIikK|2|0|[]",  // an inline script: the payload has pipes
       R"(jobs: [{id: "a", file: "hi.py", priority: 2, delay_ms: 0, requirement: "GENERAL"}] file hi.py=print("hi")
)"},
      {"a|GENERAL|x.sh|1|0|[];b|GENERAL|y.sh|1|0|[a]|AFFINITY",
       R"(jobs: [{id: "a", file: "x.sh", priority: 1, delay_ms: 0, requirement: "GENERAL"}, )"
       R"({id: "b", file: "y.sh", priority: 1, delay_ms: 0, requirement: "GENERAL", affinity: true, parents: ["a"]}])"},
      {"c|GENERAL|z.sh|-3|0|[ DAG-a , b ]|sticky",  // parents as written, spaces trimmed; flags in any case
       R"(jobs: [{id: "c", file: "z.sh", priority: -3, delay_ms: 0, requirement: "GENERAL", affinity: true, )"
       R"(parents: ["DAG-a", "b"]}])"},
      {"a|G|RUN_PAYLOAD|s.py|YXxi|1|0|[];b|G|RUN_PAYLOAD|s.py|YXxi|1|0|[a]",  // one file sent once
       R"(jobs: [{id: "a", file: "s.py", priority: 1, delay_ms: 0, requirement: "G"}, )"
       R"({id: "b", file: "s.py", priority: 1, delay_ms: 0, requirement: "G", parents: ["a"]}] file s.py=a|b)"},
      {"a|G|RUN_PAYLOAD|empty.sh||1|0|[]",
       R"(jobs: [{id: "a", file: "empty.sh", priority: 1, delay_ms: 0, requirement: "G"}] file empty.sh=)"},
  };
  for (const auto& row : rows) EXPECT_EQ(row.expect, Parse(row.text)) << row.text;
}

TEST(ParseDagString, BadStringsNameTheJobAndTheField) {
  const struct {
    const char* text;
    const char* expect;
  } rows[] = {
      {"",
       "error: the DAG string has no jobs; write ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS] with an "
       "optional |AFFINITY, jobs separated by ';'"},
      {" ; ",
       "error: the DAG string has no jobs; write ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS] with an "
       "optional |AFFINITY, jobs separated by ';'"},
      {"a|G|x.py|1|0|[];train|G|t.py|high|0|[a]",
       "error: job 2 ('train'): PRIORITY 'high' is not an integer"},
      {"a|G|x.py|1|soon|[]",
       "error: job 1 ('a'): DELAY_MS 'soon' is not a whole number of milliseconds (0 or more)"},
      {"a|G|x.py|1|-5|[]",
       "error: job 1 ('a'): DELAY_MS '-5' is not a whole number of milliseconds (0 or more)"},
      {"a|G|x.py|1|0",
       "error: job 1 ('a'): has 5 fields; write ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS] with an "
       "optional "
       "|AFFINITY"},
      {"just-an-id",
       "error: job 1: has 1 fields; write ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS] with an "
       "optional |AFFINITY"},
      {"a|G|x.py|1|0|a,b",
       "error: job 1 ('a'): PARENTS 'a,b' must be in brackets: [] or [a,b] (after DELAY_MS)"},
      {"a|G|x.py|1|0|[]|FAST",
       "error: job 1 ('a'): 'FAST' after [PARENTS] is not a flag; write AFFINITY or nothing"},
      {"a|G|x.py|1|0|AFFINITY",
       "error: job 1 ('a'): PARENTS 'AFFINITY' must be in brackets: [] or [a,b] (after DELAY_MS)"},
      {"a|G|x.py|1|0|[b,,c]", "error: job 1 ('a'): PARENTS '[b,,c]' has an empty name"},
      {"|G|x.py|1|0|[]", "error: job 1: ID is empty; give each job an id"},
      {"a||x.py|1|0|[]", "error: job 1 ('a'): SKILL is empty; write GENERAL or a capability such as GPU"},
      {"a|G||1|0|[]", "error: job 1 ('a'): PAYLOAD is empty; give a script name or RUN_PAYLOAD|FILE|BASE64"},
      {"a|G|RUN_PAYLOAD|s.py|not base64!|1|0|[]",
       "error: job 1 ('a'): the content of 's.py' is not valid base64"},
      {"a|G|RUN_PAYLOAD|s.py|YXxi=|1|0|[]", "error: job 1 ('a'): the content of 's.py' is not valid base64"},
      {"a|G|RUN_PAYLOAD|s.py|1|0|[]",
       "error: job 1 ('a'): PAYLOAD 'RUN_PAYLOAD|s.py' is neither a script name nor "
       "RUN_PAYLOAD|FILE|BASE64_CONTENT"},
      {"a|G|RUN_PAYLOAD|1|0|[]",
       "error: job 1 ('a'): PAYLOAD 'RUN_PAYLOAD' is neither a script name nor "
       "RUN_PAYLOAD|FILE|BASE64_CONTENT"},
      {"a|G|one|two|1|0|[]",
       "error: job 1 ('a'): PAYLOAD 'one|two' is neither a script name nor RUN_PAYLOAD|FILE|BASE64_CONTENT"},
      {"a|G|RUN_PAYLOAD|s.py|YXxi|1|0|[];b|G|RUN_PAYLOAD|s.py|eA==|1|0|[]",
       "error: job 2 ('b'): file 's.py' is also sent by an earlier job with other content; rename one"},
  };
  for (const auto& row : rows) EXPECT_EQ(row.expect, Parse(row.text)) << row.text;
}

TEST(IsDagString, APipeMakesADagString) {
  EXPECT_TRUE(IsDagString("a|G|x.py|1|0|[]"));
  EXPECT_FALSE(IsDagString("nightly#2"));
}

}  // namespace
}  // namespace titan::cli
