// The GGUF reader and writer: a round trip of every value and tensor type, and
// clear errors for every truncation and every kind of corruption.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/model/gguf.h"

namespace rwkv {
namespace {

std::vector<uint8_t> bytes_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + 31 * i);
  return v;
}

GgufWriter sample_writer(uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.add_kv("general.architecture", GgufValue::str("rwkv7"));
  w.add_kv("rwkv7.block_count", GgufValue::u32(2));
  w.add_kv("rwkv7.context_length", GgufValue::u64(1048576));
  w.add_kv("rwkv7.attention.layer_norm_epsilon", GgufValue::f32(1e-5f));
  w.add_kv("some.signed", GgufValue::i32(-7));
  w.add_kv("some.flag", GgufValue::boolean(true));
  w.add_kv("tokenizer.ggml.tokens",
           GgufValue::array(GgufValueType::string, {GgufValue::str("<s>"), GgufValue::str("a"), GgufValue::str("bc")}));
  w.add_tensor("token_embd.weight", {256, 3}, GgmlType::f16, bytes_of(256 * 3 * 2, 1));
  w.add_tensor("norm.weight", {256}, GgmlType::f32, bytes_of(256 * 4, 2));
  w.add_tensor("a.weight", {256, 2}, GgmlType::q4_k, bytes_of(2 * 144, 3));
  w.add_tensor("b.weight", {512, 1}, GgmlType::q6_k, bytes_of(2 * 210, 4));
  w.add_tensor("c.weight", {64, 3}, GgmlType::q8_0, bytes_of(6 * 34, 5));
  w.add_tensor("d.weight", {8}, GgmlType::bf16, bytes_of(16, 6));
  return w;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse("broken.gguf", bytes.data(), bytes.size(), nullptr);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Gguf, RoundTripsEveryValueAndTensorType) {
  for (uint32_t alignment : {32u, 64u}) {
    const std::vector<uint8_t> img = sample_writer(alignment).serialize();
    const GgufFile g = GgufFile::parse("mem.gguf", img.data(), img.size(), nullptr);
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.alignment(), alignment);
    EXPECT_EQ(g.get_string("general.architecture"), "rwkv7");
    EXPECT_EQ(g.get_uint("rwkv7.block_count"), 2u);
    EXPECT_EQ(g.get_uint("rwkv7.context_length"), 1048576u);
    EXPECT_EQ(g.get_float("rwkv7.attention.layer_norm_epsilon"), double(1e-5f));
    EXPECT_EQ(std::get<int64_t>(g.metadata().at("some.signed").v), -7);
    EXPECT_TRUE(std::get<bool>(g.metadata().at("some.flag").v));
    const auto& tokens = *std::get<std::shared_ptr<GgufArray>>(g.metadata().at("tokenizer.ggml.tokens").v);
    ASSERT_EQ(tokens.size(), 3u);
    EXPECT_EQ(std::get<std::string>(tokens[2].v), "bc");
    ASSERT_EQ(g.tensors().size(), 6u);
    const GgufTensor& q = g.get("a.weight", {256, 2});
    EXPECT_EQ(q.type, GgmlType::q4_k);
    EXPECT_EQ(q.bytes, 288u);
    EXPECT_EQ(std::vector<uint8_t>(q.data, q.data + q.bytes), bytes_of(288, 3));
    for (const auto& [name, t] : g.tensors())
      EXPECT_EQ(uintptr_t(t.data - img.data()) % alignment, 0u) << name << " is not aligned";
  }
}

TEST(Gguf, EveryTruncationIsAClearError) {
  const std::vector<uint8_t> img = sample_writer().serialize();
  // Every cut inside the header and tensor infos, and a sample inside the data.
  for (size_t cut = 0; cut < img.size(); cut += (cut < 700 ? 1 : 97)) {
    const std::string err = parse_error(std::vector<uint8_t>(img.begin(), img.begin() + long(cut)));
    ASSERT_FALSE(err.empty()) << "a file cut at " << cut << " of " << img.size() << " bytes parsed";
    EXPECT_NE(err.find("broken.gguf"), std::string::npos) << err;
  }
}

TEST(Gguf, CorruptionsNameWhatWasExpected) {
  const std::vector<uint8_t> good = sample_writer().serialize();
  auto with = [&](size_t at, std::vector<uint8_t> patch) {
    std::vector<uint8_t> b = good;
    std::copy(patch.begin(), patch.end(), b.begin() + long(at));
    return parse_error(b);
  };
  EXPECT_NE(with(0, {'G', 'G', 'M', 'L'}).find("not a GGUF file"), std::string::npos);
  EXPECT_NE(with(4, {2, 0, 0, 0}).find("GGUF version 2 is not supported: expected 3"), std::string::npos);
  EXPECT_NE(with(8, {0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0}).find("implausible counts"), std::string::npos);
  // The first key's value type sits after magic, version, counts (24 bytes), key length (8) and key.
  const size_t first_type = 24 + 8 + std::string("general.architecture").size();
  EXPECT_NE(with(first_type, {99, 0, 0, 0}).find("key 'general.architecture': unknown value type 99"), std::string::npos);
}

TEST(Gguf, BadTensorInfosAreNamed) {
  {
    GgufWriter w;
    w.add_tensor("x.weight", {32}, GgmlType::f32, bytes_of(128, 1));
    std::vector<uint8_t> b = w.serialize();
    // Tensor info: name (8 + 8), n_dims (4), ne (8), type (4), offset (8), after the 24-byte preamble.
    const size_t type_at = 24 + 16 + 4 + 8;
    b[type_at] = 2;  // Q4_0: not supported
    EXPECT_NE(parse_error(b).find("tensor 'x.weight': ggml type 2 is not supported"), std::string::npos) << parse_error(b);
    b[type_at] = 12;  // Q4_K with ne[0] = 32
    EXPECT_NE(parse_error(b).find("ne[0] = 32 is not a multiple of Q4_K's block size 256"), std::string::npos);
    b[type_at] = 0;
    b[type_at + 4] = 3;  // offset 3: misaligned
    EXPECT_NE(parse_error(b).find("offset 3 is not a multiple of the alignment 32"), std::string::npos);
    b[type_at + 4] = 64;  // past the end
    EXPECT_NE(parse_error(b).find("run past the end of the data section"), std::string::npos);
  }
  {
    GgufWriter w;
    w.add_tensor("x.weight", {32}, GgmlType::f32, bytes_of(128, 1));
    w.add_tensor("x.weight", {32}, GgmlType::f32, bytes_of(128, 1));
    EXPECT_NE(parse_error(w.serialize()).find("tensor 'x.weight' appears twice"), std::string::npos);
  }
}

TEST(Gguf, MissingKeysAndTensorsAreNamed) {
  const std::vector<uint8_t> img = sample_writer().serialize();
  const GgufFile g = GgufFile::parse("mem.gguf", img.data(), img.size(), nullptr);
  EXPECT_THROW(g.get("blk.0.attn_norm.weight"), std::runtime_error);
  try {
    g.get_uint("rwkv7.wkv.head_size");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metadata key 'rwkv7.wkv.head_size' is missing"), std::string::npos);
  }
  EXPECT_THROW(g.get_uint("general.architecture"), std::runtime_error);
  EXPECT_THROW(g.get("a.weight", {2, 256}), std::runtime_error);
}

TEST(Gguf, WriterRejectsWrongByteCounts) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("q", {256}, GgmlType::q4_k, bytes_of(100, 0)), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("q", {100}, GgmlType::q4_k, bytes_of(144, 0)), std::invalid_argument);
}

}  // namespace
}  // namespace rwkv
