// `titan run` argument handling: job ids, argument quoting, --env checks, the JOB_SUBMIT it sends.
#include "cli/submit.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

TEST(DefaultJobId, IsStemAndEightHexDigits) {
  EXPECT_EQ("etl-1a2b3c4d", DefaultJobId("jobs/etl.py", 0x1a2b3c4d));
  EXPECT_EQ("run-0000000f", DefaultJobId("./run", 0xf));
  EXPECT_EQ("archive.tar-00000000", DefaultJobId("archive.tar.gz", 0));
}

TEST(ShellJoin, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ("--date=2024-05-01 -v", ShellJoin({"--date=2024-05-01", "-v"}));
  EXPECT_EQ("'a b' 'it'\\''s' '' '$HOME'", ShellJoin({"a b", "it's", "", "$HOME"}));
}

TEST(CheckEnv, WantsNameEqualsValue) {
  EXPECT_EQ("", CheckEnv({"A=1", "B=", "C=x=y"}));
  EXPECT_EQ("--env 'A' has no '=': write NAME=value", CheckEnv({"A"}));
  EXPECT_EQ("--env '=1' has no NAME before '='", CheckEnv({"=1"}));
}

TEST(ResolveSecretEnv, ABareNameTakesItsValueFromTheEnvironmentAndErrorsNeverEchoAValue) {
  auto lookup = [](const char* name) -> const char* {
    return std::string(name) == "TOKEN" ? "t0k3n" : nullptr;
  };
  std::vector<std::string> entries = {"TOKEN", "GIVEN=v=1"};
  EXPECT_EQ("", ResolveSecretEnv(&entries, lookup));
  EXPECT_EQ((std::vector<std::string>{"TOKEN=t0k3n", "GIVEN=v=1"}), entries);
  std::vector<std::string> missing = {"ABSENT"};
  EXPECT_EQ(
      "--secret-env ABSENT: ABSENT is not set in this environment; export it first, or write NAME=value",
      ResolveSecretEnv(&missing, lookup));
  std::vector<std::string> nameless = {"=s3cret"};
  const std::string error = ResolveSecretEnv(&nameless, lookup);
  EXPECT_EQ(std::string::npos, error.find("s3cret")) << error;
}

TEST(BuildSubmit, SendsOnlyTheFieldsGivenAndValidates) {
  RunArgs args;
  args.file = "/tmp/x/etl.py";
  wire::Message minimal = BuildSubmit(args, "etl-1", "print(1)\n");
  std::string why;
  EXPECT_TRUE(wire::Validate(minimal, &why)) << why;
  EXPECT_EQ("[{id: \"etl-1\", file: \"etl.py\"}]", wire::Render(*minimal.Find("jobs")));
  EXPECT_EQ("[{name: \"etl.py\", content: b\"print(1)\\x0a\"}]", wire::Render(*minimal.Find("files")));

  args.args = {"a b"};
  args.priority = 5;
  args.delay_ms = 0;
  args.requirement = "GPU";
  args.affinity = true;
  args.retries = 2;
  args.timeout_ms = 1000;
  args.env = {"A=1"};
  args.on_worker_lost = "fail";
  wire::Message full = BuildSubmit(args, "etl-1", "");
  EXPECT_TRUE(wire::Validate(full, &why)) << why;
  EXPECT_EQ(
      "[{id: \"etl-1\", file: \"etl.py\", args: \"'a b'\", priority: 5, delay_ms: 0, requirement: \"GPU\", "
      "affinity: true, retries: 2, timeout_ms: 1000, env: [\"A=1\"], on_worker_lost: \"fail\"}]",
      wire::Render(*full.Find("jobs")));
}

TEST(BuildSubmit, EachSubmissionHasATokenOfItsOwn) {
  RunArgs args;
  args.file = "/tmp/x/etl.py";
  const wire::Message a = BuildSubmit(args, "j", ""), b = BuildSubmit(args, "j", "");
  ASSERT_NE(nullptr, a.Find("token"));
  ASSERT_NE(nullptr, b.Find("token"));
  const std::string ta(a.Bytes("token")), tb(b.Bytes("token"));
  EXPECT_EQ(32u, ta.size());
  EXPECT_EQ(std::string::npos, ta.find_first_not_of("0123456789abcdef"));
  EXPECT_NE(ta, tb);
}

TEST(BuildSubmit, ColdStartIsSentOnlyWhenAsked) {
  RunArgs args;
  args.file = "/tmp/x/etl.py";
  EXPECT_EQ("[{id: \"j\", file: \"etl.py\"}]", wire::Render(*BuildSubmit(args, "j", "").Find("jobs")));
  args.cold_start = true;
  EXPECT_EQ("[{id: \"j\", file: \"etl.py\", cold_start: true}]",
            wire::Render(*BuildSubmit(args, "j", "").Find("jobs")));
}

TEST(BuildSubmit, ServicesAndDeployedFilesAndArchives) {
  RunArgs args;
  args.file = "api/server.py";  // not read here: the broker runs perm_files/api/server.py
  args.job_type = "SERVICE";
  args.port = 8080;
  args.health_cmd = "curl -fs localhost:8080/health";
  args.max_restarts = 3;
  wire::Message service = BuildSubmit(args, "api", std::nullopt);
  std::string why;
  EXPECT_TRUE(wire::Validate(service, &why)) << why;
  EXPECT_EQ(
      "[{id: \"api\", file: \"api/server.py\", job_type: \"SERVICE\", port: 8080, health_cmd: \"curl -fs "
      "localhost:8080/health\", max_restarts: 3}]",
      wire::Render(*service.Find("jobs")));
  EXPECT_EQ("[]", wire::Render(*service.Find("files")));

  RunArgs archive;
  archive.file = "proj.zip/src/main.py";
  archive.archive = true;
  archive.args = {"--n", "3"};
  EXPECT_EQ("[{id: \"p\", file: \"proj.zip/src/main.py\", args: \"--n 3\", archive: true}]",
            wire::Render(*BuildSubmit(archive, "p", std::nullopt).Find("jobs")));
}

TEST(ApplyDeployWords, PortThenRequirementAsTheOriginalTookThem) {
  const struct {
    std::vector<std::string> words;
    bool port_given, requirement_given;
    std::string expect;  // "port requirement", or the error
  } rows[] = {
      {{}, false, false, "0 "},
      {{"8123"}, false, false, "8123 "},
      {{"8123", "GPU"}, false, false, "8123 GPU"},
      {{"GPU"}, false, false, "0 GPU"},  // no number first: the requirement
      {{"GPU"}, true, false, "0 GPU"},
      {{"8123"}, false, true, "8123 "},
      {{"65535"}, false, false, "65535 "},
      {{"0"}, false, false, "PORT '0' is not within 1..65535"},
      {{"70000"}, false, false, "PORT '70000' is not within 1..65535"},
      {{"99999999999"}, false, false, "PORT '99999999999' is not within 1..65535"},
      {{"8123"}, true, false, "'8123' looks like a PORT, but --port was given; give the port once"},
      {{"8123", "GPU", "--x"},
       false,
       false,
       "unexpected '--x' after FILE [PORT] [REQUIREMENT]; put the script's arguments after `--`, e.g. titan "
       "deploy server.py 8080 -- --verbose"},
      {{"GPU"},
       false,
       true,
       "unexpected 'GPU' after FILE [PORT] [REQUIREMENT]; put the script's arguments after `--`, e.g. titan "
       "deploy server.py 8080 -- --verbose"},
  };
  for (const auto& row : rows) {
    RunArgs args;
    const std::string error = ApplyDeployWords(row.words, row.port_given, row.requirement_given, &args);
    EXPECT_EQ(row.expect, error.empty() ? std::to_string(args.port) + " " + args.requirement : error)
        << ::testing::PrintToString(row.words);
  }
}

}  // namespace
}  // namespace titan::cli
