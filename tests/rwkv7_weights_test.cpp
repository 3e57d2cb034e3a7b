// Loading a web-rwkv safetensors model: the config detected from shapes, the
// LoRA orientation, and clear errors on doctored copies of the tiny model.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "reference/model/rwkv7_weights.h"
#include "reference/model/safetensors.h"

namespace rwkv {
namespace {

const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

// One tensor of a doctored copy.
struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes the tiny model's tensors, after `edit` changes them, as a new
// safetensors file; returns its path.
std::string doctored(const std::string& label, const std::function<void(std::map<std::string, Entry>&)>& edit) {
  const SafetensorsFile f = SafetensorsFile::open(kTiny);
  std::map<std::string, Entry> t;
  for (const auto& [name, s] : f.tensors())
    t[name] = Entry{st_dtype_name(s.dtype), s.shape, std::vector<uint8_t>(s.data, s.data + s.bytes)};
  edit(t);
  nlohmann::json h = nlohmann::json::object();
  size_t off = 0;
  for (const auto& [name, e] : t) {
    h[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string header = h.dump();
  while (header.size() % 8) header += ' ';
  const std::string path =
      (std::filesystem::temp_directory_path() / ("rwkv7_weights_test_" + label + ".st")).string();
  std::ofstream o(path, std::ios::binary);
  const uint64_t n = header.size();
  o.write(reinterpret_cast<const char*>(&n), 8);
  o.write(header.data(), std::streamsize(header.size()));
  for (const auto& [name, e] : t) o.write(reinterpret_cast<const char*>(e.bytes.data()), std::streamsize(e.bytes.size()));
  return path;
}

std::string load_error(const std::string& path) {
  try {
    load_rwkv7_safetensors(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Rwkv7Weights, DetectsTheTinyConfig) {
  const Rwkv7Weights w = load_rwkv7_safetensors(kTiny);
  EXPECT_EQ(w.config.L, 2);
  EXPECT_EQ(w.config.C, 256);
  EXPECT_EQ(w.config.N, 64);
  EXPECT_EQ(w.config.V, 1024);
  EXPECT_EQ(w.config.F, 1024);
  EXPECT_EQ(w.config.Dw, 32);
  EXPECT_EQ(w.config.Da, 32);
  EXPECT_EQ(w.config.Dv, 32);
  EXPECT_EQ(w.config.Dg, 64);
  EXPECT_TRUE(w.notes.empty());
  // The .st w1 (D, C) is the Linear C -> D: [K = C, M = D].
  const Matrix& w1 = w.matrix("blocks.1.att.w1");
  EXPECT_EQ(w1.K, 256);
  EXPECT_EQ(w1.M, 32);
  const Matrix& g2 = w.matrix("blocks.0.att.g2");
  EXPECT_EQ(g2.K, 64);
  EXPECT_EQ(g2.M, 256);
  const Matrix& fv = w.matrix("blocks.0.ffn.value.weight");
  EXPECT_EQ(fv.K, 1024);
  EXPECT_EQ(fv.M, 256);
  EXPECT_EQ(w.vector("emb.weight").shape, Shape(256, 1024));
  // Views of the mapped file, no copies.
  const SafetensorsFile f = SafetensorsFile::open(kTiny);
  EXPECT_EQ(0, std::memcmp(w1.data, f.get("blocks.1.att.w1").data, 32 * 256 * 2));
  EXPECT_THROW(w.matrix("blocks.0.att.v1"), std::invalid_argument);  // layer 0's is never read
}

TEST(Rwkv7Weights, MissingTensorNamesFileTensorAndShape) {
  const std::string p = doctored("missing", [](auto& t) { t.erase("blocks.1.att.k_a"); });
  const std::string e = load_error(p);
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("'blocks.1.att.k_a' is missing"), std::string::npos) << e;
  EXPECT_NE(e.find("(1, 1, 256)"), std::string::npos) << e;
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, WrongShapeNamesTheTensor) {
  const std::string p = doctored("shape", [](auto& t) {
    Entry& e = t.at("blocks.1.att.output.weight");
    e.shape = {128, 512};
  });
  const std::string e = load_error(p);
  EXPECT_NE(e.find("blocks.1.att.output.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("256"), std::string::npos) << e;
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, NotRwkv7IsRejected) {
  const std::string p = doctored("not_v7", [](auto& t) { t.erase("blocks.0.att.k_a"); });
  EXPECT_NE(load_error(p).find("not an RWKV-7"), std::string::npos) << load_error(p);
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, UnknownDtypeIsRejected) {
  const std::string p = doctored("dtype", [](auto& t) { t.at("ln_out.bias").dtype = "I16"; });
  const std::string e = load_error(p);
  EXPECT_NE(e.find("ln_out.bias"), std::string::npos) << e;
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, F32TensorIsConvertedWithANote) {
  const std::string p = doctored("f32", [](auto& t) {
    Entry& e = t.at("blocks.0.att.w0");
    std::vector<uint8_t> out(e.bytes.size() * 2);
    for (size_t i = 0; i < e.bytes.size() / 2; ++i) {
      uint16_t h;
      std::memcpy(&h, e.bytes.data() + 2 * i, 2);
      const float v = f16_bits_to_f32(h);
      std::memcpy(out.data() + 4 * i, &v, 4);
    }
    e.bytes = out;
    e.dtype = "F32";
  });
  const Rwkv7Weights w = load_rwkv7_safetensors(p);
  ASSERT_EQ(w.notes.size(), 1u);
  EXPECT_NE(w.notes[0].find("blocks.0.att.w0: F32 converted to F16"), std::string::npos) << w.notes[0];
  const Rwkv7Weights ref = load_rwkv7_safetensors(kTiny);
  EXPECT_EQ(0, std::memcmp(w.vector("blocks.0.att.w0").data, ref.vector("blocks.0.att.w0").data, 256 * 2));
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, ExtraTensorIsRefusedByName) {
  const std::string p = doctored("extra", [](auto& t) {
    t["blocks.1.att.time_first"] = Entry{"F16", {4, 64}, std::vector<uint8_t>(4 * 64 * 2)};
    t["head.bias"] = Entry{"F16", {1024}, std::vector<uint8_t>(1024 * 2)};
  });
  const std::string e = load_error(p);
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("2 unexpected tensors"), std::string::npos) << e;
  EXPECT_NE(e.find("'blocks.1.att.time_first'"), std::string::npos) << e;
  EXPECT_NE(e.find("'head.bias'"), std::string::npos) << e;
  std::filesystem::remove(p);
}

TEST(Rwkv7Weights, AnExtraLayerOrAHugeBlockIndexIsRefused) {
  // blocks.2.* makes L = 3: the first layer-2 tensor not there is named.
  const std::string p = doctored("layer2", [](auto& t) { t["blocks.2.ln1.weight"] = t.at("blocks.1.ln1.weight"); });
  EXPECT_NE(load_error(p).find("'blocks.2.ln1.bias' is missing"), std::string::npos) << load_error(p);
  std::filesystem::remove(p);
  const std::string q = doctored("index", [](auto& t) { t["blocks.12345678.x"] = t.at("ln_out.bias"); });
  EXPECT_NE(load_error(q).find("block index is implausibly large"), std::string::npos) << load_error(q);
  std::filesystem::remove(q);
}

TEST(Rwkv7Weights, Layer0ValueLoraIsAllowedButShapeChecked) {
  // The tiny checkpoint carries blocks.0.att.v0/v1/v2 (as real ones do): it loads.
  const SafetensorsFile f = SafetensorsFile::open(kTiny);
  ASSERT_TRUE(f.has("blocks.0.att.v1"));
  EXPECT_NO_THROW(load_rwkv7_safetensors(kTiny));
  const std::string p = doctored("v1_shape", [](auto& t) { t.at("blocks.0.att.v1").shape = {16, 512}; });
  const std::string e = load_error(p);
  EXPECT_NE(e.find("'blocks.0.att.v1' has shape (16, 512), expected (32, 256)"), std::string::npos) << e;
  std::filesystem::remove(p);
  const std::string q = doctored("no_v0", [](auto& t) {
    t.erase("blocks.0.att.v0");
    t.erase("blocks.0.att.v1");
    t.erase("blocks.0.att.v2");
  });
  EXPECT_NO_THROW(load_rwkv7_safetensors(q));
  std::filesystem::remove(q);
}

TEST(Rwkv7Weights, TruncatedFileAndOffsetsOutOfRangeNameTheTensor) {
  std::ifstream in(kTiny, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  const std::string p = (std::filesystem::temp_directory_path() / "rwkv7_weights_test_truncated.st").string();
  {
    std::ofstream o(p, std::ios::binary);
    o.write(bytes.data(), std::streamsize(bytes.size() - 1000));
  }
  std::string e = load_error(p);
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("run past the end of the data"), std::string::npos) << e;
  EXPECT_NE(e.find("head.weight"), std::string::npos) << e;  // the last tensor
  std::filesystem::remove(p);
  const std::string q = doctored("offsets", [](auto& t) { t.at("ln_out.bias").bytes.resize(10); });  // 10 bytes for (256) F16
  e = load_error(q);
  EXPECT_NE(e.find("'ln_out.bias'"), std::string::npos) << e;
  EXPECT_NE(e.find("needs 512"), std::string::npos) << e;
  std::filesystem::remove(q);
}

}  // namespace
}  // namespace rwkv
