#pragma once
// RowStacks: the rows of many growing datasets (H5Writer row stacks), held in
// memory until a whole chunk of each is there, then written in one call.
//
// Why: a golden file of schema 2 keeps every step's output of an op in one
// dataset, one row per token. A decode step adds one row to each of about 44
// datasets per layer; handing HDF5 each row on its own would cost a hyperslab
// write, and a deflate of the chunk, per row. Gathering a chunk's rows first
// makes it one write and one deflate per chunk, whatever the step size.
//
// Memory: at most one chunk per stack (H5Writer::rows_per_chunk, 32 KiB), so a
// writer's buffers are bounded by the number of stacks, not the run's length.
// Determinism: stacks are created at their first row, and written in the order
// the rows came (flush() goes through the stacks in creation order), so the
// same appends give the same HDF5 calls.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "vectors/h5_file.h"

namespace rwkv::vectors {

class RowStacks {
 public:
  explicit RowStacks(H5Writer& out) : out_(out) {}

  // Appends `rows` rows of `width` elements of `type` to the stack at `path`,
  // creating it (as H5Writer::create_row_stack) on first use. Throws H5Error
  // if a later append disagrees with the stack's type or width.
  void append(const std::string& path, H5Type type, uint64_t width, const void* data, uint64_t rows);
  // Rows appended to `path` so far (0 for a path never seen).
  uint64_t rows(const std::string& path) const;
  // Writes every pending row: after the last append, before the stacks'
  // attributes are set or the file is closed. Appending after a flush works
  // (the next rows fill that chunk up first) but writes the partial chunk twice.
  void flush();
  // The stacks in creation order.
  const std::vector<std::string>& paths() const { return order_; }

 private:
  struct Stack {
    H5Type type;
    uint64_t width = 0, chunk_rows = 0;
    uint64_t rows = 0;                   // appended so far, pending included
    uint64_t written = 0;                // handed to the writer
    std::vector<unsigned char> pending;  // rows not yet handed to the writer
    uint64_t pending_rows = 0;
  };
  void write_pending(const std::string& path, Stack& s);

  H5Writer& out_;
  std::unordered_map<std::string, Stack> stacks_;
  std::vector<std::string> order_;
};

}  // namespace rwkv::vectors
