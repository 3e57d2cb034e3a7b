#pragma once
// Activations fused into matmuls and binary ops (web-rwkv Macros::activate).
#include <string_view>

namespace rwkv {

enum class Activation : unsigned char { none, tanh, sigmoid, squared_relu };

inline std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
    case Activation::squared_relu: return "squared_relu";
  }
  return "?";
}

}  // namespace rwkv
