// The generated typed structs (schemas/generated/messages.h): every message type round-trips through
// its struct to the same bytes, a missing or mistyped field is an error and never a crash, and an ERROR
// reply read as a struct gives its Status.
#include "schemas/generated/messages.h"

#include <gtest/gtest.h>

#include "schemas/cpp/sample_values.h"

namespace titan::wire {
namespace {

using testing::Sample;

Message SampleMessage(const MessageSpec& spec, bool all) {
  Message m = MakeMessage(spec.type);
  for (const FieldSpec& f : spec.fields) {
    if (all || !f.optional) m.Set(f.name, Sample(f, all));
  }
  if (spec.has_blobs) m.blobs = {std::string("\0blob", 5)};
  return m;
}

// Message -> struct -> Message gives the same frames, copying and moving.
TEST(Messages, EveryTypeRoundTripsThroughItsStruct) {
  for (const MessageSpec& spec : AllMessages()) {
    for (bool all : {true, false}) {
      const Message m = SampleMessage(spec, all);
      VisitMessageType(spec.type, [&](auto type) {
        using T = typename decltype(type)::type;
        EXPECT_EQ(spec.type, T::kType);
        Result<T> typed = T::From(m);
        ASSERT_TRUE(typed.ok()) << spec.name << ": " << typed.message();
        EXPECT_EQ(Encode(m), Encode(typed.value().ToMessage())) << spec.name;
        T copy = typed.value();
        EXPECT_EQ(Encode(m), Encode(std::move(copy).ToMessage())) << spec.name;
        EXPECT_EQ(T::From(Decode(Encode(m)).msg).value(), typed.value()) << spec.name;
      });
    }
  }
}

TEST(Messages, MembersAreTyped) {
  JobSubmitMsg submit;
  submit.jobs.push_back(JobSpec{.id = "a", .file = "a.sh", .parents = std::vector<std::string>{"p"}});
  submit.files.push_back(FileBlob{.name = "a.sh", .content = std::string("echo\n")});
  submit.dag = "nightly";
  const Decoded d = Decode(Encode(submit.ToMessage()));
  ASSERT_EQ(DecodeStatus::kOk, d.status) << d.reason;
  EXPECT_EQ(
      "{jobs: [{id: \"a\", file: \"a.sh\", parents: [\"p\"]}], files: [{name: \"a.sh\", content: "
      "b\"echo\\x0a\"}], dag: \"nightly\"}",
      Render(Datum(d.msg.body)));
  const Result<JobSubmitMsg> back = JobSubmitMsg::From(d.msg);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(submit, back.value());
  EXPECT_FALSE(back.value().agent_run_id.has_value());
}

TEST(Messages, ValueKeepsWhetherItWasText) {
  StorePutMsg put{.key = Value{"k", true}, .value = Value{std::string("\xff", 1), false}};
  const Result<StorePutMsg> back = StorePutMsg::From(Decode(Encode(put.ToMessage())).msg);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back.value().key.text);
  EXPECT_FALSE(back.value().value.text);
  EXPECT_EQ(put, back.value());
}

TEST(Messages, BlobsTravelWithTheirMessage) {
  JobLogDataMsg data{.id = "a", .offset = 0, .next_offset = 3, .complete = true, .blobs = {"hi\n"}};
  const Decoded d = Decode(Encode(data.ToMessage()));
  ASSERT_EQ(DecodeStatus::kOk, d.status);
  EXPECT_EQ(std::vector<std::string>{"hi\n"}, JobLogDataMsg::From(d.msg).value().blobs);
}

// Built by hand (never decoded, so never validated): From reports, it does not crash.
TEST(Messages, MissingOrMistypedFieldsAreErrorsNotCrashes) {
  Message m = MakeMessage(MsgType::kJobSubmit);
  m.body = {{"jobs", Datum(List{Datum(Map{{"id", Datum(Text{"a"})}})})}, {"files", Datum(List{})}};
  Result<JobSubmitMsg> r = JobSubmitMsg::From(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Status::Code::kMalformed, r.status().code());
  EXPECT_EQ("JOB_SUBMIT.jobs[0] needs field 'file' (str)", r.message());

  m.body = {{"jobs", Datum(7)}, {"files", Datum(List{})}};
  EXPECT_EQ("JOB_SUBMIT.jobs must be list<JobSpec>", JobSubmitMsg::From(m).message());
  m.body = {{"jobs", Datum(List{Datum(Text{"x"})})}, {"files", Datum(List{})}};
  EXPECT_EQ("JOB_SUBMIT.jobs[0] must be a map", JobSubmitMsg::From(m).message());
  m.body = {};
  EXPECT_EQ("JOB_SUBMIT needs field 'jobs' (list<JobSpec>)", JobSubmitMsg::From(m).message());
  EXPECT_EQ("STORE_GET needs field 'key' (value)",
            StoreGetMsg::From(MakeMessage(MsgType::kStoreGet)).message());
}

TEST(Messages, AnErrorReplyGivesItsStatusAndAnotherTypeIsMalformed) {
  const Result<StoreValueMsg> error = StoreValueMsg::From(MakeError(Status::NotFound("no such key")));
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(Status::Code::kNotFound, error.status().code());
  EXPECT_EQ("no such key", error.message());
  const Result<StoreValueMsg> other = StoreValueMsg::From(MakeMessage(MsgType::kStoreOk));
  EXPECT_EQ(Status::Code::kMalformed, other.status().code());
  EXPECT_EQ("expected STORE_VALUE, got STORE_OK", other.message());
  EXPECT_TRUE(ErrorMsg::From(MakeError(ErrorCode::kInvalid, "x")).ok());
}

}  // namespace
}  // namespace titan::wire
