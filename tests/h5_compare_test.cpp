// first_difference: names the first object, attribute or element in which two
// HDF5 files' contents differ, and nothing for equal contents.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vectors/h5_compare.h"
#include "vectors/h5_file.h"

namespace rwkv::vectors {
namespace {

namespace fs = std::filesystem;

class H5Compare : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rwkv_h5cmp_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Variation {
    float element = 1.5f;     // x[2] of /case/outputs/y
    double attr = 1e-7;       // its max_abs_err_f64
    bool extra = false;       // an extra dataset /case/inputs/z
    std::string label = "a";  // a string attribute of /case
  };
  std::string write(const std::string& name, const Variation& v) {
    const std::string path = (dir_ / name).string();
    H5Writer w(path);
    w.set_attr("/", "schema", "test/1");
    w.create_group("/case");
    w.set_attr("/case", "label", v.label);
    const std::vector<uint8_t> bytes = {1, 2, 3};
    w.write_u8("/case/inputs/w", bytes, {3});
    if (v.extra) w.write_u8("/case/inputs/z", bytes, {3});
    w.link("/case/inputs/w", "/case/inputs/w_again");
    const std::vector<float> y = {0.0f, 1.0f, v.element};
    w.write_f32("/case/outputs/y", y, {1, 3});
    w.set_attr("/case/outputs/y", "max_abs_err_f64", v.attr);
    w.close();
    return path;
  }
  fs::path dir_;
};

TEST_F(H5Compare, EqualContentsHaveNoDifference) {
  EXPECT_EQ(first_difference(write("a.h5", {}), write("b.h5", {})), std::nullopt);
}

TEST_F(H5Compare, NamesTheElementThatDiffers) {
  Variation v;
  v.element = 1.75f;
  const auto d = first_difference(write("a.h5", {}), write("b.h5", v));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "/case/outputs/y: element 2 differs: 0x3fc00000 (1.5) in A, 0x3fe00000 (1.75) in B");
}

TEST_F(H5Compare, NamesTheAttributeThatDiffers) {
  Variation v;
  v.attr = 2e-7;
  const auto d = first_difference(write("a.h5", {}), write("b.h5", v));
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->find("/case/outputs/y: attribute 'max_abs_err_f64' differs"), std::string::npos) << *d;
  Variation s;
  s.label = "b";
  const auto ds = first_difference(write("c.h5", {}), write("d.h5", s));
  ASSERT_TRUE(ds.has_value());
  EXPECT_EQ(*ds, "/case: attribute 'label' differs: 'a' in A, 'b' in B");
}

TEST_F(H5Compare, NamesAMemberOnlyOneFileHas) {
  Variation v;
  v.extra = true;
  const std::string a = write("a.h5", {}), b = write("b.h5", v);
  const auto d = first_difference(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "/case/inputs/z: only in B");
  const auto back = first_difference(b, a);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, "/case/inputs/z: only in A");
}

TEST_F(H5Compare, NamesATypeOrShapeChange) {
  const std::string a = (dir_ / "a.h5").string(), b = (dir_ / "b.h5").string();
  {
    H5Writer w(a);
    const std::vector<float> y = {1, 2};
    w.write_f32("/y", y, {2});
    w.close();
  }
  {
    H5Writer w(b);
    const std::vector<uint16_t> y = {0x3c00, 0x4000};
    w.write_f16_bits("/y", y, {2});
    w.close();
  }
  EXPECT_EQ(first_difference(a, b), std::optional<std::string>("/y: f32 [2] in A, f16 [2] in B"));
}

TEST_F(H5Compare, AMissingFileIsAnError) {
  EXPECT_THROW(first_difference((dir_ / "none.h5").string(), write("a.h5", {})), H5Error);
}

}  // namespace
}  // namespace rwkv::vectors
