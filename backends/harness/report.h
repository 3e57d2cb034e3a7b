#pragma once
// A check's result as pages people would rather look at than read:
// results.json (every record), report.md and report.html with plots (error per
// layer and op, ULP histograms, error along depth) drawn by matplotlib
// (reports/plot_check.py, run with the system Python).
#include <string>

#include "backends/harness/harness.h"

namespace rwkv::harness {

// Writes into `dir` (created if needed; files there of the same names are
// replaced: the folder is the report's). Returns the path of report.md.
// Throws std::runtime_error if the folder cannot be written or the plotting
// script fails (its output is in the message).
std::string write_report(const CheckResult& r, const std::string& title, const std::string& dir);

}  // namespace rwkv::harness
