#pragma once
// The last step of a writer that builds a file under a temporary name beside
// its target (so a file that exists is a complete one): close the temporary
// and move it into place. Used by the model writers (safetensors, GGUF).
#include <cstdio>
#include <string>

namespace rwkv {

// Closes `file` (sets it to null) and renames `tmp` to `path`. On failure the
// temporary is removed and std::runtime_error names `path` and the cause.
void close_into_place(std::FILE*& file, const std::string& tmp, const std::string& path);

}  // namespace rwkv
