#pragma once
// RWKV-7 as llama.cpp's GGUF (architecture "rwkv7"): the one table of tensor
// names, shapes and types (spec 7.3, checked against llama.cpp in
// reference/model/README.md), the loader of such a file into Rwkv7Weights and
// the exporter of any Rwkv7Weights (from .st or .gguf) to such a file.
//
// Orientation: a GGUF matrix of ne {in, out} is our Matrix [K = in, M = out];
// its bytes are those of the .st tensor of PyTorch shape (out, in).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reference/model/gguf.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/plan/model_config.h"

namespace rwkv {

// What the exporter writes, named as llama-quantize names it: f16 is the
// converter's output (matrices F16, vectors F32); q4_k is llama-quantize's
// Q4_K (= Q4_K_M), q6_k its Q6_K, q8_0 its Q8_0.
enum class GgufModelType { f16, q4_k, q6_k, q8_0 };
// "f16", "q4_k", "q6_k", "q8_0"; throws std::invalid_argument listing them otherwise.
GgufModelType parse_gguf_model_type(std::string_view s);
const char* gguf_model_type_name(GgufModelType t);
// llama.cpp's general.file_type (enum llama_ftype): 1, 15 (MOSTLY_Q4_K_M), 18, 7.
uint32_t llama_file_type(GgufModelType t);

// One tensor of an rwkv7 GGUF and the web-rwkv tensors it holds.
struct Rwkv7GgufTensor {
  enum class Source {
    vector,      // one f16 weight vector, written F32
    lerp_fused,  // time_mix_lerp_fused: att.x_r, x_w, x_k, x_v, x_a, x_g in slots 0..5
    matrix,      // one Matrix
    embedding,   // emb.weight (a vector [C, V] to the executor, a matrix to ggml)
  };
  std::string name;             // GGUF name, e.g. "blk.3.time_mix_w1.weight"
  std::vector<int64_t> ne;      // ggml order
  GgmlType type = GgmlType::f32;  // what the exporter writes for the requested GgufModelType
  Source source = Source::vector;
  std::vector<std::string> st;  // the web-rwkv names it holds
  // Layer 0's time_mix_v0/v1/v2: llama.cpp requires them although nothing
  // reads them; the converter writes copies of a0/a1/a2 (so `st` names those).
  bool placeholder = false;
  std::string note;  // why `type` is not the requested one (a fallback), if it is not
};

// Every tensor of llama.cpp's rwkv7 model, in the order we write them, with
// the ggml type the converter (f16) or llama-quantize gives each.
std::vector<Rwkv7GgufTensor> rwkv7_gguf_layout(const plan::ModelConfig& c, GgufModelType type);

// A vocabulary of V tokens that llama.cpp's "rwkv" tokenizer loads: id 0
// "<s>" (CONTROL), ids 1..256 the single bytes 0x00..0xff as RWKV World has
// them (so "\n" is a token), the rest "[PAD<i>]" (UNUSED), as the converter
// pads. Texts are escaped as llama.cpp's rwkv tokenizer unescapes them.
struct SyntheticVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;  // llama_token_type: 1 NORMAL, 3 CONTROL, 5 UNUSED
};
SyntheticVocab synthetic_rwkv_vocab(int64_t V);

// The metadata we write: general.*, the rwkv7.* hyper-parameters the
// converter writes and the tokenizer entries with the synthetic vocabulary.
std::vector<GgufKv> rwkv7_gguf_metadata(const plan::ModelConfig& c, GgufModelType type, const std::string& name);

// Loads an rwkv7 GGUF: the config from the metadata, checked against every
// tensor's shape; weight vectors as f16 (F16 viewed in the map; F32/BF16
// converted, round to nearest even, listed in `notes`); matrices viewed in the
// map in their own format (F16, Q4_K, Q6_K, Q8_0; F32/BF16 converted to fp16
// with a note); a quantised token_embd decoded to f16 (the executor gathers
// f16 rows) with a note, its bytes kept in `originals`. Throws
// std::runtime_error naming the file, the key or tensor and what was expected.
Rwkv7Weights load_rwkv7_gguf(const std::string& path);
Rwkv7Weights rwkv7_from_gguf(const GgufFile& f);

struct GgufExportOptions {
  GgufModelType type = GgufModelType::f16;
  bool force = false;    // overwrite an existing file
  std::string name;      // general.name ("rwkv7" if empty)
};
struct GgufExportResult {
  uint64_t file_bytes = 0;
  std::vector<std::string> notes;  // fallbacks and decodings made while writing
};

// Writes `w` as llama.cpp's rwkv7 GGUF, streaming (one piece of one tensor in
// memory at a time; temporary file + rename; refuses an existing file unless
// forced). Matrices llama-quantize quantises are quantised from their f16
// values with our quantisers (the bytes llama.cpp writes); a matrix already
// in the target type is copied; requantising from another quantised type is
// refused (llama-quantize refuses it without --allow-requantize).
GgufExportResult write_rwkv7_gguf(const Rwkv7Weights& w, const std::string& path, const GgufExportOptions& opt);

}  // namespace rwkv
