// The .npy reader the known-answer tests rely on: it accepts what np.save
// writes for '<f4', '<f8' and '|u1' C-ordered arrays (and .npz of stored members) and names the file and field of
// anything else.
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/npy.h"

namespace rwkv::test {
namespace {

std::string error_of(const std::string& path, const std::string& header) {
  NpyArray a;
  try {
    parse_npy_header(path, header, a);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(NpyHeader, ParsesWhatNumpyWrites) {
  NpyArray a;
  parse_npy_header("x.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (36, 256), }          \n", a);
  EXPECT_EQ(a.descr, "<f4");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{36, 256}));
  parse_npy_header("x.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }", a);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{7}));
  parse_npy_header("x.npy", "{'shape': (), 'fortran_order': False, 'descr': '<f4'}", a);
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.numel(), 1);
}

TEST(NpyHeader, RejectsOtherArraysNamingFileAndField) {
  EXPECT_EQ(error_of("a.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"),
            "a.npy: field 'descr' is '<i8'; expected '<f4' (little-endian float32), '<f8' (float64) or '|u1' (uint8)");
  EXPECT_EQ(error_of("b.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"),
            "b.npy: field 'fortran_order' is True; only C-ordered arrays are supported");
  EXPECT_EQ(error_of("c.npy", "{'descr': '<f4', 'fortran_order': False, }"), "c.npy: header has no field 'shape'");
  EXPECT_EQ(error_of("d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }"),
            "d.npy: header: field 'shape' holds a non-integer at offset 54");
  EXPECT_EQ(error_of("e.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}"),
            "e.npy: unexpected header field 'extra' (expected descr, fortran_order, shape)");
}

TEST(NpyFile, ReadsDataAndChecksItsSize) {
  const std::string path = (std::filesystem::temp_directory_path() / "rwkv_oracle_npy_test.npy").string();
  auto write = [&](const std::string& header, size_t data_bytes) {
    std::string h = header;
    while ((10 + h.size() + 1) % 64 != 0) h += ' ';
    h += '\n';
    std::ofstream f(path, std::ios::binary);
    f.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {char(h.size() & 0xff), char(h.size() >> 8)};
    f.write(len, 2);
    f.write(h.data(), std::streamsize(h.size()));
    for (size_t i = 0; i < data_bytes; ++i) f.put(char(i));
  };
  write("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 6);
  const NpyArray a = read_npy(path);
  EXPECT_EQ(a.u8(), (std::vector<uint8_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_THROW(a.f32(), std::runtime_error);
  EXPECT_THROW(a.require_shape({3, 2}), std::runtime_error);
  write("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
  try {
    read_npy(path);
    ADD_FAILURE() << "a short file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": data holds 20 bytes, expected 24 for shape (2, 3) and descr '<f4'");
  }
  std::remove(path.c_str());
  EXPECT_THROW(read_npy(path), std::runtime_error);
}

TEST(NpyFile, ReadsTheSharedVectors) {
  const NpyArray a = read_npy(std::string(RWKV_SHARED_DIR) + "/vectors/q4_k_input.f32.npy");
  a.require_shape({36, 256});
  EXPECT_EQ(a.f32().size(), 36u * 256u);
}

}  // namespace
}  // namespace rwkv::test

namespace rwkv::test {
// The crosscheck files are float64 .npy and an .npz of stored members.
TEST(Npy, ReadsFloat64AndStoredNpz) {
  const std::string dir = std::string(RWKV_SHARED_DIR) + "/crosscheck/";
  const NpyArray logits = read_npy(dir + "logits_official_f64.npy");
  EXPECT_EQ(logits.descr, "<f8");
  logits.require_shape({16, 1024});
  const std::vector<double> v = logits.f64();
  ASSERT_EQ(v.size(), 16u * 1024u);
  double mx = 0;
  for (double x : v) mx = std::max(mx, std::abs(x));
  EXPECT_GT(mx, 5.0);  // the README: range -10.3 ... +11.3
  EXPECT_LT(mx, 12.0);
  const auto npz = read_npz_stored(dir + "state_official_f64.npz");
  ASSERT_EQ(npz.size(), 3u);
  npz.at("att_shift").require_shape({2, 256});
  npz.at("wkv").require_shape({2, 4, 64, 64});
  npz.at("ffn_shift").require_shape({2, 256});
  EXPECT_EQ(npz.at("wkv").f64().size(), 2u * 4u * 64u * 64u);
}
}  // namespace rwkv::test
