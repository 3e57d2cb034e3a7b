#include "vectors/row_stacks.h"

#include <cstring>

#include <fmt/format.h>

namespace rwkv::vectors {

void RowStacks::append(const std::string& path, H5Type type, uint64_t width, const void* data, uint64_t rows) {
  auto [it, created] = stacks_.try_emplace(path);
  Stack& s = it->second;
  if (created) {
    s.type = type;
    s.width = width;
    s.chunk_rows = H5Writer::rows_per_chunk(type, width);
    order_.push_back(path);
    out_.create_row_stack(path, type, width);
  } else if (s.type != type || s.width != width) {
    throw H5Error(fmt::format("{}: {}: rows of {} x {} appended to a stack of {} x {}", out_.path(), path, width,
                              h5_type_name(type), s.width, h5_type_name(s.type)));
  }
  const size_t row_bytes = size_t(width) * h5_type_size(type);
  const auto* p = static_cast<const unsigned char*>(data);
  s.rows += rows;
  while (rows > 0) {
    // Rows up to the next chunk boundary of the file: a chunk's worth, or
    // fewer once flush() has written a partial chunk mid-run (bench's settle).
    const uint64_t room = s.chunk_rows - (s.written + s.pending_rows) % s.chunk_rows;
    if (s.pending_rows == 0 && room == s.chunk_rows && rows >= s.chunk_rows) {
      // Whole chunks straight from the caller's buffer: no copy here.
      const uint64_t whole = rows / s.chunk_rows * s.chunk_rows;
      out_.append_rows(path, type, width, p, whole);
      s.written += whole;
      p += whole * row_bytes;
      rows -= whole;
      continue;
    }
    const uint64_t take = std::min(rows, room);
    s.pending.insert(s.pending.end(), p, p + take * row_bytes);
    s.pending_rows += take;
    p += take * row_bytes;
    rows -= take;
    if (take == room) write_pending(path, s);
  }
}

void RowStacks::write_pending(const std::string& path, Stack& s) {
  if (s.pending_rows == 0) return;
  out_.append_rows(path, s.type, s.width, s.pending.data(), s.pending_rows);
  s.written += s.pending_rows;
  s.pending.clear();
  s.pending_rows = 0;
}

uint64_t RowStacks::rows(const std::string& path) const {
  const auto it = stacks_.find(path);
  return it == stacks_.end() ? 0 : it->second.rows;
}

void RowStacks::flush() {
  for (const std::string& path : order_) write_pending(path, stacks_.at(path));
}

}  // namespace rwkv::vectors
