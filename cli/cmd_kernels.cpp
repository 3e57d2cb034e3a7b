// `rwkv-oracle kernels`: every kernel and variant with its canonical order.
#include <algorithm>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/kernel_catalog.h"
#include "reference/simd/dispatch.h"

namespace rwkv::cli {

void add_kernels_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("kernels", "list every reference kernel and variant with its accumulation order");
  auto* filter = new std::string;
  cmd->add_option("--name", *filter, "only kernels whose name contains this text");
  cmd->callback([filter] {
    const auto& all = kernel_catalog();
    size_t wn = 6, wf = 6, wa = 10;
    for (const auto& k : all) {
      wn = std::max(wn, k.name.size());
      wf = std::max(wf, k.format.size());
      wa = std::max(wa, k.activation.size());
    }
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", "kernel", wn, "format", wf, "activation", wa, "canonical order");
    size_t shown = 0;
    for (const auto& k : all) {
      if (!filter->empty() && k.name.find(*filter) == std::string::npos) continue;
      fmt::print("{:<{}}  {:<{}}  {:<{}}  {}\n", k.name, wn, k.format, wf, k.activation, wa, k.order);
      ++shown;
    }
    fmt::print("{} variants; SIMD level {} (same bits at every level and thread count)\n", shown,
               simd::name(simd::active()));
  });
}

}  // namespace rwkv::cli
