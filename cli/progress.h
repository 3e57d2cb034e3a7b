#pragma once
// A one-line progress bar on standard error, drawn only when standard error is
// a terminal (quiet in pipes, logs and CI). Redrawn at most every 100 ms.
#include <chrono>
#include <cstdint>
#include <string>

namespace rwkv::cli {

class Progress {
 public:
  // `total` units of `unit` ("tokens"); `label` starts the line.
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();  // ends the line if anything was drawn
  void update(int64_t done);
  bool active() const { return tty_; }

 private:
  void draw(int64_t done);
  std::string label_, unit_;
  int64_t total_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace rwkv::cli
