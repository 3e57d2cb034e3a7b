#pragma once
// SHA-256 (FIPS 180-4), written here so that provenance hashes (the model file
// in a golden file, the golden files themselves in tests) need no crypto
// library. Streaming: feed any number of pieces, then finish() once.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rwkv {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  // finish() as 64 lowercase hex characters.
  std::string finish_hex();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes fed so far
  bool finished_ = false;
};

std::string sha256_hex(std::string_view data);
// Whether blocks use the x86 SHA instructions (when the CPU has them; the
// portable code gives the same digests). Tests switch it to check both.
bool sha256_uses_sha_ni();
bool sha256_set_sha_ni(bool on);  // returns whether it is now on
// Hashes a file in 1 MiB pieces (bounded memory for multi-GB model files);
// throws std::runtime_error naming the file if it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace rwkv
