#pragma once
// An RWKV-7 model loaded from a web-rwkv safetensors file (spec 7.1): the
// config detected from tensor shapes, weight vectors as f16 views and Linear
// weights as fp16 Matrix [K = in, M = out], both viewing the memory-mapped
// file where its tensor is F16 (BF16 and F32 tensors are converted to f16,
// round to nearest even, and listed in `notes`).
//
// Orientation: the converter stores w1/a1/g1/v1 as (D, C) and w2/a2/g2/v2 as
// (C, D); read row-major, (rows, cols) is exactly the Matrix [K = cols,
// M = rows], so w1 is the Linear C -> D and w2 the Linear D -> C, no copy.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "reference/formats/matrix.h"
#include "reference/numeric/f16.h"
#include "reference/plan/model_config.h"
#include "reference/tensor.h"

namespace rwkv {

struct WeightVector {
  const f16* data = nullptr;
  Shape shape;  // [d0, d1] with d0 contiguous (emb.weight: [C, V])
  // The kernels take non-const views; weights are only ever read.
  TensorView view() const { return TensorView(const_cast<f16*>(data), shape); }
};

struct Rwkv7Weights {
  std::string path;
  plan::ModelConfig config;
  std::map<std::string, WeightVector> vectors;  // everything that is not a Linear (emb.weight too)
  std::map<std::string, Matrix> matrices;       // Linear weights and the LoRA factors, fp16
  std::vector<std::string> notes;               // dtype conversions made while loading
  std::shared_ptr<const void> owner;            // the mapped file
  std::vector<std::shared_ptr<std::vector<f16>>> converted;  // storage of converted tensors
  std::string format;                          // "st" or "gguf": the file it came from
  // Tensors decoded to f16 at load, in the format the file stores them (a
  // GGUF's quantised token_embd as "emb.weight", [K = C, M = V]): an exporter
  // copies these bytes rather than quantising the decoded values again.
  std::map<std::string, Matrix> originals;

  // Throw std::invalid_argument naming the file and the tensor if absent.
  const WeightVector& vector(const std::string& name) const;
  const Matrix& matrix(const std::string& name) const;
};

class SafetensorsFile;

// Loads and checks every tensor the forward pass reads; throws
// std::runtime_error naming the file, the tensor and the expected shape or
// dtype on a missing tensor, a wrong shape, an unusable dtype or a tensor
// that is not part of an RWKV-7 model (layer 0's att.v0/v1/v2, which real
// checkpoints carry and nothing reads, are allowed and shape-checked).
Rwkv7Weights load_rwkv7_safetensors(const std::string& path);
// The same from an opened file (the fuzzer parses images in memory).
Rwkv7Weights rwkv7_from_safetensors(const SafetensorsFile& f);

// Loads a .st or a .gguf model, chosen by the file's first bytes ("GGUF" is
// llama.cpp's GGUF, anything else is read as safetensors), so every command
// takes either. See rwkv7_gguf.h for the GGUF side.
Rwkv7Weights load_rwkv7(const std::string& path);

// "a, b, c" for up to `max` names, then "and N more": lists in errors.
std::string name_list(const std::vector<std::string>& names, size_t max = 8);

}  // namespace rwkv
