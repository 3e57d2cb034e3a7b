#pragma once
// Writes what a backend computes, running free as it would in use, into a file
// of the golden schema (vectors/SCHEMA.md): every stored op output of every
// step and the states, read back from the backend as they are produced. This
// is what an external engine's dump looks like, so `rwkv-oracle check
// --golden --candidate` can be tried on any backend here.
#include "backends/backend.h"
#include "backends/harness/harness.h"
#include "vectors/h5_file.h"

namespace rwkv::harness {

// Returns the number of tensors written.
int64_t dump_backend(const Rwkv7Weights& w, Backend& backend, const BackendOptions& bo, const RunSpec& run,
                     vectors::H5Writer& out);

}  // namespace rwkv::harness
