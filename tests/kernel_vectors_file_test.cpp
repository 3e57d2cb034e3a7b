// The checked-in golden files are what vectors/regenerate writes, byte for
// byte (a difference is named dataset by dataset with first_difference), and
// `rwkv-oracle vectors` writes the same bytes on 1 and 2 threads and at the
// scalar and the widest SIMD level. Runs the built command (path from CMake).
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "vectors/h5_compare.h"

namespace fs = std::filesystem;

namespace {

const std::string kSource = RWKV_SOURCE_DIR;

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

class KernelVectorsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rwkv_kvec_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Equal bytes, or a failure naming the first dataset or attribute that differs.
// Golden files name the build that wrote them (commit and version): those two
// attributes are the only ones allowed to differ.
void expect_same_file(const fs::path& want, const fs::path& got) {
  const bool golden = got.filename().string().rfind("golden-", 0) == 0;
  if (golden) {
    const auto diff = rwkv::vectors::first_difference(want.string(), got.string(),
                                                      {"/provenance@git_commit", "/provenance@tool_version"});
    if (diff) ADD_FAILURE() << got << " differs from " << want << ": " << *diff
                            << "\n(If the change is intended, run vectors/regenerate and commit vectors/data/.)";
    return;
  }
  if (slurp(want) == slurp(got)) return;
  const auto diff = rwkv::vectors::first_difference(want.string(), got.string());
  ADD_FAILURE() << got << " differs from " << want << ": "
                << (diff ? *diff : std::string("same contents, different bytes (compression or object layout)"))
                << "\n(If the change is intended, run vectors/regenerate and commit vectors/data/.)";
}

TEST_F(KernelVectorsFiles, RegenerateRewritesTheCheckedInFilesExactly) {
  const CommandResult r = run(kSource + "/vectors/regenerate " + RWKV_ORACLE_CLI + " " + dir_.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path data = fs::path(kSource) / "vectors" / "data";
  EXPECT_EQ(files_in(dir_), files_in(data)) << "vectors/data/ holds exactly what vectors/regenerate writes";
  for (const std::string& name : files_in(dir_)) expect_same_file(data / name, dir_ / name);
}

TEST_F(KernelVectorsFiles, SameBytesOnOneAndTwoThreadsAndScalarAndWidestSimd) {
  // Every variant, every case.
  const fs::path a = dir_ / "scalar_1.h5", b = dir_ / "widest_2.h5";
  const CommandResult ra = run(std::string(RWKV_ORACLE_CLI) + " --simd scalar --threads 1 vectors --out " + a.string());
  ASSERT_EQ(ra.status, 0) << ra.output;
  const CommandResult rb = run(std::string(RWKV_ORACLE_CLI) + " --threads 2 vectors --out " + b.string());
  ASSERT_EQ(rb.status, 0) << rb.output;
  expect_same_file(a, b);
  EXPECT_GT(fs::file_size(a), fs::file_size(fs::path(kSource) / "vectors" / "data" / "kernels.h5"))
      << "the full set holds more cases than the checked-in one";
}

TEST_F(KernelVectorsFiles, ASeedChangesTheFileAndIsRecorded) {
  const fs::path a = dir_ / "a.h5", b = dir_ / "b.h5";
  const std::string cli = std::string(RWKV_ORACLE_CLI) + " vectors --kernel '^layer_norm$' --out ";
  ASSERT_EQ(run(cli + a.string() + " --seed 1").status, 0);
  ASSERT_EQ(run(cli + b.string() + " --seed 2").status, 0);
  const auto diff = rwkv::vectors::first_difference(a.string(), b.string());
  ASSERT_TRUE(diff.has_value());
  EXPECT_NE(diff->find("attribute 'seed'"), std::string::npos) << *diff;
}

}  // namespace
