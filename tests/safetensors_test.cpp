// The safetensors reader on the crosscheck model and on every kind of broken
// file: each must give an error naming the file, the tensor and the field.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/model/safetensors.h"
#include "reference/numeric/f16.h"

namespace rwkv {
namespace {

const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Builds a safetensors image from a header string and a data section.
std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

// The error message from parsing `bytes`, or "" if it parsed.
std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile::parse("broken.st", bytes.data(), bytes.size(), nullptr);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsTheCrosscheckModel) {
  const SafetensorsFile st = SafetensorsFile::open(kTiny);
  EXPECT_EQ(st.tensors().size(), 72u);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  const StTensor& head = st.get("head.weight", {1024, 256});
  EXPECT_EQ(head.dtype, StDType::f16);
  EXPECT_EQ(head.bytes, 1024u * 256u * 2u);
  // Values checked with numpy on the same file.
  const auto* h = reinterpret_cast<const uint16_t*>(head.data);
  EXPECT_EQ(f16_bits_to_f32(h[0]), 0.343505859375f);
  EXPECT_EQ(f16_bits_to_f32(h[1]), -0.0841064453125f);
  double sum = 0;
  for (int64_t i = 0; i < head.numel(); ++i) sum += double(f16_bits_to_f32(h[i]));
  EXPECT_NEAR(sum, -91.80711334943771, 1e-9);
  EXPECT_EQ(st.get("blocks.0.att.x_r").shape, (std::vector<int64_t>{1, 1, 256}));
}

TEST(Safetensors, MissingTensorAndWrongShapeNameTheTensor) {
  const SafetensorsFile st = SafetensorsFile::open(kTiny);
  try {
    st.get("blocks.7.att.key.weight");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rwkv7-tiny.st: tensor 'blocks.7.att.key.weight' is missing"), std::string::npos)
        << e.what();
  }
  try {
    st.get("head.weight", {256, 1024});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'head.weight' has shape (1024, 256), expected (256, 1024)"), std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, MissingFileNamesIt) {
  try {
    SafetensorsFile::open("/nonexistent/model.st");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.st: cannot open"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, EveryTruncationOfARealFileIsAClearError) {
  const std::vector<uint8_t> full = read_all(kTiny);
  ASSERT_GT(full.size(), 7000u);
  // Cut inside the length field, inside the header, at the start of the data
  // and inside the last tensor.
  for (size_t cut : {size_t(0), size_t(5), size_t(100), size_t(6208), full.size() / 2, full.size() - 1}) {
    std::vector<uint8_t> part(full.begin(), full.begin() + long(cut));
    const std::string err = parse_error(part);
    EXPECT_FALSE(err.empty()) << "a file cut at " << cut << " bytes parsed";
    EXPECT_NE(err.find("broken.st"), std::string::npos) << err;
  }
  EXPECT_NE(parse_error(std::vector<uint8_t>(full.begin(), full.end() - 1)).find("tensor 'head.weight'"), std::string::npos);
}

struct BrokenCase {
  const char* what;
  std::string header;
  size_t data_bytes;
  const char* expected;  // a piece of the message
};

TEST(Safetensors, BrokenHeadersGiveMessagesNamingTheField) {
  const BrokenCase cases[] = {
      {"not json", "{\"a\": [", 0, "header is not valid JSON"},
      {"not an object", "[1, 2]", 0, "not a JSON object"},
      {"unknown dtype", R"({"w": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})", 16,
       "tensor 'w': unknown dtype 'I64': expected F16, BF16 or F32"},
      {"missing dtype", R"({"w": {"shape": [2], "data_offsets": [0, 4]}})", 4, "tensor 'w': field 'dtype'"},
      {"bad shape", R"({"w": {"dtype": "F16", "shape": [-2], "data_offsets": [0, 4]}})", 4, "tensor 'w': 'shape'"},
      {"offsets reversed", R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [4, 0]}})", 4, "end before they begin"},
      {"offsets past the end", R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", 2,
       "run past the end of the data"},
      {"size mismatch", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4,
       "4 bytes at data_offsets [0, 4], but shape (2) of F32 needs 8"},
      {"overlap",
       R"({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "b": {"dtype": "F16", "shape": [2], "data_offsets": [2, 6]}})",
       6, "overlap"},
      {"huge dimension", R"({"w": {"dtype": "F16", "shape": [1099511627777], "data_offsets": [0, 4]}})", 4,
       "implausibly large"},
      {"metadata not strings", R"({"__metadata__": {"format": 3}})", 0, "__metadata__.format is not a string"},
  };
  for (const BrokenCase& c : cases) {
    const std::string err = parse_error(image(c.header, c.data_bytes));
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.what << ": got '" << err << "'";
    EXPECT_NE(err.find("broken.st"), std::string::npos) << c.what;
  }
}

TEST(Safetensors, HeaderLengthLargerThanTheFileIsAnError) {
  std::vector<uint8_t> bytes = image("{}", 0);
  bytes[0] = 0xff;
  bytes[7] = 0x7f;
  EXPECT_NE(parse_error(bytes).find("header length field says"), std::string::npos);
}

}  // namespace
}  // namespace rwkv
