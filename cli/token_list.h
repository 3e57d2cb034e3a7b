#pragma once
// Token ids as users give them: `--tokens 1,2,3` or `--tokens-file F`
// (ids separated by commas and/or whitespace). Bad text is an error naming
// where it is (the option or the file) and the position of the bad item.
// The vocabulary check (id < V) belongs to the model, not here.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv::cli {

// `source` names where the text came from in error messages ("--tokens", a file name).
std::vector<uint32_t> parse_token_list(const std::string& text, const std::string& source);

// Reads and parses a tokens file; throws std::runtime_error if it cannot be read.
std::vector<uint32_t> read_token_file(const std::string& path);

}  // namespace rwkv::cli
