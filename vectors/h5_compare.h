#pragma once
// Comparing two HDF5 files by content, for tests that regenerate a golden
// file and must say where it changed: walks both with H5Reader (groups in
// creation order, attributes in name order) and names the first difference.
//
//   if (auto diff = first_difference("vectors/data/kernels.h5", "/tmp/kernels.h5"))
//     FAIL() << *diff;   // e.g. "/layer_norm/0/outputs/y: element 17 differs: 0x3c01 in A, 0x3c02 in B"
//
// Datasets are equal when type, shape and every element's bytes are (NaN
// payloads included); attributes when kind and value are (f64 by bit
// pattern). Equal contents do not imply equal file bytes (compression,
// object order), so tests compare the bytes first and call this to explain.
#include <optional>
#include <string>
#include <vector>

namespace rwkv::vectors {

// nullopt if the contents are equal; otherwise one line naming the object,
// the attribute or element, and both values ("A" is `a`, "B" is `b`).
// Attributes named in `ignore_attributes` as "object@name" (e.g.
// "/provenance@git_commit") are not compared.
// Throws H5Error if either file cannot be read.
std::optional<std::string> first_difference(const std::string& a, const std::string& b,
                                            const std::vector<std::string>& ignore_attributes = {});

}  // namespace rwkv::vectors
