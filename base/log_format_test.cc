// --log-format json: every line is one JSON object whatever bytes the message holds, with its scope's ids.
#include "base/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace titan {
namespace {

using nlohmann::json;

json Parse(const std::string& line) {
  EXPECT_EQ(std::string::npos, line.find('\n')) << "one line: " << line;
  return json::parse(line);  // throws, failing the test, on anything that is not JSON
}

TEST(LogFormatTest, TheFieldsComeInOrderAndTheComponentPrefixIsDropped) {
  EXPECT_EQ(
      R"({"time":"2024-05-01T12:00:00.123Z","level":"warning","component":"broker","message":"worker w1 lost"})",
      JsonLogLine(1714564800123, "warning", "broker", "broker: worker w1 lost"));
  EXPECT_EQ("store: kept", Parse(JsonLogLine(0, "info", "broker", "store: kept"))["message"]);
  EXPECT_EQ("1970-01-01T00:00:00.000Z", Parse(JsonLogLine(0, "info", "broker", "x"))["time"]);
}

TEST(LogFormatTest, QuotesNewlinesAndControlCharactersAreEscaped) {
  const std::string message = "a \"quoted\" \\ path\nsecond line\r\ttab \x01\x1f end";
  const std::string line = JsonLogLine(0, "info", "worker", message);
  EXPECT_NE(std::string::npos, line.find(R"(\"quoted\")")) << line;
  EXPECT_NE(std::string::npos, line.find(R"(\n)")) << line;
  EXPECT_NE(std::string::npos, line.find(R"(\u0001)")) << line;
  EXPECT_EQ(message, Parse(line)["message"]);  // and it reads back exactly
}

TEST(LogFormatTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string message =
      std::string("name \xff\xfe end \xc3", 13) + "(";  // invalid, then a cut sequence
  const json parsed = Parse(JsonLogLine(0, "error", "worker", message));
  EXPECT_EQ("name \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD(", parsed["message"]);
  EXPECT_EQ("ünïcødé ✓",
            Parse(JsonLogLine(0, "info", "worker", "ünïcødé ✓"))["message"]);  // valid UTF-8 kept
}

TEST(LogFormatTest, ScopedIdsNestAndAreLeftWhenTheScopeEnds) {
  {
    LogScope worker({{"worker", "w1"}});
    {
      LogScope job({{"job", "train\"1"}, {"worker", "w2"}, {"dag", ""}});
      const json inner = Parse(JsonLogLine(0, "info", "broker", "x"));
      EXPECT_EQ("train\"1", inner["job"]);
      EXPECT_EQ("w2", inner["worker"]);     // the inner scope's value
      EXPECT_FALSE(inner.contains("dag"));  // empty: left out
    }
    const json outer = Parse(JsonLogLine(0, "info", "broker", "x"));
    EXPECT_EQ("w1", outer["worker"]);
    EXPECT_FALSE(outer.contains("job"));
  }
  EXPECT_FALSE(Parse(JsonLogLine(0, "info", "broker", "x")).contains("worker"));
}

TEST(LogFormatTest, ALoggerWritesOneParseableObjectPerLine) {
  std::ostringstream out;
  auto logger =
      std::make_shared<spdlog::logger>("json-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::register_logger(logger);
  UseLogFormat(LogFormat::kJson, "store");
  logger->info("store: serving {} on {}", "s.db", "tcp://127.0.0.1:1");
  logger->error("a message\nwith a newline and \"quotes\"");
  spdlog::drop("json-test");
  std::istringstream lines(out.str());
  std::string line;
  std::vector<json> parsed;
  while (std::getline(lines, line)) parsed.push_back(Parse(line));
  ASSERT_EQ(2u, parsed.size()) << out.str();
  EXPECT_EQ("serving s.db on tcp://127.0.0.1:1", parsed[0]["message"]);
  EXPECT_EQ("store", parsed[0]["component"]);
  EXPECT_EQ("error", parsed[1]["level"]);
  EXPECT_EQ("a message\nwith a newline and \"quotes\"", parsed[1]["message"]);
}

TEST(LogFormatTest, OnlyTextAndJsonAreFormats) {
  EXPECT_EQ(LogFormat::kJson, ParseLogFormat("json"));
  EXPECT_EQ(LogFormat::kText, ParseLogFormat("text"));
  EXPECT_FALSE(ParseLogFormat("JSON").has_value());
}

}  // namespace
}  // namespace titan
