#pragma once
// WriteQueue: one background thread that runs jobs in the order they were
// pushed, so a file writer can hand its calls off and let the caller compute
// on. H5Writer uses it in background mode: the forward pass goes on with the
// next op while HDF5 stores the last one (creating a dataset and its
// attributes costs tens of microseconds, as much as a small op itself).
//
// Order is the whole contract: jobs run one at a time, first in first out,
// so the file gets exactly the calls, in exactly the order, that a
// synchronous writer would have made (and the same bytes).
//
// Memory stays bounded: push() waits while the queued jobs hold more than
// `max_bytes` of data (a job bigger than that on its own still goes, into an
// empty queue).
//
// Errors: the first job that throws stops the queue; the jobs after it are
// dropped, and push() and drain() rethrow that exception in the caller's
// thread from then on.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace rwkv::vectors {

class WriteQueue {
 public:
  explicit WriteQueue(size_t max_bytes);
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;
  // Drops what has not run yet and joins the thread.
  ~WriteQueue();

  // Queues `job`, which holds `bytes` of data (for the bound). Rethrows an
  // earlier job's exception instead of queueing.
  void push(std::function<void()> job, size_t bytes);
  // Waits until every queued job has run; rethrows the first job's exception.
  void drain();
  // True on the thread of any WriteQueue (inside a job). A thread-local flag,
  // so a job can ask without touching the queue object.
  static bool in_job();

 private:
  struct Job {
    std::function<void()> run;
    size_t bytes;
  };
  void work();

  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Job> jobs_;
  size_t queued_bytes_ = 0;
  bool busy_ = false;  // a job is running
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: starts once the members above exist
};

}  // namespace rwkv::vectors
