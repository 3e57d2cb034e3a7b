// `rwkv-oracle ulp`: placeholder until the numerics work lands.
#include "cli/commands.h"

namespace rwkv::cli {
void add_ulp_command(CLI::App& /*app*/) {}
}  // namespace rwkv::cli
