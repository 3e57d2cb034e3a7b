// Writes the seeds of the model-loader fuzzers: micro RWKV-7 models (C = 64,
// V = 16, one and two layers) as .st and as GGUF (f16, q8_0, q4_k, which
// falls back to Q8_0 at this width), and a C = 256 layer as Q4_K and Q6_K GGUF,
// each cut after its header (the fuzzers pad inputs with zeros, model_image.h).
//   make_model_seeds <corpus dir>   (writes <dir>/rwkv7_st/ and <dir>/rwkv7_gguf/)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "reference/model/gguf.h"
#include "reference/model/synth.h"

namespace fs = std::filesystem;
using namespace rwkv;

static std::vector<uint8_t> slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

static void keep_header(const std::string& from, size_t n, const fs::path& to) {
  const std::vector<uint8_t> b = slurp(from);
  std::ofstream(to, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(n));
  std::printf("%s: %zu of %zu bytes\n", to.c_str(), n, b.size());
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_model_seeds <corpus dir>\n");
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir / "rwkv7_st");
  fs::create_directories(dir / "rwkv7_gguf");
  const std::string tmp = (fs::temp_directory_path() / "make_model_seeds.bin").string();
  for (int64_t L : {1, 2, 3}) {
    const bool wide = L == 3;  // one layer of C = 256
    plan::ModelConfig c;
    c.name = "micro";
    c.L = wide ? 1 : L;
    c.C = wide ? 256 : 64;
    c.N = 64;
    c.V = 16;
    c.F = wide ? 256 : 128;
    c.Dw = 8;
    c.Da = 8;
    c.Dv = 4;
    c.Dg = 16;
    if (!wide) {
      synth_safetensors(c, 1, tmp, true);
      const std::vector<uint8_t> st = slurp(tmp);
      uint64_t header = 0;
      for (int i = 7; i >= 0; --i) header = header << 8 | st[size_t(i)];
      keep_header(tmp, size_t(8 + header), dir / "rwkv7_st" / ("seed_micro_L" + std::to_string(L)));
    }
    const std::vector<GgufModelType> types = wide ? std::vector{GgufModelType::q4_k, GgufModelType::q6_k}
                                                  : std::vector{GgufModelType::f16, GgufModelType::q8_0, GgufModelType::q4_k};
    for (GgufModelType t : types) {
      synth_gguf(c, 1, tmp, t, true);
      // The data section starts where any tensor's bytes are, less its offset.
      const std::vector<uint8_t> bytes = slurp(tmp);
      const GgufFile g = GgufFile::parse("seed", bytes.data(), bytes.size(), nullptr);
      const GgufTensor& any = g.tensors().begin()->second;
      const size_t data_start = size_t(any.data - bytes.data()) - size_t(any.offset);
      keep_header(tmp, data_start,
                  dir / "rwkv7_gguf" / (std::string(wide ? "seed_c256_L1_" : "seed_micro_L" + std::to_string(L) + "_") +
                                        gguf_model_type_name(t)));
    }
  }
  fs::remove(tmp);
  return 0;
}
