// Datum <-> msgpack: minimal encodings, hostile input, UTF-8 validation.
#include "schemas/cpp/datum.h"

#include <gtest/gtest.h>

namespace titan::wire {
namespace {

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string Enc(const Datum& d) {
  std::string out;
  EncodeMsgpack(d, &out);
  return Hex(out);
}

TEST(Datum, EncodesSmallestForm) {
  EXPECT_EQ("00", Enc(Datum(0)));
  EXPECT_EQ("7f", Enc(Datum(127)));
  EXPECT_EQ("cc80", Enc(Datum(128)));
  EXPECT_EQ("ff", Enc(Datum(-1)));
  EXPECT_EQ("d0df", Enc(Datum(-33)));
  EXPECT_EQ("a161", Enc(Datum(Text{"a"})));
  EXPECT_EQ("c40161", Enc(Datum(Bytes{"a"})));
  EXPECT_EQ("c0", Enc(Datum()));
  EXPECT_EQ("c3", Enc(Datum(true)));
}

TEST(Datum, RoundTripsNestedValues) {
  Datum d(Map{{"a", Datum(List{Datum(1), Datum(Text{"x"}), Datum(Bytes{std::string("\0\xff", 2)})})},
              {"b", Datum()}});
  std::string bytes, error;
  EncodeMsgpack(d, &bytes);
  Datum back;
  ASSERT_TRUE(DecodeMsgpack(bytes, 1000, &back, &error)) << error;
  EXPECT_EQ(d, back);
  EXPECT_EQ("{a: [1, \"x\", b\"\\x00\\xff\"], b: nil}", Render(back));
}

TEST(Datum, RejectsTruncatedTrailingAndDeepInput) {
  std::string bytes, error;
  EncodeMsgpack(Datum(Map{{"key", Datum(Text{"value"})}}), &bytes);
  Datum out;
  EXPECT_FALSE(DecodeMsgpack(bytes.substr(0, bytes.size() - 1), 1000, &out, &error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_FALSE(DecodeMsgpack(bytes + "x", 1000, &out, &error));
  EXPECT_NE(error.find("trailing"), std::string::npos) << error;
  std::string deep(100, '\x91');  // 100 nested one-element arrays
  deep += '\xc0';
  EXPECT_FALSE(DecodeMsgpack(deep, 1000, &out, &error));
  EXPECT_FALSE(DecodeMsgpack("", 1000, &out, &error));
}

TEST(Datum, RejectsHugeDeclaredContainerWithoutAllocating) {
  // An array header claiming 2^32-1 elements followed by nothing.
  const std::string evil("\xdd\xff\xff\xff\xff", 5);
  Datum out;
  std::string error;
  EXPECT_FALSE(DecodeMsgpack(evil, 1000, &out, &error));
}

TEST(Datum, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("ключ 值 🚀"));
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

}  // namespace
}  // namespace titan::wire
