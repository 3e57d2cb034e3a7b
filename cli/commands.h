#pragma once
// Each subcommand of `rwkv-oracle` lives in its own cli/cmd_*.cpp and adds
// itself to the app here. A command's callback returns the process exit code
// through `exit_code`: 0 success, 1 a finding (divergence, failure), 2 bad usage
// or bad input.
#include <CLI/CLI.hpp>

namespace rwkv::cli {

extern int exit_code;

void add_kernels_command(CLI::App& app);
void add_ulp_command(CLI::App& app);
void add_digest_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_golden_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_dump_command(CLI::App& app);
void add_vectors_command(CLI::App& app);
void add_conformance_command(CLI::App& app);

}  // namespace rwkv::cli
