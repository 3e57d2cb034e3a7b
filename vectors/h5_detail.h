#pragma once
// Pieces shared by the HDF5 writer and reader: the in-memory and on-disk
// types of each H5Type, error silencing, and path helpers. Internal to
// vectors/.
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <hdf5.h>

#include "vectors/h5_file.h"

namespace rwkv::vectors::detail {

// Hid stores ids as int64_t and closes them through int (*)(int64_t), which
// is what hid_t and herr_t are from HDF5 1.10 on.
static_assert(std::is_same_v<hid_t, int64_t> && std::is_same_v<herr_t, int>);
// H5Writer::set_chunks takes chunk dims as unsigned long long (hsize_t) in h5_file.h.
static_assert(std::is_same_v<hsize_t, unsigned long long>);

// HDF5 prints its error stack to stderr by default; we turn that off once and
// report our own messages instead.
void silence_hdf5_errors();

// The file type (little-endian) of `t`. f16 is a type we build, the others
// are HDF5's predefined ones; the returned Hid closes it if it must be closed.
Hid file_type(H5Type t);
// Which H5Type a dataset's or attribute's type is, or nullopt with a
// description in `found` (e.g. "float of 8 bytes").
std::optional<H5Type> classify(hid_t type, std::string& found);

// "/a/b/c" -> {"a", "b", "c"}; empty components are dropped.
std::vector<std::string> split_path(const std::string& path);
// Whether every component of `path` exists as a link (the root always does).
bool path_exists(hid_t file, const std::string& path);

inline Hid own_type(hid_t id) { return Hid(id, &H5Tclose); }
inline Hid own_space(hid_t id) { return Hid(id, &H5Sclose); }
inline Hid own_plist(hid_t id) { return Hid(id, &H5Pclose); }
inline Hid own_object(hid_t id) { return Hid(id, &H5Oclose); }
inline Hid own_attr(hid_t id) { return Hid(id, &H5Aclose); }

}  // namespace rwkv::vectors::detail
