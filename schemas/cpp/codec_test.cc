// Codec: every message type round-trips; each kind of bad frame set gets its own status.
#include "schemas/cpp/codec.h"

#include <gtest/gtest.h>

#include "schemas/cpp/sample_values.h"

namespace titan::wire {
namespace {

// A sample value of the given field's type, optional fields of structs filled too.
Datum Sample(const FieldSpec& f) { return testing::Sample(f, true); }

TEST(Codec, EveryMessageTypeRoundTrips) {
  for (const MessageSpec& spec : AllMessages()) {
    Message m = MakeMessage(spec.type);
    for (const FieldSpec& f : spec.fields) m.Set(f.name, Sample(f));
    m.Set("rid", Datum(int64_t{7}));
    const auto frames = Encode(m);
    ASSERT_EQ(3u, frames.size());
    const Decoded d = Decode(frames);
    ASSERT_EQ(DecodeStatus::kOk, d.status) << spec.name << ": " << d.reason;
    EXPECT_EQ(spec.type, d.msg.type);
    EXPECT_EQ(Render(Datum(m.body)), Render(Datum(d.msg.body))) << spec.name;
    EXPECT_EQ(7, d.rid.value_or(0));
  }
}

TEST(Codec, OptionalFieldsMayBeAbsent) {
  for (const MessageSpec& spec : AllMessages()) {
    Message m = MakeMessage(spec.type);
    for (const FieldSpec& f : spec.fields) {
      if (!f.optional) m.Set(f.name, Sample(f));
    }
    EXPECT_EQ(DecodeStatus::kOk, Decode(Encode(m)).status) << spec.name;
  }
}

TEST(Codec, BlobFramesTravelRaw) {
  Message m = MakeMessage(MsgType::kStoreOk);
  m.blobs = {std::string(3, '\0'), "chunk"};
  const Decoded d = Decode(Encode(m));
  ASSERT_EQ(DecodeStatus::kOk, d.status);
  EXPECT_EQ(m.blobs, d.msg.blobs);
}

TEST(Codec, EncodingIsCanonicalRegardlessOfSetOrder) {
  Message a = MakeMessage(MsgType::kStorePut);
  a.Set("key", Datum(Text{"k"})).Set("value", Datum(Text{"v"}));
  Message b = MakeMessage(MsgType::kStorePut);
  b.Set("value", Datum(Text{"v"})).Set("key", Datum(Text{"k"}));
  EXPECT_EQ(Encode(a), Encode(b));
}

TEST(Codec, MissingFieldNamesTheField) {
  Message m = MakeMessage(MsgType::kStorePut);
  m.Set("key", Datum(Text{"k"}));
  const Decoded d = Decode(Encode(m));  // Encode does not validate: the decoder must
  EXPECT_EQ(DecodeStatus::kMalformed, d.status);
  EXPECT_EQ("STORE_PUT needs field 'value' (value)", d.reason);
}

TEST(Codec, NestedStructErrorsNameThePath) {
  Message m = MakeMessage(MsgType::kJobSubmit);
  m.Set("jobs", Datum(List{Datum(Map{{"id", Datum(Text{"a"})}, {"file", Datum(Text{"a.py"})}}),
                           Datum(Map{{"id", Datum(Text{"b"})}, {"file", Datum(7)}})}));
  m.Set("files", Datum(List{}));
  const Decoded d = Decode(Encode(m));
  EXPECT_EQ(DecodeStatus::kMalformed, d.status);
  EXPECT_EQ("JOB_SUBMIT.jobs[1] field 'file' must be str", d.reason);
  m.Set("jobs", Datum(List{Datum(Map{{"id", Datum(Text{"a"})}})}));
  EXPECT_EQ("JOB_SUBMIT.jobs[0] needs field 'file' (str)", Decode(Encode(m)).reason);
}

TEST(Codec, UnknownFieldsOfAPeerAreDroppedAtDecode) {
  const std::string body =
      "\x82\xa3key\xa1k\xa5"
      "extra\x01";  // {key: "k", extra: 1}
  const Decoded d = Decode(std::vector<std::string>{std::string(kSignature), "\x11", body});
  ASSERT_EQ(DecodeStatus::kOk, d.status) << d.reason;
  EXPECT_EQ("{key: \"k\"}", Render(Datum(d.msg.body)));
  EXPECT_TRUE(CheckFieldNames(d.msg).ok());  // so a decoded message always re-encodes
}

// Regression: Encode used to drop a misspelled field silently, so the peer saw a message without it.
TEST(Codec, AFieldTheSchemaLacksIsCaught) {
  Message m = MakeMessage(MsgType::kJobGet);
  m.body = {{"id", Datum(Text{"a"})}, {"rnu", Datum(2)}};  // around Set, which asserts
  EXPECT_EQ("JOB_GET has no field 'rnu' in schemas/protocol.yaml (a misspelled field name?)",
            CheckFieldNames(m).message());
  m.body = {{"jobs", Datum(List{Datum(Map{{"id", Datum(Text{"a"})}, {"fiel", Datum(Text{"a.sh"})}})})}};
  m.type = MsgType::kJobSubmit;
  EXPECT_EQ("JOB_SUBMIT.jobs[0] has no field 'fiel' in schemas/protocol.yaml (a misspelled field name?)",
            CheckFieldNames(m).message());
  m.Set("rid", Datum(5));  // envelope fields belong to every message
#ifdef NDEBUG
  const Decoded d = Decode(Encode(m));  // release builds send the bug to the peer as ERROR INTERNAL
  ASSERT_EQ(DecodeStatus::kOk, d.status);
  EXPECT_EQ(MsgType::kError, d.msg.type);
  EXPECT_EQ("INTERNAL", d.msg.Bytes("code"));
  EXPECT_EQ(5, d.rid.value_or(0));
#else
  EXPECT_DEATH(Encode(m), "JOB_SUBMIT.jobs\\[0\\] has no field 'fiel'");
  EXPECT_DEATH(MakeMessage(MsgType::kJobGet).Set("rnu", Datum(2)), "JOB_GET has no field 'rnu'");
#endif
}

TEST(Codec, ErrorCodesMapFromStatus) {
  std::vector<std::string> frames = {"TITAN\x02", "\x11", "\x80"};
  frames[0] = std::string("TITAN\x02", 6);
  const Decoded d = Decode(frames);
  EXPECT_EQ(DecodeStatus::kWrongVersion, d.status);
  EXPECT_EQ("WRONG_VERSION", ErrorCodeName(d.error_code()));
}

TEST(Codec, OversizedBodyIsTooLargeBeforeParsing) {
  std::vector<std::string> frames = {std::string(kSignature), "\x11", std::string(kMaxBodyBytes + 1, '\xc1')};
  const Decoded d = Decode(frames);
  EXPECT_EQ(DecodeStatus::kTooLarge, d.status);
}

TEST(Codec, TooManyFrames) {
  std::vector<std::string> frames(kMaxFrames + 1, "x");
  EXPECT_EQ(DecodeStatus::kTooLarge, Decode(frames).status);
}

}  // namespace
}  // namespace titan::wire
