// rwkv-oracle: the one command. See README.md.
#include <omp.h>

#include <cstdio>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/simd/dispatch.h"

namespace rwkv::cli {
int exit_code = 0;
}

int main(int argc, char** argv) {
  CLI::App app{"rwkv-oracle: trusted reference numbers for RWKV-7 GPU backends"};
  app.require_subcommand(1);
  std::string simd_level;
  int threads = 0;
  app.add_option("--simd", simd_level, "force a SIMD level: scalar, sse4.2, avx2, avx512 (same bits at every level)");
  app.add_option("--threads", threads, "OpenMP threads (default: all cores; same bits for any count)")
      ->check(CLI::Range(1, 4096));
  app.parse_complete_callback([&] {
    if (!simd_level.empty()) rwkv::simd::set_level(rwkv::simd::parse_level(simd_level));
    if (threads > 0) omp_set_num_threads(threads);
  });

  rwkv::cli::add_kernels_command(app);
  rwkv::cli::add_ulp_command(app);
  rwkv::cli::add_digest_command(app);
  rwkv::cli::add_plan_command(app);
  rwkv::cli::add_synth_command(app);
  rwkv::cli::add_quantize_command(app);
  rwkv::cli::add_golden_command(app);
  rwkv::cli::add_simulate_command(app);
  rwkv::cli::add_run_command(app);
  rwkv::cli::add_check_command(app);
  rwkv::cli::add_dump_command(app);
  rwkv::cli::add_bench_command(app);
  rwkv::cli::add_calibrate_command(app);
  rwkv::cli::add_vectors_command(app);
  rwkv::cli::add_conformance_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "rwkv-oracle: error: {}\n", e.what());
    return 2;
  }
  return rwkv::cli::exit_code;
}
