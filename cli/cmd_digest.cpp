// `rwkv-oracle digest`: runs every catalog kernel on its seeded sample inputs and
// prints one FNV-1a hash per variant. Two builds (GCC and Clang), SIMD levels or
// thread counts that print the same lines computed the same bits.
#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/kernel_catalog.h"

namespace rwkv::cli {

void add_digest_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("digest", "hash every kernel's output on seeded inputs (compare builds)");
  auto* seed = new uint64_t(20261122);
  cmd->add_option("--seed", *seed, "seed of the sample inputs");
  cmd->callback([seed] {
    for (const auto& k : kernel_catalog()) {
      const auto bytes = k.sample(*seed);
      fmt::print("{:016x} {:>10} {} {} {}\n", fnv1a64(bytes), bytes.size(), k.name, k.format, k.activation);
    }
  });
}

}  // namespace rwkv::cli
