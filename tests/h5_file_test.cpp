// The golden-file storage layer: every element type round-trips bit for bit,
// the same content gives the same bytes, nothing existing is overwritten, and
// every misuse gives an error naming the file, the path and the expectation.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/numeric/f16.h"
#include "reference/util/rng.h"
#include "reference/util/sha256.h"
#include "vectors/h5_file.h"
#include "vectors/row_stacks.h"
#include "tests/support/rss.h"

#include <hdf5.h>

#include <chrono>
#include <thread>

namespace rwkv::vectors {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class H5FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("h5_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

template <class F> std::string h5_error(F&& f) {
  try {
    f();
  } catch (const H5Error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

template <class F, class... Needles> void expect_h5_error(F&& call, const Needles&... needles) {
  const std::string what = h5_error(call);
  EXPECT_NE(what, "(nothing thrown)");
  for (const std::string& needle : {std::string(needles)...})
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Halves whose rounding from f32 matters, plus the specials.
std::vector<uint16_t> tricky_halves() {
  std::vector<uint16_t> h = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7d01};
  for (float f : {1.00048828125f /* tie -> even */, 1.0009765625f, 65519.0f, 65520.0f, 6e-8f, 3e-8f, -2.9802322e-8f})
    h.push_back(f32_to_f16_bits(f));
  return h;
}

// One small golden-like file: the content every determinism test writes.
void write_sample(const std::string& path, Overwrite ow = Overwrite::no,
                  Threading threading = Threading::inline_calls) {
  H5Writer w(path, ow, Compression::deflate, threading);
  w.create_group("/provenance");
  w.set_attr("/provenance", "tool_version", "rwkv-oracle 0.1.0");
  w.set_attr("/provenance", "seed", uint64_t(42));
  std::vector<int32_t> tokens = {510, 33, 1024, 7};
  w.write_i32("/inputs/tokens", tokens, {4});
  Rng rng(7);
  for (int step = 0; step < 3; ++step)
    for (int layer = 0; layer < 2; ++layer) {
      std::vector<float> x(300 * 70);  // more than one chunk
      for (float& v : x) v = rng.normal();
      const std::string p = "/steps/" + std::to_string(step) + "/layers/" + std::to_string(layer) + "/att_norm";
      w.write_f32(p, x, {300, 70});
      w.set_attr(p, "max_abs_err_f64", 1.5e-7);
      w.set_attr(p, "max_rel_err_f64", 3.0e-6);
    }
  w.close();
}

TEST_F(H5FileTest, EveryTypeRoundTripsBitForBit) {
  const std::string path = file("types.h5");
  Rng rng(1);
  std::vector<float> f32(70000);  // several chunks
  for (float& v : f32) v = rng.normal();
  f32[0] = std::numeric_limits<float>::quiet_NaN();
  f32[1] = -0.0f;
  f32[2] = std::numeric_limits<float>::denorm_min();
  std::vector<double> f64 = {1.0 / 3.0, -0.0, 1e-310, std::numeric_limits<double>::infinity()};
  std::vector<int32_t> i32 = {-2147483647 - 1, -1, 0, 2147483647, 5, 6};
  std::vector<uint32_t> u32 = {0, 1, 0xffffffffu};
  std::vector<uint64_t> u64 = {0, 0xffffffffffffffffull, 12345678901234ull};
  const std::vector<uint16_t> half = tricky_halves();
  {
    H5Writer w(path);
    w.write_f32("/a/f32", f32, {70, 1000});
    w.write_f64("/a/f64", f64, {2, 2});
    w.write_i32("/b/i32", i32, {2, 3});
    w.write_u32("/b/u32", u32, {3});
    w.write_u64("/b/u64", u64, {3});
    w.write_f16_bits("/c/f16", half, {half.size()});
    w.write_f64("/scalar", std::vector<double>{2.5}, {});
    w.write_f32("/empty", std::vector<float>{}, {0, 3});
    w.close();
  }
  const H5Reader r(path);
  const std::vector<float> f32_back = r.read_f32("/a/f32", Dims{70, 1000});
  ASSERT_EQ(f32_back.size(), f32.size());
  EXPECT_EQ(std::memcmp(f32_back.data(), f32.data(), f32.size() * 4), 0);
  const std::vector<double> f64_back = r.read_f64("/a/f64");
  EXPECT_EQ(std::memcmp(f64_back.data(), f64.data(), f64.size() * 8), 0);
  EXPECT_EQ(r.read_i32("/b/i32", Dims{2, 3}), i32);
  EXPECT_EQ(r.read_u32("/b/u32"), u32);
  EXPECT_EQ(r.read_u64("/b/u64"), u64);
  EXPECT_EQ(r.read_f16_bits("/c/f16"), half);
  const std::vector<float> widened = r.read_f16_as_f32("/c/f16");
  for (size_t i = 0; i < half.size(); ++i)
    EXPECT_EQ(f32_to_bits(widened[i]), f32_to_bits(f16_bits_to_f32(half[i]))) << i;
  EXPECT_EQ(r.read_f64("/scalar", Dims{}), std::vector<double>{2.5});
  EXPECT_TRUE(r.read_f32("/empty", Dims{0, 3}).empty());
  EXPECT_EQ(r.info("/c/f16").type, H5Type::f16);
  EXPECT_EQ(r.info("/a/f32").dims, (Dims{70, 1000}));
}

TEST_F(H5FileTest, TensorViewKeepsItsDtypeAndShape) {
  const std::string path = file("tensor.h5");
  Tensor h(DType::f16, Shape(5, 3, 2));
  Tensor f(DType::f32, Shape(4, 1, 1));
  for (int64_t i = 0; i < h.numel(); ++i) h.view().set(i, float(i) * 0.1f);
  for (int64_t i = 0; i < f.numel(); ++i) f.view().set(i, float(i) - 1.5f);
  {
    H5Writer w(path);
    w.write_tensor("/h", h.view());
    w.write_tensor("/f", f.view());
    w.close();
  }
  const H5Reader r(path);
  const std::vector<uint16_t> hb = r.read_f16_bits("/h", Dims{2, 3, 5});
  for (int64_t i = 0; i < h.numel(); ++i) EXPECT_EQ(hb[size_t(i)], h.view().half()[i].bits);
  EXPECT_EQ(r.read_f32("/f", Dims{1, 1, 4}), (std::vector<float>{-1.5f, -0.5f, 0.5f, 1.5f}));
}

TEST_F(H5FileTest, AttributesAndMemberOrder) {
  const std::string path = file("attrs.h5");
  {
    H5Writer w(path);
    for (int step = 0; step < 12; ++step) w.create_group("/steps/" + std::to_string(step));
    w.set_attr("/", "schema", "rwkv-oracle-golden/1");
    w.set_attr("/", "empty", "");
    w.set_attr("/steps", "pi", 3.14159);
    w.set_attr("/steps", "neg", int64_t(-5));
    w.set_attr("/steps", "big", uint64_t(1) << 63);
    w.close();
  }
  const H5Reader r(path);
  std::vector<std::string> want;
  for (int step = 0; step < 12; ++step) want.push_back(std::to_string(step));
  EXPECT_EQ(r.members("/steps"), want);  // creation order, not "0", "1", "10"
  EXPECT_EQ(r.members("/"), std::vector<std::string>{"steps"});
  EXPECT_EQ(r.attr_string("/", "schema"), "rwkv-oracle-golden/1");
  EXPECT_EQ(r.attr_string("/", "empty"), "");
  EXPECT_EQ(r.attr_f64("/steps", "pi"), 3.14159);
  EXPECT_EQ(r.attr_i64("/steps", "neg"), -5);
  EXPECT_EQ(r.attr_u64("/steps", "big"), uint64_t(1) << 63);
  EXPECT_TRUE(r.has_attr("/steps", "pi"));
  EXPECT_FALSE(r.has_attr("/steps", "tau"));
  EXPECT_TRUE(r.is_group("/steps/3"));
  EXPECT_FALSE(r.is_dataset("/steps/3"));
}

TEST_F(H5FileTest, SameContentGivesIdenticalBytes) {
  const std::string a = file("a.h5"), b = file("b.h5");
  write_sample(a);
  // Over a second apart, so a time stamp that slipped into the file (HDF5
  // stamps some object headers unless told not to) would show.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_sample(b);
  const std::string ba = file_bytes(a), bb = file_bytes(b);
  ASSERT_FALSE(ba.empty());
  EXPECT_TRUE(ba == bb) << "files differ";
  EXPECT_EQ(sha256_file_hex(a), sha256_file_hex(b));
  // A different value must change the file (the comparison is not vacuous).
  const std::string c = file("c.h5");
  {
    H5Writer w(c);
    w.create_group("/provenance");
    w.set_attr("/provenance", "tool_version", "rwkv-oracle 0.1.0");
    w.set_attr("/provenance", "seed", uint64_t(43));
    w.close();
  }
  EXPECT_NE(sha256_file_hex(a), sha256_file_hex(c));
}

// The sample's bytes, pinned: a change means the file format drifted (an
// HDF5 or zlib other than Debian 12's 1.10.8 / 1.2.13, or a change here), and
// golden files written before and after would no longer be byte-identical.
// (Re-pinned once, on purpose, when datasets of at most 16 KiB became
// contiguous, see h5_writer.cpp.)
// Nothing time-dependent is stored: the same content written a second later
// gives the same bytes. (HDF5 stores object times unless told not to; with a
// non-default file creation setting, a smaller chunk-index node, HDF5 1.10
// stored the root group's times anyway. Two files written within the same
// second do not show that.)
TEST_F(H5FileTest, SameBytesASecondLater) {
  const std::string a = file("now.h5"), b = file("later.h5");
  write_sample(a);
  ::usleep(1100 * 1000);
  write_sample(b);
  EXPECT_TRUE(file_bytes(a) == file_bytes(b)) << "the file depends on the time it was written";
}

// u8 data, hard links, attribute listing and raw reads (used by the
// per-kernel vectors and by first_difference).
TEST_F(H5FileTest, BytesLinksAndAttributeListing) {
  const std::string path = file("links.h5");
  const std::vector<uint8_t> bytes = {0, 1, 127, 128, 255};
  {
    H5Writer w(path);
    w.write_u8("/a/w", bytes, {5});
    w.link("/a/w", "/b/c/same");
    w.set_attr("/a/w", "zeta", 1.5);
    w.set_attr("/a/w", "alpha", "text");
    w.set_attr("/a/w", "count", uint64_t(3));
    w.set_attr("/a/w", "delta", int64_t(-3));
    EXPECT_THROW(w.link("/a/none", "/b/x"), H5Error);
    EXPECT_THROW(w.link("/a/w", "/b/c/same"), H5Error);
    w.close();
  }
  const H5Reader r(path);
  EXPECT_EQ(r.read_u8("/a/w", Dims{5}), bytes);
  EXPECT_EQ(r.read_u8("/b/c/same"), bytes);
  EXPECT_EQ(r.info("/b/c/same").type, H5Type::u8);
  EXPECT_EQ(r.read_bytes("/b/c/same"), bytes);
  EXPECT_EQ(r.attr_f64("/b/c/same", "zeta"), 1.5);  // a link shares the object and its attributes
  EXPECT_EQ(r.attr_names("/a/w"), (std::vector<std::string>{"alpha", "count", "delta", "zeta"}));
  using K = H5Reader::AttrKind;
  EXPECT_EQ(r.attr_kind("/a/w", "alpha"), K::string);
  EXPECT_EQ(r.attr_kind("/a/w", "count"), K::u64);
  EXPECT_EQ(r.attr_kind("/a/w", "delta"), K::i64);
  EXPECT_EQ(r.attr_kind("/a/w", "zeta"), K::f64);
  EXPECT_THROW(r.read_f32("/a/w"), H5Error);  // no conversions
  const std::vector<float> f = {1.0f, -2.0f};
  {
    H5Writer w(file("raw.h5"));
    w.write_f32("/x", f, {2});
    w.close();
  }
  const std::vector<uint8_t> raw = H5Reader(file("raw.h5")).read_bytes("/x");
  ASSERT_EQ(raw.size(), 8u);
  EXPECT_EQ(std::memcmp(raw.data(), f.data(), 8), 0);
}

TEST_F(H5FileTest, SampleBytesArePinned) {
  const std::string path = file("pinned.h5");
  write_sample(path);
  EXPECT_EQ(sha256_file_hex(path), "2517082e52bee13ba2b351e5334ab83b45c8397e977da1ee4acee933ddd18322");
}

// Small tensors are stored compact (no chunk index, which would outweigh
// them); larger ones chunked, shuffled and deflated.
TEST_F(H5FileTest, StorageLayoutBySize) {
  const std::string path = file("layout.h5");
  {
    H5Writer w(path);
    std::vector<float> small(4096), big(4097);  // 16 KiB: the compact limit
    for (size_t i = 0; i < big.size(); ++i) big[i] = float(i);
    w.write_f32("/small", std::span<const float>(small), {4096});
    w.write_f32("/big", std::span<const float>(big), {4097});
    w.close();
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto layout = [&](const char* name, int* filters) {
    const hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    const hid_t p = H5Dget_create_plist(d);
    const H5D_layout_t l = H5Pget_layout(p);
    *filters = H5Pget_nfilters(p);
    H5Pclose(p);
    H5Dclose(d);
    return l;
  };
  int nf = -1;
  EXPECT_EQ(layout("/small", &nf), H5D_COMPACT);
  EXPECT_EQ(nf, 0);
  EXPECT_EQ(layout("/big", &nf), H5D_CHUNKED);
  EXPECT_EQ(nf, 2);  // shuffle, deflate
  H5Fclose(f);
  EXPECT_EQ(H5Reader(path).read_f32("/big").at(4096), 4096.0f);
}

// Tensors go to disk as they are written: writing 64 MiB of f32 must not
// grow the process by anything like that.
TEST_F(H5FileTest, MemoryStaysBoundedWhileStreaming) {
  auto rss_bytes = [] { return test::resident_bytes(); };
  const std::string path = file("stream.h5");
  std::vector<float> x(1 << 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 1000);  // compresses fast
  H5Writer w(path);
  w.write_f32("/warmup", x, {x.size()});
  const uint64_t before = rss_bytes();
  for (int i = 0; i < 256; ++i) w.write_f32("/steps/" + std::to_string(i) + "/x", x, {256, 256});
  const uint64_t grown = rss_bytes() - std::min(before, rss_bytes());
  w.close();
  RecordProperty("rss_growth_bytes", std::to_string(grown));
  EXPECT_LT(grown, uint64_t(16) << 20) << "RSS grew by " << grown << " bytes while writing 64 MiB";
  EXPECT_EQ(H5Reader(path).members("/steps").size(), 256u);
}

TEST_F(H5FileTest, NeverOverwritesUnlessAsked) {
  const std::string path = file("kept.h5");
  { std::ofstream(path) << "user data"; }
  expect_h5_error([&] { H5Writer w(path); }, path, "refusing to overwrite");
  EXPECT_EQ(file_bytes(path), "user data");
  write_sample(path, Overwrite::yes);
  EXPECT_EQ(H5Reader(path).read_i32("/inputs/tokens").size(), 4u);
}

TEST_F(H5FileTest, AbandonedWriterLeavesNothing) {
  const std::string path = file("abandoned.h5");
  {
    H5Writer w(path);
    w.write_f32("/x", std::vector<float>{1, 2}, {2});
  }  // no close(): an incomplete golden file must not exist
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(H5FileTest, FileAppearingMeanwhileIsNotReplaced) {
  const std::string path = file("race.h5");
  H5Writer w(path);
  w.write_f32("/x", std::vector<float>{1}, {1});
  { std::ofstream(path) << "arrived first"; }
  expect_h5_error([&] { w.close(); }, path, "refusing to overwrite");
  EXPECT_EQ(file_bytes(path), "arrived first");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(H5FileTest, WriterErrorsNameFileAndPath) {
  const std::string path = file("errors.h5");
  H5Writer w(path);
  expect_h5_error([&] { w.write_f32("/x", std::vector<float>{1, 2, 3}, {2, 2}); }, path, "/x", "3 elements",
                  "[2, 2]");
  w.write_f32("/x", std::vector<float>{1}, {1});
  expect_h5_error([&] { w.write_f32("/x", std::vector<float>{1}, {1}); }, path, "/x", "already exists");
  expect_h5_error([&] { w.write_f32("/x/y", std::vector<float>{1}, {1}); }, path, "/x", "not a group");
  expect_h5_error([&] { w.set_attr("/nope", "a", 1.0); }, path, "/nope", "no such object");
  w.set_attr("/x", "a", 1.0);
  expect_h5_error([&] { w.set_attr("/x", "a", 2.0); }, path, "/x", "'a' already set");
  w.close();
  expect_h5_error([&] { w.create_group("/g"); }, path, "closed");
}

// Background mode makes the same calls in the same order on another thread:
// the same bytes, while the caller's buffers may change as soon as a call
// returns (the writer copied them).
TEST_F(H5FileTest, BackgroundWriterGivesTheSameBytes) {
  const std::string a = file("inline.h5"), b = file("background.h5");
  write_sample(a);
  write_sample(b, Overwrite::no, Threading::background);
  const std::string ba = file_bytes(a);
  ASSERT_FALSE(ba.empty());
  EXPECT_TRUE(ba == file_bytes(b)) << "background mode changed the file";

  const std::string c = file("reused.h5");
  {
    H5Writer w(c, Overwrite::no, Compression::deflate, Threading::background);
    std::vector<float> x(5000);
    for (int i = 0; i < 20; ++i) {
      std::fill(x.begin(), x.end(), float(i));  // the same buffer, new values, at once
      w.write_f32("/x" + std::to_string(i), x, {5000});
    }
    w.link("/x3", "/again/x3");
    w.set_attr("/again/x3", "n", int64_t(3));
    w.close();
  }
  H5Reader r(c);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.read_f32("/x" + std::to_string(i)).at(4999), float(i)) << i;
  EXPECT_EQ(r.read_f32("/again/x3").at(0), 3.0f);
}

// Row stacks (schema 2): rows appended in any grouping read back in order,
// whole chunks are written as they fill, the rest at flush(); the same appends
// give the same bytes inline and in the background; a type or width that
// disagrees with the stack is an error naming it.
TEST_F(H5FileTest, RowStacksGatherRowsIntoChunks) {
  const uint64_t width = 300;  // f16: 32 KiB holds 54 rows
  ASSERT_EQ(H5Writer::rows_per_chunk(H5Type::f16, width), 54u);
  EXPECT_EQ(H5Writer::rows_per_chunk(H5Type::f32, 20000), 1u);  // wider than a chunk: a row each
  std::vector<uint16_t> rows(200 * width);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = uint16_t(i * 7919u);
  std::vector<float> wide(3 * 20000);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = float(i);
  // 1 + 1 + 100 + 1 + 97 rows: some whole chunks straight through, the rest gathered.
  const uint64_t groups[] = {1, 1, 100, 1, 97};
  auto write = [&](const std::string& path, Threading th) {
    H5Writer w(path, Overwrite::no, Compression::deflate, th);
    RowStacks stacks(w);
    uint64_t at = 0;
    for (uint64_t n : groups) {
      stacks.append("/layers/0/x", H5Type::f16, width, rows.data() + at * width, n);
      stacks.append("/wide", H5Type::f32, 20000, wide.data() + (at % 3) * 20000, 1);
      at += n;
      if (at == 102) stacks.flush();  // mid-chunk (as bench's settle): later rows fill that chunk up first
    }
    EXPECT_EQ(stacks.rows("/layers/0/x"), 200u);
    EXPECT_EQ(stacks.rows("/nothing"), 0u);
    EXPECT_EQ(stacks.paths(), (std::vector<std::string>{"/layers/0/x", "/wide"}));
    stacks.flush();
    w.set_attr("/layers/0/x", "op", "x");
    w.close();
  };
  const std::string a = file("stack.h5"), b = file("stack_bg.h5");
  write(a, Threading::inline_calls);
  write(b, Threading::background);
  EXPECT_TRUE(file_bytes(a) == file_bytes(b)) << "background mode changed the file";
  H5Reader r(a);
  EXPECT_EQ(r.info("/layers/0/x").dims, (Dims{200, width}));
  EXPECT_EQ(r.read_f16_bits("/layers/0/x"), rows);
  const std::vector<uint16_t> mid = r.read_f16_rows("/layers/0/x", 101, 2);
  EXPECT_TRUE(std::equal(mid.begin(), mid.end(), rows.begin() + 101 * width));
  EXPECT_EQ(r.read_f32_rows("/wide", 2, 1).at(5), 2 * 20000 + 5.0f);
  EXPECT_EQ(r.attr_string("/layers/0/x", "op"), "x");
  expect_h5_error([&] { r.read_f16_rows("/layers/0/x", 199, 2); }, a, "/layers/0/x", "rows 199 to 201", "has 200");
  expect_h5_error([&] { r.read_f32_rows("/layers/0/x", 0, 1); }, a, "expected f32", "found f16");

  const std::string c = file("mismatch.h5");
  H5Writer w(c);
  RowStacks stacks(w);
  stacks.append("/s", H5Type::f32, 4, wide.data(), 1);
  expect_h5_error([&] { stacks.append("/s", H5Type::f32, 5, wide.data(), 1); }, c, "/s", "stack of 4");
  expect_h5_error([&] { stacks.append("/s", H5Type::f16, 4, rows.data(), 1); }, c, "/s", "f16");
  expect_h5_error([&] { w.append_rows("/s", H5Type::f32, 5, wide.data(), 1); }, c, "/s", "width 4");
  expect_h5_error([&] { w.append_rows("/none", H5Type::f32, 4, wide.data(), 1); }, c, "/none", "no such row stack");
}

// A call that fails on the writer thread is reported at the next call, at
// wait() and at close(), with the same message as inline mode; the calls
// after it are dropped and no file is left behind.
TEST_F(H5FileTest, BackgroundWriterReportsErrorsAndLeavesNothing) {
  const std::string path = file("late.h5");
  H5Writer w(path, Overwrite::no, Compression::deflate, Threading::background);
  // Checked in the caller's thread, before queueing: at once.
  expect_h5_error([&] { w.write_f32("/x", std::vector<float>{1, 2, 3}, {2, 2}); }, path, "/x", "3 elements");
  w.write_f32("/x", std::vector<float>{1}, {1});
  w.write_f32("/x", std::vector<float>{1}, {1});  // fails later, on the writer thread
  expect_h5_error([&] { w.wait(); }, path, "/x", "already exists");
  expect_h5_error([&] { w.set_attr("/x", "a", 1.0); }, path, "/x", "already exists");
  expect_h5_error([&] { w.close(); }, path, "/x", "already exists");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));

  const std::string abandoned = file("abandoned.h5");
  {
    H5Writer a(abandoned, Overwrite::no, Compression::deflate, Threading::background);
    for (int i = 0; i < 50; ++i) a.write_f32("/x" + std::to_string(i), std::vector<float>(10000, 1.0f), {10000});
  }  // no close(): pending calls dropped, temporary file removed
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(H5FileTest, ReaderErrorsNameFilePathAndExpectation) {
  const std::string missing = file("missing.h5");
  expect_h5_error([&] { H5Reader r(missing); }, missing, "no such file");
  const std::string text = file("text.h5");
  { std::ofstream(text) << "not hdf5"; }
  expect_h5_error([&] { H5Reader r(text); }, text, "not an HDF5 file");

  const std::string path = file("reader.h5");
  write_sample(path);
  const H5Reader r(path);
  expect_h5_error([&] { r.read_f32("/steps/9/layers/0/att_norm"); }, path, "/steps/9/layers/0/att_norm",
                  "no such dataset");
  expect_h5_error([&] { r.read_f32("/steps/0"); }, path, "/steps/0", "expected a dataset, found a group");
  expect_h5_error([&] { r.read_f64("/steps/0/layers/0/att_norm"); }, path, "/steps/0/layers/0/att_norm",
                  "expected f64", "found f32");
  expect_h5_error([&] { r.read_f16_bits("/steps/0/layers/0/att_norm"); }, path, "expected f16", "found f32");
  expect_h5_error([&] { r.read_f32("/steps/0/layers/0/att_norm", Dims{70, 300}); }, path,
                  "expected f32 with shape [70, 300]", "found f32 with shape [300, 70]");
  expect_h5_error([&] { r.members("/inputs/tokens"); }, path, "/inputs/tokens", "expected a group");
  expect_h5_error([&] { r.members("/nope"); }, path, "/nope", "no such group");
  expect_h5_error([&] { r.attr_f64("/provenance", "missing"); }, path, "/provenance", "no attribute 'missing'");
  expect_h5_error([&] { r.attr_f64("/provenance", "tool_version"); }, path, "'tool_version'", "expected a scalar f64");
  expect_h5_error([&] { r.attr_string("/provenance", "seed"); }, path, "'seed'", "expected a string");
  expect_h5_error([&] { r.attr_i64("/provenance", "seed"); }, path, "'seed'", "expected a scalar i64");
  expect_h5_error([&] { r.attr_u64("/nowhere", "seed"); }, path, "/nowhere", "no such object");
}

// Files from other tools (h5py): variable-length string attributes are read;
// types we do not write (big-endian, 16-bit integers) are reported, not
// converted.
TEST_F(H5FileTest, ForeignTypesAreReadOrReported) {
  const std::string path = file("foreign.h5");
  {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hsize_t n = 2;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const double be[2] = {1.0, 2.0};
    const hid_t d1 = H5Dcreate2(f, "/be", H5T_IEEE_F64BE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d1, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, be);
    const int16_t s16[2] = {1, -1};
    const hid_t d2 = H5Dcreate2(f, "/i16", H5T_STD_I16LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d2, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, s16);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "note", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = "written by h5py";
    H5Awrite(a, str, &text);
    H5Aclose(a);
    H5Tclose(str);
    H5Sclose(scalar);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Sclose(space);
    H5Fclose(f);
  }
  const H5Reader r(path);
  EXPECT_EQ(r.attr_string("/", "note"), "written by h5py");
  expect_h5_error([&] { r.read_f64("/be"); }, path, "/be", "unsupported element type", "float of 8 bytes, big-endian");
  expect_h5_error([&] { r.info("/i16"); }, path, "/i16", "signed integer of 2 bytes");
  EXPECT_EQ(r.members("/"), (std::vector<std::string>{"be", "i16"}));  // name order: no creation index
}

}  // namespace
}  // namespace rwkv::vectors
