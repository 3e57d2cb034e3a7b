#include "vectors/kernel_vectors.h"

#include <cstring>
#include <map>

#include <fmt/format.h>

#include "reference/util/sha256.h"

namespace rwkv::vectors {
namespace {

// Writes one case tensor (or links it to an identical one written before, if
// `dedupe` holds it) at `path`.
class TensorSink {
 public:
  explicit TensorSink(H5Writer& w) : w_(w) {}

  void write(const std::string& path, const CaseTensor& t, bool may_link) {
    std::string digest;
    if (may_link) {
      Sha256 h;
      h.update(elem_type_name(t.type));
      for (uint64_t d : t.dims) h.update(fmt::format(",{}", d));
      h.update(";");
      h.update(t.bytes.data(), t.bytes.size());
      digest = h.finish_hex();
      if (auto it = seen_.find(digest); it != seen_.end()) {
        w_.link(it->second, path);
        ++linked;
        return;
      }
    }
    const size_t n = size_t(t.numel());
    switch (t.type) {
      case ElemType::f16: w_.write_f16_bits(path, copy_as<uint16_t>(t.bytes, n), t.dims); break;
      case ElemType::f32: w_.write_f32(path, copy_as<float>(t.bytes, n), t.dims); break;
      case ElemType::u8: w_.write_u8(path, t.bytes, t.dims); break;
      case ElemType::u32: w_.write_u32(path, copy_as<uint32_t>(t.bytes, n), t.dims); break;
    }
    ++written;
    if (may_link) seen_.emplace(digest, path);
  }

  void write_f64(const std::string& path, const CaseTensor& out) {
    Sha256 h;
    h.update("f64");
    for (uint64_t d : out.dims) h.update(fmt::format(",{}", d));
    h.update(";");
    h.update(out.f64.data(), out.f64.size() * sizeof(double));
    const std::string digest = h.finish_hex();
    if (auto it = seen_.find(digest); it != seen_.end()) {
      w_.link(it->second, path);
      ++linked;
      return;
    }
    w_.write_f64(path, out.f64, out.dims);
    ++written;
    seen_.emplace(digest, path);
  }

  uint64_t written = 0, linked = 0;

 private:
  template <class T> static std::vector<T> copy_as(const std::vector<uint8_t>& bytes, size_t n) {
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), bytes.data(), n * sizeof(T));
    return v;
  }

  H5Writer& w_;
  std::map<std::string, std::string> seen_;  // content digest -> first path
};

void set_param(H5Writer& w, const std::string& object, const CaseParam& p) {
  std::visit([&](const auto& v) { w.set_attr(object, p.name, v); }, p.value);
}

}  // namespace

KernelVectorsSummary write_kernel_vectors(H5Writer& w, const std::vector<const KernelVariant*>& variants,
                                          const KernelVectorsOptions& options,
                                          const std::function<void(const KernelVariant&, uint64_t)>& progress) {
  w.set_attr("/", "schema", kKernelVectorsSchema);
  w.set_attr("/", "tool_version", std::string("rwkv-oracle ") + RWKV_ORACLE_VERSION);
  w.set_attr("/", "seed", options.seed);
  w.set_attr("/", "max_cases", options.max_cases);
  w.set_attr("/", "kernel_regex", options.kernel_regex);
  w.set_attr("/", "variants", uint64_t(variants.size()));

  KernelVectorsSummary summary;
  TensorSink sink(w);
  for (const KernelVariant* v : variants) {
    std::vector<KernelCase> cases = v->cases(options.seed, WithOracle::yes);
    if (options.max_cases > 0 && cases.size() > options.max_cases) cases.resize(size_t(options.max_cases));
    const std::string group = "/" + v->key;
    w.create_group(group);
    w.set_attr(group, "kernel", v->name);
    w.set_attr(group, "format", v->format);
    w.set_attr(group, "activation", v->activation);
    w.set_attr(group, "order", v->order);
    w.set_attr(group, "oracle", v->oracle);
    w.set_attr(group, "cases", uint64_t(cases.size()));
    for (size_t i = 0; i < cases.size(); ++i) {
      const KernelCase& c = cases[i];
      const std::string at = fmt::format("{}/{}", group, i);
      w.create_group(at);
      w.set_attr(at, "label", c.label);
      for (const CaseParam& p : c.params) set_param(w, at, p);
      for (const CaseTensor& t : c.inputs) sink.write(at + "/inputs/" + t.name, t, true);
      for (const CaseTensor& t : c.outputs) {
        const std::string path = at + "/outputs/" + t.name;
        sink.write(path, t, false);  // outputs carry their own attributes: never shared
        if (t.f64.empty()) continue;
        const OracleErrors e = oracle_errors(t);
        w.set_attr(path, "max_abs_err_f64", e.max_abs);
        w.set_attr(path, "max_rel_err_f64", e.max_rel);
        sink.write_f64(at + "/oracle/" + t.name, t);
      }
    }
    summary.cases += cases.size();
    ++summary.variants;
    if (progress) progress(*v, cases.size());
  }
  summary.datasets = sink.written;
  summary.linked = sink.linked;
  return summary;
}

}  // namespace rwkv::vectors
