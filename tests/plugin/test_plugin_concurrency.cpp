// Threads, the host's queue lock and the non-blocking tick (tessera.h, "Thread-safety"):
// queries never wait for a tick that waits for the host's queue lock (the two deadlocks of
// issue 12 item 1), tsr_tick_async submits and returns while the GPU works, tsr_job_prepare
// builds a plan ahead of the first tick, and a host with synchronization validation on its own
// instance shares its queue with Tessera's non-blocking ticks without a message.
//
// A deadlock must fail a test, not hang ctest: scenarios run under a watchdog that, on
// timeout, releases the host's queue lock (HostQueueLock may be released by any thread), so
// every thread gets out and the test reports what hung.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <thread>

#include "plugin/host_device.hpp"
#include "support/run_command.hpp"

namespace tessera::testing {
namespace {

using namespace std::chrono_literals;

// The engine's queue mutex, as tsr_vulkan_device.lock_queue/unlock_queue. Counts the threads
// waiting in lock(), so a test can tell when Tessera is blocked on it.
class HostQueueLock {
 public:
  static void lock_fn(void* user) { static_cast<HostQueueLock*>(user)->lock(); }
  static void unlock_fn(void* user) { static_cast<HostQueueLock*>(user)->unlock(); }
  void lock() {
    std::unique_lock<std::mutex> l(mutex_);
    waiting_++;
    changed_.notify_all();
    changed_.wait(l, [&] { return !held_; });
    waiting_--;
    held_ = true;
  }
  void unlock() {
    std::lock_guard<std::mutex> l(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  // Waits until `n` threads wait in lock(); false after `timeout`.
  bool wait_for_waiters(int n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> l(mutex_);
    return changed_.wait_for(l, timeout, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  int waiting_ = 0;
};

// Runs `body` on a thread; if it has not returned after `timeout`, calls `unstick` (which must
// make it return) and reports a hang. Generous: only a deadlock takes this long.
void expect_finishes(const char* what, const std::function<void()>& body, const std::function<void()>& unstick,
                     std::chrono::seconds timeout = 60s) {
  std::packaged_task<void()> task(body);
  std::future<void> done = task.get_future();
  std::thread runner(std::move(task));
  if (done.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << what << " did not finish within " << timeout.count() << " s: a deadlock";
    while (done.wait_for(100ms) != std::future_status::ready) unstick();
  }
  runner.join();
  done.get();
}

// A context on a host device whose queue is shared under HostQueueLock.
struct SharedQueueHost {
  HostDevice host;
  HostQueueLock queue_lock;
  LogSink sink;
  tsr_context ctx{0};
  tsr_model model{0};

  void create(const HostDeviceOptions& options = {}) {
    host.create(options);
    if (::testing::Test::HasFatalFailure()) return;
    tsr_context_desc d = context_desc(&sink);
    d.vulkan = host.vulkan_device(TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE);
    d.vulkan.lock_queue = HostQueueLock::lock_fn;
    d.vulkan.unlock_queue = HostQueueLock::unlock_fn;
    d.vulkan.queue_lock_user_data = &queue_lock;
    ctx = create_context(d);
    model = load_test_model(ctx);
  }
  ~SharedQueueHost() {
    if (ctx.id) {
      EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS) << tsr_get_last_error();
    }
    sink.expect_no_validation_messages();
    for (const auto& m : host.take_messages()) ADD_FAILURE() << "host's validation layer: " << m;
  }
};

uint32_t steps_done(tsr_job job) {
  uint32_t done = 0;
  EXPECT_EQ(tsr_job_get_progress(job, &done, nullptr), TSR_SUCCESS) << tsr_get_last_error();
  return done;
}

// A frame loop's bound: far beyond what the jobs here need, only a hang reaches it.
struct FrameDeadline {
  std::chrono::steady_clock::time_point end = std::chrono::steady_clock::now() + 120s;
  // Paces the loop like frames (without it, thousands of ticks would spin per GPU step).
  bool next() {
    std::this_thread::sleep_for(1ms);
    return std::chrono::steady_clock::now() < end;
  }
};

bool pending(tsr_job job) {
  tsr_job_status s = job_status(job);
  return s == TSR_JOB_QUEUED || s == TSR_JOB_RUNNING;
}

tsr_tick_stats tick_async(tsr_context ctx, double budget_ms) {
  tsr_tick_stats s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  EXPECT_EQ(tsr_tick_async(ctx, budget_ms, &s), TSR_SUCCESS) << tsr_get_last_error();
  return s;
}

// Item 1, both patterns. A render thread's tick is blocked in lock_queue (the host holds its
// queue mutex); the host, still holding it, queries the jobs (pattern a: the host's own lock
// held across tsr_ calls; pattern b: the lock-order inversion against a tick). Before 1.2 the
// queries waited for the context lock the blocked tick held: a deadlock.
TEST(PluginConcurrency, QueriesUnderTheHostQueueLockDoNotWaitForATickBlockedOnIt) {
  SharedQueueHost h;
  h.create();
  if (::testing::Test::HasFatalFailure()) return;
  tsr_job done_job = submit(h.ctx, generate_desc(h.model, 4, 1));
  run_to_end(h.ctx, done_job, 16, 16);
  tsr_job job = submit(h.ctx, generate_desc(h.model, 3, 3));

  h.queue_lock.lock();  // the engine's render thread is submitting its frame
  std::thread render([&] { tick(h.ctx, 1e9); });
  ASSERT_TRUE(h.queue_lock.wait_for_waiters(1, 60s)) << "the tick never asked for the queue lock";
  expect_finishes(
      "queries while holding the queue lock a tick waits for",
      [&] {
        EXPECT_EQ(job_status(job), TSR_JOB_RUNNING);
        uint32_t total = 0;
        EXPECT_EQ(tsr_job_get_progress(job, nullptr, &total), TSR_SUCCESS) << tsr_get_last_error();
        EXPECT_EQ(total, 3u);
        std::vector<uint8_t> px(16 * 16 * 4);
        EXPECT_EQ(tsr_job_read_pixels(job, px.data(), px.size(), 0), TSR_NOT_READY);
        EXPECT_EQ(tsr_job_read_pixels(done_job, px.data(), px.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
        char name[256];
        EXPECT_EQ(tsr_context_get_device_name(h.ctx, name, sizeof name), TSR_SUCCESS) << tsr_get_last_error();
        // The non-blocking tick does not wait for the blocked one either: it reports busy.
        tsr_tick_stats s = tick_async(h.ctx, 4.0);
        EXPECT_EQ(s.busy, 1u);
        EXPECT_EQ(s.steps_run + s.steps_submitted + s.jobs_pending, 0u);
      },
      [&] { h.queue_lock.unlock(); });
  h.queue_lock.unlock();
  render.join();
  EXPECT_EQ(pending(job), false) << "the tick ran the whole job once it had the queue";
}

// Item 1, pattern b as engines hit it: a game thread polls status and progress under the queue
// mutex in a loop while the render thread ticks (blocking and non-blocking) to the end.
TEST(PluginConcurrency, PollingUnderTheQueueLockWhileAnotherThreadTicksFinishes) {
  SharedQueueHost h;
  h.create();
  if (::testing::Test::HasFatalFailure()) return;
  tsr_job job = submit(h.ctx, generate_desc(h.model, 5, 8));
  std::atomic<bool> stop{false};
  std::atomic<int> polls{0};
  expect_finishes(
      "status polling under the queue lock against a ticking thread",
      [&] {
        std::thread game([&] {
          while (!stop) {
            h.queue_lock.lock();
            tsr_job_status s = TSR_JOB_FAILED;
            uint32_t done = 0;
            EXPECT_EQ(tsr_job_get_status(job, &s), TSR_SUCCESS) << tsr_get_last_error();
            EXPECT_EQ(tsr_job_get_progress(job, &done, nullptr), TSR_SUCCESS) << tsr_get_last_error();
            h.queue_lock.unlock();
            polls++;
            if (s != TSR_JOB_QUEUED && s != TSR_JOB_RUNNING) break;
          }
        });
        FrameDeadline deadline;
        for (int frame = 0; !stop && pending(job) && deadline.next(); ++frame) {
          if (frame % 2)
            tick_async(h.ctx, 1e-3);
          else
            tick(h.ctx, 1e-3);
        }
        game.join();
      },
      [&] {
        stop = true;
        h.queue_lock.unlock();
      });
  EXPECT_EQ(job_status(job), TSR_JOB_DONE);
  EXPECT_GT(polls.load(), 0);
}

// Item 2: tsr_tick_async submits and returns; the GPU's results (progress, timings) arrive
// with the next tick. The budget decides how many steps go in one submission: a single step
// while the cost is unknown or when one step exceeds the budget, all of them when they fit.
// The image is bit-identical to the blocking tick's. The host has synchronization validation
// on its own instance and submits its own frames on the shared queue meanwhile: no message.
TEST(PluginConcurrency, AsyncTicksOnASharedQueueUnderSyncValidationMatchBlockingTicks) {
  SharedQueueHost h;
  HostDeviceOptions options;
  options.synchronization_validation = true;
  h.create(options);
  if (::testing::Test::HasFatalFailure()) return;
  const uint32_t steps = 8;
  tsr_job reference = submit(h.ctx, generate_desc(h.model, 11, steps));
  std::vector<uint8_t> expected = run_to_end(h.ctx, reference, 16, 16);

  std::atomic<bool> stop{false};
  std::thread render([&] {  // the engine's frames, on the queue Tessera uses
    for (uint32_t frame = 0; !stop; ++frame) {
      h.queue_lock.lock();
      h.host.submit_frame(frame);
      h.queue_lock.unlock();
      h.host.wait_frame();
    }
  });

  tsr_job job = submit(h.ctx, generate_desc(h.model, 11, steps));
  tsr_tick_stats first = tick_async(h.ctx, 1e-3);
  EXPECT_EQ(first.busy, 0u);
  EXPECT_EQ(first.steps_run, 0u);        // nothing had run before
  EXPECT_EQ(first.steps_submitted, 1u);  // one step: over budget, and its cost unknown yet
  EXPECT_EQ(job_status(job), TSR_JOB_RUNNING);
  EXPECT_EQ(steps_done(job), 0u) << "the tick returned before its step's result was collected";
  uint32_t collected = 0;
  bool big_batch_seen = false;
  FrameDeadline deadline;
  while (pending(job) && deadline.next()) {
    const uint32_t before = steps_done(job);
    // Tiny budgets until the job is half done (one step per submission), then a huge one: the
    // rest in one submission, since every step's cost is now known.
    const double budget = before < steps / 2 ? 1e-3 : 1e9;
    tsr_tick_stats s = tick_async(h.ctx, budget);
    collected += s.steps_run;
    EXPECT_EQ(steps_done(job), before + s.steps_run);
    if (budget < 1) {
      EXPECT_LE(s.steps_submitted, 1u);
    }
    // (A tick that finds its predecessor's step still running submits nothing new.)
    if (s.steps_submitted > 1) {
      EXPECT_EQ(s.steps_submitted, steps - steps_done(job));
      big_batch_seen = true;
    }
    if (s.steps_run) {
      EXPECT_GT(s.gpu_ms, 0.0);
    }
  }
  stop = true;
  render.join();
  EXPECT_TRUE(big_batch_seen);
  EXPECT_EQ(collected, steps);
  std::vector<uint8_t> px(16 * 16 * 4);
  ASSERT_EQ(tsr_job_read_pixels(job, px.data(), px.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(px, expected) << "async ticks produced another image";
}

// Calls that need a job's running steps wait for them: cancel, preview, destroy, a blocking
// tick and context destroy, each right after an async submission.
TEST(PluginConcurrency, CallsThatNeedRunningStepsWaitForThem) {
  LogSink sink;
  tsr_context ctx = create_context(context_desc(&sink));
  tsr_model model = load_test_model(ctx);
  std::vector<uint8_t> px(16 * 16 * 4);

  tsr_job cancelled = submit(ctx, generate_desc(model, 1, 4));
  EXPECT_EQ(tick_async(ctx, 1e9).steps_submitted, 1u);
  EXPECT_EQ(tsr_job_cancel(cancelled), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(job_status(cancelled), TSR_JOB_CANCELLED);
  EXPECT_EQ(tsr_job_destroy(cancelled), TSR_SUCCESS) << tsr_get_last_error();

  tsr_job previewed = submit(ctx, generate_desc(model, 2, 4));
  tick_async(ctx, 1e-3);
  EXPECT_EQ(tsr_job_read_preview(previewed, px.data(), px.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(steps_done(previewed), 1u) << "the preview collected the step it waited for";
  tsr_tick_stats blocking = tick(ctx, 1e9);  // runs the rest
  EXPECT_EQ(job_status(previewed), TSR_JOB_DONE);
  EXPECT_EQ(blocking.steps_run, 3u);

  tsr_job destroyed = submit(ctx, generate_desc(model, 3, 4));
  tick_async(ctx, 1e-3);
  EXPECT_EQ(tsr_job_destroy(destroyed), TSR_SUCCESS) << tsr_get_last_error();
  submit(ctx, generate_desc(model, 4, 4));
  EXPECT_EQ(tick_async(ctx, 1e9).steps_submitted, 4u);  // the cost is known now: all steps fit
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS) << tsr_get_last_error();
  sink.expect_no_validation_messages();
}

// Item 2: tsr_job_prepare builds the plan (device memory shows it) while the job stays queued;
// its first tick then only runs steps, and the image is the unprepared job's. Refused handles.
TEST(PluginConcurrency, PrepareBuildsThePlanBeforeTheFirstTick) {
  LogSink sink;
  tsr_context ctx = create_context(context_desc(&sink));
  tsr_model model = load_test_model(ctx);
  auto memory = [&] {
    tsr_memory_info m;
    std::memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    EXPECT_EQ(tsr_context_get_memory(ctx, &m), TSR_SUCCESS) << tsr_get_last_error();
    return m.device_bytes_in_use;
  };
  tsr_job plain = submit(ctx, generate_desc(model, 9, 3));
  std::vector<uint8_t> expected = run_to_end(ctx, plain, 16, 16);
  const uint64_t before = memory();
  tsr_job job = submit(ctx, generate_desc(model, 9, 3));
  ASSERT_EQ(tsr_job_prepare(job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_GT(memory(), before) << "no plan was built";
  EXPECT_EQ(job_status(job), TSR_JOB_QUEUED);
  EXPECT_EQ(tsr_job_prepare(job), TSR_SUCCESS) << "a second prepare is a no-op";
  EXPECT_EQ(run_to_end(ctx, job, 16, 16), expected);
  EXPECT_EQ(tsr_job_prepare(job), TSR_SUCCESS) << "a finished job is left as it is";
  EXPECT_EQ(tsr_job_prepare(tsr_job{0}), TSR_ERROR_INVALID_HANDLE);
  EXPECT_EQ(tsr_tick_async(ctx, 0, nullptr), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "tsr_tick_async: budget_ms")) << tsr_get_last_error();
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
  EXPECT_EQ(tsr_tick_async(ctx, 1, nullptr), TSR_ERROR_INVALID_HANDLE);
  sink.expect_no_validation_messages();
}

// The C example's two frame loops (the measurement docs/plugin.md quotes): the same image, the
// async loop's ticks leaving steps running, and the tick cost line.
TEST(PluginConcurrency, CExampleRunsBlockingAndAsyncTicksToTheSameImage) {
  const fs::path dir = plugin_model_path().parent_path();
  std::vector<uint8_t> images[2];
  const char* modes[2] = {"blocking", "async"};
  for (int i = 0; i < 2; ++i) {
    const fs::path out = dir / (std::string("host_c_") + modes[i] + ".png");
    CommandResult r = run_command(std::string(TESSERA_BINARY_DIR) + "/tessera_host_c " + plugin_model_path().string() +
                                  " " + out.string() + " wood 5 6 " + modes[i]);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "progress 6/6")) << r.output;
    EXPECT_TRUE(contains(r.output, "tsr_job_prepare: ")) << r.output;
    EXPECT_TRUE(contains(r.output, std::string(modes[i]) + " ticks: ")) << r.output;
    EXPECT_TRUE(contains(r.output, "calling thread per tick: CPU mean")) << r.output;
    if (i == 1) {
      EXPECT_TRUE(contains(r.output, "frame 0: 0 step(s)")) << "the first async tick collects nothing\n" << r.output;
      EXPECT_TRUE(contains(r.output, " 1 running")) << r.output;
    }
    std::ifstream f(out, std::ios::binary);
    images[i].assign(std::istreambuf_iterator<char>(f), {});
    EXPECT_FALSE(images[i].empty());
  }
  EXPECT_EQ(images[0], images[1]) << "the async loop wrote another PNG";
}

}  // namespace
}  // namespace tessera::testing
