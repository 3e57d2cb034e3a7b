// `rwkv-oracle dump`: what a backend computes, running free, written in the
// golden schema, as an external engine would dump it; compare it with a
// golden file with `rwkv-oracle check --golden g.h5 --candidate c.h5`.
#include <filesystem>

#include <fmt/format.h>

#include "backends/harness/dump.h"
#include "cli/commands.h"
#include "cli/forward_args.h"
#include "reference/model/rwkv7_weights.h"

namespace rwkv::cli {

namespace {

struct DumpArgs {
  ForwardArgs run;
  std::string backend, fault, out, logits = "last";
  bool force = false;
};

void run_dump(const DumpArgs& a) {
  a.run.check();
  if (a.logits != "last" && a.logits != "all")
    throw std::invalid_argument(fmt::format("--logits '{}': expected last or all", a.logits));
  if (!a.force && std::filesystem::exists(a.out))
    throw std::invalid_argument(fmt::format("{} already exists (use --force to overwrite)", a.out));
  backends::BackendOptions bo;
  bo.forward = a.run.forward_options();
  bo.fault = a.fault;
  auto backend = backends::make_backend(a.backend, bo);
  const Rwkv7Weights w = load_rwkv7(a.run.model);
  harness::RunSpec run;
  run.tokens = a.run.resolve_tokens(w.config.V);
  run.chunk = a.run.chunk;
  run.logits = a.logits == "all" ? forward::LogitsFor::all : forward::LogitsFor::last;
  vectors::H5Writer out(a.out, a.force ? vectors::Overwrite::yes : vectors::Overwrite::no);
  const int64_t n = harness::dump_backend(w, *backend, bo, run, out);
  out.close();
  fmt::print("{}: {} tensors of backend {}{}\n", a.out, n, a.backend, a.fault.empty() ? "" : " (fault " + a.fault + ")");
}

}  // namespace

void add_dump_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("dump", "write a backend's op outputs in the golden schema (a candidate file)");
  auto* a = new DumpArgs;
  a->run.add_to(cmd);
  cmd->add_option("--backend", a->backend, "reference, cpu-reordered, faulty")->required();
  cmd->add_option("--fault", a->fault, "the faulty backend's planted bug");
  cmd->add_option("--out", a->out, "the file to write (refused if it exists, unless --force)")->required();
  cmd->add_option("--logits", a->logits, "logits of each step's last token or of all")->capture_default_str();
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] { run_dump(*a); });
}

}  // namespace rwkv::cli
