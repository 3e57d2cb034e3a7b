// `rwkv-oracle vectors`: per-kernel test vectors. For every catalog variant
// whose key matches --kernel, its seeded cases (inputs, the reference's exact
// outputs, the float64 oracle's outputs and the errors between them) go to one
// HDF5 file, laid out as vectors/KERNEL_VECTORS.md says. Same seed, same
// bytes, whatever the thread count or SIMD level.
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/kernel_catalog.h"
#include "vectors/kernel_vectors.h"

namespace rwkv::cli {

namespace {
struct VectorsArgs {
  std::string out, kernel;
  uint64_t seed = 20261122;
  uint64_t max_cases = 0;
  bool force = false;
};

int bad_usage(const std::string& what) {
  fmt::print(stderr, "rwkv-oracle vectors: {}\n", what);
  return 2;
}

int run_vectors(const VectorsArgs& a) {
  // Every usage problem is found before any work.
  std::regex re;
  try {
    re = std::regex(a.kernel.empty() ? std::string(".") : a.kernel, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return bad_usage(fmt::format("--kernel '{}' is not a valid regular expression ({})", a.kernel, e.what()));
  }
  std::vector<const KernelVariant*> chosen;
  for (const KernelVariant& k : kernel_catalog())
    if (std::regex_search(k.key, re)) chosen.push_back(&k);
  if (chosen.empty())
    return bad_usage(fmt::format(
        "--kernel '{}' matches no kernel variant (it is searched in keys name[.format][.activation][.policy] such "
        "as layer_norm, matmul_vec.q4_k.tanh, dequantize.nf4, metal_simdgroup_mma.pairwise_f32; `rwkv-oracle "
        "kernels` lists the names, formats and activations)",
        a.kernel));
  if (!a.force && std::filesystem::exists(a.out))
    return bad_usage(fmt::format("{} already exists (use --force to overwrite)", a.out));

  vectors::H5Writer w(a.out, a.force ? vectors::Overwrite::yes : vectors::Overwrite::no);
  const vectors::KernelVectorsSummary s = vectors::write_kernel_vectors(
      w, chosen, {a.seed, a.max_cases, a.kernel},
      [](const KernelVariant& k, uint64_t cases) { fmt::print("{:<44} {} cases\n", k.key, cases); });
  w.close();
  fmt::print("{}: {} variants, {} cases, {} datasets ({} more linked to identical ones), {} bytes, seed {}\n", a.out,
             s.variants, s.cases, s.datasets, s.linked, std::filesystem::file_size(a.out), a.seed);
  return 0;
}
}  // namespace

void add_vectors_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("vectors", "write per-kernel test vectors (inputs, exact outputs, f64 oracle) to HDF5");
  auto* a = new VectorsArgs;  // lives as long as the app
  cmd->add_option("--out", a->out, "output .h5 file (refused if it exists, unless --force)")->required();
  cmd->add_option("--kernel", a->kernel,
                  "only variants whose key matches this regular expression (searched, ECMAScript), "
                  "e.g. '^layer_norm$', 'matmul_vec\\.q4_k', 'dequantize'");
  cmd->add_option("--seed", a->seed, "seed of every case's inputs");
  cmd->add_option("--max-cases", a->max_cases, "only the first N cases of each variant (0: all)");
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] { exit_code = run_vectors(*a); });
}

}  // namespace rwkv::cli
