#pragma once
// Writing simgpu's outputs without losing anything a user has: refuse an
// existing file unless forced, write to a temporary file beside it, rename.
#include <string>

namespace rwkv::simgpu {

// Throws std::runtime_error naming `path` if it exists and !force, or on any
// write error (the temporary file is removed).
void write_text_file(const std::string& path, const std::string& text, bool force);

}  // namespace rwkv::simgpu
