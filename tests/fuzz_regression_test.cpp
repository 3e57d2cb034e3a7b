// Replays the fuzzing corpus and every input that once crashed a reader
// (tests/fuzz/) through the readers and the RWKV-7 model loaders (their
// inputs padded with zeros as the fuzzers pad them): each must parse or throw
// std::runtime_error, nothing else.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/model/gguf.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/model/safetensors.h"
#include "tests/fuzz/model_image.h"
#include "tests/fuzz/touch_weights.h"

namespace rwkv {
namespace {

namespace fs = std::filesystem;
const fs::path kFuzzDir = fs::path(RWKV_SOURCE_DIR) / "tests" / "fuzz";

std::vector<fs::path> inputs(const std::string& reader) {
  std::vector<fs::path> out;
  for (const char* kind : {"corpus", "crashes"}) {
    const fs::path dir = kFuzzDir / kind / reader;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  }
  return out;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

template <class Parse> void replay(const std::string& reader, Parse parse) {
  const auto files = inputs(reader);
  ASSERT_FALSE(files.empty()) << "no corpus for " << reader << " under " << kFuzzDir;
  size_t parsed = 0;
  for (const fs::path& p : files) {
    const std::vector<uint8_t> bytes = read_all(p);
    try {
      parse(bytes);
      ++parsed;
    } catch (const std::runtime_error&) {
      // A clear error is the right answer to a broken file.
    }
  }
  // The seeds are valid files: at least they must parse.
  EXPECT_GT(parsed, 0u) << reader;
}

TEST(FuzzRegression, SafetensorsCorpusParsesOrFailsCleanly) {
  replay("safetensors", [](const std::vector<uint8_t>& b) { SafetensorsFile::parse("corpus.st", b.data(), b.size(), nullptr); });
}

TEST(FuzzRegression, GgufCorpusParsesOrFailsCleanly) {
  replay("gguf", [](const std::vector<uint8_t>& b) { GgufFile::parse("corpus.gguf", b.data(), b.size(), nullptr); });
}

TEST(FuzzRegression, Rwkv7GgufLoaderCorpusLoadsOrFailsCleanly) {
  replay("rwkv7_gguf", [](const std::vector<uint8_t>& b) {
    const std::vector<uint8_t> img = fuzz::model_image(b.data(), b.size());
    fuzz::touch(rwkv7_from_gguf(GgufFile::parse("corpus.gguf", img.data(), img.size(), nullptr)));
  });
}

TEST(FuzzRegression, Rwkv7StLoaderCorpusLoadsOrFailsCleanly) {
  replay("rwkv7_st", [](const std::vector<uint8_t>& b) {
    const std::vector<uint8_t> img = fuzz::model_image(b.data(), b.size());
    fuzz::touch(rwkv7_from_safetensors(SafetensorsFile::parse("corpus.st", img.data(), img.size(), nullptr)));
  });
}

}  // namespace
}  // namespace rwkv
