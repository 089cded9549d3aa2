// The C API as a host uses it (through libtessera.so): misuse of every kind gets the right
// code and a clear message and never crashes; budgeted ticking splits a job over ticks and
// reproduces the one-shot image bit for bit; img2img, inpainting, previews, cancellation.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <thread>

#include "plugin/plugin_test.hpp"
#include "support/run_command.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/image_io.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"

namespace tessera::testing {
namespace {

// One context for the suite (a validation-enabled instance costs about a second).
class PluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tsr_context_desc d = context_desc(&sink_);
    ASSERT_EQ(tsr_context_create(&d, &ctx_), TSR_SUCCESS) << tsr_get_last_error();
    tsr_model_desc m = model_file_desc(plugin_model_path().c_str());
    ASSERT_EQ(tsr_model_load(ctx_, &m, &model_), TSR_SUCCESS) << tsr_get_last_error();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(tsr_context_destroy(ctx_), TSR_SUCCESS) << tsr_get_last_error();
    sink_.expect_no_validation_messages();
  }
  void TearDown() override { sink_.expect_no_validation_messages(); }

  // Expects `code`, and a last-error message naming the function and containing `part`.
  static void expect_error(tsr_result got, tsr_result code, const char* function, const std::string& part) {
    EXPECT_EQ(got, code) << tsr_result_name(got) << ": " << tsr_get_last_error();
    std::string message = tsr_get_last_error();
    EXPECT_TRUE(contains(message, function)) << message;
    EXPECT_TRUE(contains(message, part)) << "'" << message << "' lacks '" << part << "'";
  }

  static LogSink sink_;
  static tsr_context ctx_;
  static tsr_model model_;
};
LogSink PluginTest::sink_;
tsr_context PluginTest::ctx_;
tsr_model PluginTest::model_;

TEST(PluginHeader, CompilesAsPedanticC99AndAsCxx) {
  const std::string include = " -I" TESSERA_SOURCE_DIR "/plugin/include ";
  const std::string source = TESSERA_SOURCE_DIR "/tests/plugin/header_c99.c";
  for (const std::string flags :
       {"-std=c99 -Wall -Wextra -pedantic -Werror", "-x c++ -std=c++17 -Wall -Wextra -pedantic -Werror"}) {
    std::string cmd = std::string(TESSERA_C_COMPILER) + " " + flags + include + "-fsyntax-only " + source;
    CommandResult r = run_command(cmd);
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
  }
}

TEST(PluginApi, VersionAndResultNames) {
  EXPECT_EQ(tsr_get_version(), TSR_VERSION);
  EXPECT_EQ(TSR_VERSION_GET_MAJOR(tsr_get_version()), 1u);
  EXPECT_STREQ(tsr_result_name(TSR_ERROR_INVALID_HANDLE), "TSR_ERROR_INVALID_HANDLE");
  EXPECT_STREQ(tsr_result_name(static_cast<tsr_result>(1234)), "unknown tsr_result");
}

TEST_F(PluginTest, NullHandlesAndDescsAreRefused) {
  tsr_context c;
  expect_error(tsr_context_create(nullptr, &c), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_create", "NULL");
  EXPECT_EQ(c.id, 0u);
  tsr_context_desc d = context_desc(&sink_);
  expect_error(tsr_context_create(&d, nullptr), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_create", "out_context");
  d.struct_size = 0;
  expect_error(tsr_context_create(&d, &c), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_create", "struct_size");
  d = context_desc(&sink_);
  d.flags = 0x80;
  expect_error(tsr_context_create(&d, &c), TSR_ERROR_UNSUPPORTED, "tsr_context_create", "unknown bits 128");
  d = context_desc(&sink_);
  d.vulkan.device = reinterpret_cast<VkDevice>(uintptr_t(0x1234));  // half a host device
  expect_error(tsr_context_create(&d, &c), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_create", "together");

  const tsr_context null_ctx{0};
  const tsr_job null_job{0}, forged_job{(uint64_t(7) << 32) | 3};
  expect_error(tsr_tick(null_ctx, 4, nullptr), TSR_ERROR_INVALID_HANDLE, "tsr_tick", "invalid context handle");
  tsr_job_status status;
  expect_error(tsr_job_get_status(null_job, &status), TSR_ERROR_INVALID_HANDLE, "tsr_job_get_status", "job");
  expect_error(tsr_job_get_status(forged_job, &status), TSR_ERROR_INVALID_HANDLE, "tsr_job_get_status", "job");
  expect_error(tsr_job_cancel(null_job), TSR_ERROR_INVALID_HANDLE, "tsr_job_cancel", "job");
  expect_error(tsr_job_destroy(forged_job), TSR_ERROR_INVALID_HANDLE, "tsr_job_destroy", "job");
  expect_error(tsr_model_destroy(tsr_model{0}), TSR_ERROR_INVALID_HANDLE, "tsr_model_destroy", "model");
  tsr_job job;
  expect_error(tsr_generate_submit(ctx_, nullptr, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "NULL");
  tsr_generate_desc g = generate_desc(tsr_model{0}, 1, 2);
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_HANDLE, "tsr_generate_submit", "model");
  EXPECT_EQ(job.id, 0u);
  expect_error(tsr_tick(ctx_, 0, nullptr), TSR_ERROR_INVALID_ARGUMENT, "tsr_tick", "budget_ms");
  expect_error(tsr_tick(ctx_, NAN, nullptr), TSR_ERROR_INVALID_ARGUMENT, "tsr_tick", "budget_ms");
  tsr_model_info info{};
  expect_error(tsr_model_get_info(model_, &info), TSR_ERROR_INVALID_ARGUMENT, "tsr_model_get_info", "struct_size");
  // A successful call clears the thread's message.
  EXPECT_EQ(tsr_tick(ctx_, 4, nullptr), TSR_SUCCESS);
  EXPECT_STREQ(tsr_get_last_error(), "");
}

TEST_F(PluginTest, ModelInfoAndClasses) {
  tsr_model_info info{};
  info.struct_size = sizeof info;
  ASSERT_EQ(tsr_model_get_info(model_, &info), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(info.class_count, 2u);
  EXPECT_EQ(info.train_resolution, 16u);
  EXPECT_EQ(info.size_multiple, 2u);
  EXPECT_GT(info.parameter_count, 1000u);
  char name[8];
  ASSERT_EQ(tsr_model_get_class_name(model_, 1, name, sizeof name), TSR_SUCCESS);
  EXPECT_STREQ(name, "wood");
  char tiny[3];
  ASSERT_EQ(tsr_model_get_class_name(model_, 0, tiny, sizeof tiny), TSR_SUCCESS);
  EXPECT_STREQ(tiny, "st");  // truncated, still terminated
  expect_error(tsr_model_get_class_name(model_, 2, name, sizeof name), TSR_ERROR_UNKNOWN_CLASS,
               "tsr_model_get_class_name", "out of range");
  char device[256];
  ASSERT_EQ(tsr_context_get_device_name(ctx_, device, sizeof device), TSR_SUCCESS);
  EXPECT_GT(std::strlen(device), 0u);
}

// The runtime's resolve_class, for hosts that take a class as text (the viewer's --class).
TEST_F(PluginTest, FindClassTakesANameOrAnIndex) {
  uint32_t index = 99;
  ASSERT_EQ(tsr_model_find_class(model_, "wood", &index), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(index, 1u);
  ASSERT_EQ(tsr_model_find_class(model_, "0", &index), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(index, 0u);
  expect_error(tsr_model_find_class(model_, "lava", &index), TSR_ERROR_UNKNOWN_CLASS, "tsr_model_find_class",
               "unknown class 'lava'; this model's classes: 0 'stone', 1 'wood'");
  expect_error(tsr_model_find_class(model_, "2", &index), TSR_ERROR_UNKNOWN_CLASS, "tsr_model_find_class",
               "class 2 is out of range");
  expect_error(tsr_model_find_class(model_, nullptr, &index), TSR_ERROR_INVALID_ARGUMENT, "tsr_model_find_class",
               "NULL");
  expect_error(tsr_model_find_class(tsr_model{0}, "wood", &index), TSR_ERROR_INVALID_HANDLE, "tsr_model_find_class",
               "invalid model handle");
  // tsr_generate_desc.class_name follows the same rule.
  tsr_generate_desc g = generate_desc(model_, 1, 1);
  g.class_name = "1";
  tsr_job job = submit(ctx_, g);
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
}

TEST_F(PluginTest, BadGenerationRequestsGetTheirCodes) {
  tsr_job job;
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.class_name = "lava";
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_UNKNOWN_CLASS, "tsr_generate_submit",
               "unknown class 'lava'; this model's classes: 0 'stone', 1 'wood'");
  g.class_name = nullptr;
  g.class_index = 2;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_UNKNOWN_CLASS, "tsr_generate_submit",
               "class 2 is out of range; this model's classes: 0 'stone', 1 'wood'");
  g.class_index = 0;
  g.width = 15;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "tsr_generate_submit",
               "size 15x16 is not a multiple of 2");
  g.width = 16;
  g.sampler = static_cast<tsr_sampler>(9);
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "sampler 9");
  g.sampler = TSR_SAMPLER_DDIM;
  g.eta = 2;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "eta");
  g.eta = 0;
  g.guidance = -1;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "guidance");
  g.guidance = 0;
  uint8_t mask[16 * 16] = {};
  g.mask = mask;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "init_rgba");
  g.mask = nullptr;
  g.strength = 0.5f;
  expect_error(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit", "init_rgba");
  EXPECT_EQ(job.id, 0u);
}

TEST_F(PluginTest, DescriptorsOfOtherVersionsAreHandled) {
  tsr_job job;
  // An older header's shorter desc: the fields it lacks take their defaults.
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.struct_size = offsetof(tsr_generate_desc, init_rgba);
  job = submit(ctx_, g);
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  // A newer header's longer desc: accepted while its unknown fields are zero.
  struct {
    tsr_generate_desc known;
    uint64_t future_field;
  } newer{};
  newer.known = generate_desc(model_, 1, 2);
  newer.known.struct_size = sizeof newer;
  ASSERT_EQ(tsr_generate_submit(ctx_, &newer.known, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  newer.future_field = 1;
  expect_error(tsr_generate_submit(ctx_, &newer.known, &job), TSR_ERROR_UNSUPPORTED, "tsr_generate_submit", "older");
}

TEST_F(PluginTest, CorruptMissingAndMisusedModelFilesAreRefused) {
  tsr_model m;
  const fs::path dir = plugin_model_path().parent_path();
  std::ifstream in(plugin_model_path(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream out(dir / "truncated.safetensors", std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size() / 2));
  }
  const std::string truncated = (dir / "truncated.safetensors").string();
  tsr_model_desc d = model_file_desc(truncated.c_str());
  expect_error(tsr_model_load(ctx_, &d, &m), TSR_ERROR_INVALID_MODEL, "tsr_model_load", truncated);
  EXPECT_EQ(m.id, 0u);
  const std::string missing = (dir / "missing.safetensors").string();
  d = model_file_desc(missing.c_str());
  expect_error(tsr_model_load(ctx_, &d, &m), TSR_ERROR_IO, "tsr_model_load", missing + ": cannot open");
  const std::string garbage("\x10\0\0\0\0\0\0\0{\"a\": [1, 2, 3]}  ", 26);
  d = model_file_desc(nullptr);
  d.data = garbage.data();
  d.data_size = garbage.size();
  expect_error(tsr_model_load(ctx_, &d, &m), TSR_ERROR_INVALID_MODEL, "tsr_model_load", "<model in memory>");
  d.path = plugin_model_path().c_str();
  expect_error(tsr_model_load(ctx_, &d, &m), TSR_ERROR_INVALID_ARGUMENT, "tsr_model_load", "exactly one");
  // From memory, the whole file loads; destroying twice is refused the second time.
  d = model_file_desc(nullptr);
  d.data = bytes.data();
  d.data_size = bytes.size();
  ASSERT_EQ(tsr_model_load(ctx_, &d, &m), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_model_destroy(m), TSR_SUCCESS);
  expect_error(tsr_model_destroy(m), TSR_ERROR_INVALID_HANDLE, "tsr_model_destroy", "already destroyed");
}

TEST_F(PluginTest, DestroyedContextAndDoubleDestroyAreDetected) {
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  tsr_context c = create_context(d);
  tsr_model m = load_test_model(c);
  tsr_generate_desc g = generate_desc(m, 3, 3);
  tsr_job job = submit(c, g);
  tick(c, 1e-3);  // running: a sampler holds device memory when the context goes
  EXPECT_EQ(job_status(job), TSR_JOB_RUNNING);
  // A model of this context cannot be used in another one.
  tsr_generate_desc foreign = generate_desc(m, 3, 3);
  tsr_job other;
  expect_error(tsr_generate_submit(ctx_, &foreign, &other), TSR_ERROR_INVALID_HANDLE, "tsr_generate_submit",
               "another context");
  ASSERT_EQ(tsr_context_destroy(c), TSR_SUCCESS) << tsr_get_last_error();
  sink.expect_no_validation_messages();

  expect_error(tsr_tick(c, 4, nullptr), TSR_ERROR_INVALID_HANDLE, "tsr_tick", "already destroyed");
  expect_error(tsr_context_destroy(c), TSR_ERROR_INVALID_HANDLE, "tsr_context_destroy", "context");
  tsr_job_status status;
  expect_error(tsr_job_get_status(job, &status), TSR_ERROR_INVALID_HANDLE, "tsr_job_get_status", "job");
  expect_error(tsr_job_destroy(job), TSR_ERROR_INVALID_HANDLE, "tsr_job_destroy", "job");
  expect_error(tsr_model_destroy(m), TSR_ERROR_INVALID_HANDLE, "tsr_model_destroy", "model");
  expect_error(tsr_generate_submit(c, &g, &job), TSR_ERROR_INVALID_HANDLE, "tsr_generate_submit", "context");
}

TEST_F(PluginTest, ResultsBeforeTheEndCancellationAndSmallBuffers) {
  tsr_generate_desc g = generate_desc(model_, 5, 4);
  tsr_job a, b;
  a = submit(ctx_, g);
  b = submit(ctx_, g);
  std::vector<uint8_t> px(16 * 16 * 4);
  uint32_t done = 9, total = 0;
  ASSERT_EQ(tsr_job_get_progress(a, &done, &total), TSR_SUCCESS);
  EXPECT_EQ(done, 0u);
  EXPECT_EQ(total, 4u);  // known at submission
  expect_error(tsr_job_read_pixels(a, px.data(), px.size(), 0), TSR_NOT_READY, "tsr_job_read_pixels", "not finished");
  expect_error(tsr_job_read_preview(a, px.data(), px.size(), 0), TSR_NOT_READY, "tsr_job_read_preview", "no preview");
  tick(ctx_, 1e-3);  // one step of the oldest job only
  EXPECT_EQ(job_status(a), TSR_JOB_RUNNING);
  EXPECT_EQ(job_status(b), TSR_JOB_QUEUED);
  EXPECT_EQ(tsr_job_read_preview(a, px.data(), px.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_cancel(a), TSR_SUCCESS);
  EXPECT_EQ(job_status(a), TSR_JOB_CANCELLED);
  expect_error(tsr_job_read_pixels(a, px.data(), px.size(), 0), TSR_ERROR_JOB_CANCELLED, "tsr_job_read_pixels",
               "cancelled");
  std::vector<uint8_t> pixels = run_to_end(ctx_, b, 16, 16);
  EXPECT_EQ(job_status(b), TSR_JOB_DONE);
  EXPECT_EQ(job_status(a), TSR_JOB_CANCELLED);
  expect_error(tsr_job_read_pixels(b, px.data(), px.size() - 1, 0), TSR_ERROR_BUFFER_TOO_SMALL, "tsr_job_read_pixels",
               "needs 1024");
  expect_error(tsr_job_read_pixels(b, px.data(), px.size(), 8), TSR_ERROR_INVALID_ARGUMENT, "tsr_job_read_pixels",
               "row_pitch");
  // A padded row pitch places the same rows further apart.
  std::vector<uint8_t> padded(16 * 80);
  ASSERT_EQ(tsr_job_read_pixels(b, padded.data(), padded.size(), 80), TSR_SUCCESS);
  for (int y = 0; y < 16; ++y)
    EXPECT_EQ(0, std::memcmp(padded.data() + y * 80, pixels.data() + y * 64, 64)) << "row " << y;
  expect_error(tsr_job_get_vk_image(b, nullptr), TSR_ERROR_INVALID_ARGUMENT, "tsr_job_get_vk_image", "NULL");
  tsr_vk_image image;
  expect_error(tsr_job_get_vk_image(b, &image), TSR_ERROR_UNSUPPORTED, "tsr_job_get_vk_image", "host's device");
  EXPECT_EQ(tsr_job_destroy(a), TSR_SUCCESS);
  EXPECT_EQ(tsr_job_destroy(b), TSR_SUCCESS);
  expect_error(tsr_job_destroy(b), TSR_ERROR_INVALID_HANDLE, "tsr_job_destroy", "already destroyed");
}

// tsr_context_get_memory follows what the context holds: a model's weights, a running job's
// plan (freed when it finishes), a finished job's result; all of it goes with the handles.
TEST_F(PluginTest, MemoryInUseFollowsModelsAndJobs) {
  auto memory = [](tsr_context c) {
    tsr_memory_info m;
    std::memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    EXPECT_EQ(tsr_context_get_memory(c, &m), TSR_SUCCESS) << tsr_get_last_error();
    return m;
  };
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  tsr_context c = create_context(d);
  tsr_memory_info empty = memory(c);
  EXPECT_EQ(empty.struct_size, sizeof(tsr_memory_info));
  EXPECT_EQ(empty.device_bytes_in_use, 0u);
  EXPECT_GT(empty.device_local_heap_bytes, 0u);
  tsr_model m = load_test_model(c);
  const uint64_t weights = memory(c).device_bytes_in_use;
  EXPECT_GE(weights, sizeof(float) * 1000);  // the model has a few thousand parameters
  tsr_job job = submit(c, generate_desc(m, 3, 3));
  EXPECT_EQ(memory(c).device_bytes_in_use, weights);  // queued: no plan yet
  tick(c, 1e-3);
  const uint64_t running = memory(c).device_bytes_in_use;
  EXPECT_GT(running, weights);
  EXPECT_EQ(tsr_model_destroy(m), TSR_SUCCESS);  // the job keeps the weights alive
  EXPECT_EQ(memory(c).device_bytes_in_use, running);
  run_to_end(c, job, 16, 16);
  EXPECT_EQ(memory(c).device_bytes_in_use, weights);  // the plan is freed with the sampler
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  EXPECT_EQ(memory(c).device_bytes_in_use, 0u);

  // Errors: NULL, a short struct_size, a zero or destroyed handle.
  expect_error(tsr_context_get_memory(c, nullptr), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_get_memory", "NULL");
  tsr_memory_info bad{};
  expect_error(tsr_context_get_memory(c, &bad), TSR_ERROR_INVALID_ARGUMENT, "tsr_context_get_memory", "struct_size");
  // An older caller's shorter struct gets only the fields it knows.
  tsr_memory_info old_caller;
  std::memset(&old_caller, 0xab, sizeof old_caller);
  old_caller.struct_size = offsetof(tsr_memory_info, device_local_heap_bytes);
  ASSERT_EQ(tsr_context_get_memory(c, &old_caller), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(old_caller.device_bytes_in_use, 0u);
  EXPECT_EQ(old_caller.device_local_heap_bytes, 0xababababababababull);
  expect_error(tsr_context_get_memory(tsr_context{0}, &bad), TSR_ERROR_INVALID_HANDLE, "tsr_context_get_memory",
               "invalid context handle");
  ASSERT_EQ(tsr_context_destroy(c), TSR_SUCCESS) << tsr_get_last_error();
  tsr_memory_info after = memory(ctx_);  // another context is unaffected
  EXPECT_GT(after.device_local_heap_bytes, 0u);
  after.struct_size = sizeof after;
  expect_error(tsr_context_get_memory(c, &after), TSR_ERROR_INVALID_HANDLE, "tsr_context_get_memory",
               "already destroyed");
  sink.expect_no_validation_messages();
}

// img2img strength 0 is a real request (not a default): nothing is re-run and the result is
// the init image; strength outside [0, 1] is refused.
TEST_F(PluginTest, Img2ImgStrengthZeroReturnsTheInitImage) {
  std::vector<uint8_t> init(16 * 16 * 4);
  for (size_t i = 0; i < init.size(); ++i) init[i] = (i % 4 == 3) ? 255 : uint8_t((i * 53) % 241);
  tsr_generate_desc g = generate_desc(model_, 4, 10);
  g.init_rgba = init.data();
  g.init_rgba_size = init.size();
  g.strength = 0.0f;
  tsr_job job = submit(ctx_, g);
  uint32_t total = 99;
  ASSERT_EQ(tsr_job_get_progress(job, nullptr, &total), TSR_SUCCESS);
  EXPECT_EQ(total, 0u);
  tsr_tick_stats stats = tick(ctx_, 4);
  EXPECT_EQ(stats.steps_run, 0u);
  EXPECT_EQ(stats.jobs_finished, 1u);
  EXPECT_EQ(job_status(job), TSR_JOB_DONE);
  std::vector<uint8_t> got = run_to_end(ctx_, job, 16, 16);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], init[i], 1) << "byte " << i;  // [-1, 1] floats and back
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  for (float bad : {-0.25f, 1.5f, NAN}) {
    g.strength = bad;
    tsr_job refused;
    expect_error(tsr_generate_submit(ctx_, &g, &refused), TSR_ERROR_INVALID_ARGUMENT, "tsr_generate_submit",
                 "outside [0, 1]");
  }
}

// Generation-checked handles: a slot freed by destroy is reused by the next job, and the old
// handle still refers to nothing (it is not mistaken for the new job).
TEST_F(PluginTest, AStaleHandleNeverReachesTheJobReusingItsSlot) {
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  tsr_job old_job = submit(ctx_, g);
  ASSERT_EQ(tsr_job_destroy(old_job), TSR_SUCCESS);
  tsr_job new_job = submit(ctx_, g);
  EXPECT_EQ(new_job.id & 0xffffffffu, old_job.id & 0xffffffffu) << "the slot was not reused";
  EXPECT_NE(new_job.id, old_job.id);
  tsr_job_status st;
  EXPECT_EQ(tsr_job_get_status(old_job, &st), TSR_ERROR_INVALID_HANDLE);
  EXPECT_EQ(tsr_job_cancel(old_job), TSR_ERROR_INVALID_HANDLE);
  EXPECT_EQ(tsr_job_destroy(old_job), TSR_ERROR_INVALID_HANDLE);
  EXPECT_EQ(job_status(new_job), TSR_JOB_QUEUED) << "the stale handle's calls touched the new job";
  EXPECT_EQ(tsr_job_destroy(new_job), TSR_SUCCESS);
}

// A small budget spreads a job over several ticks, each tick's GPU time stays near the budget,
// and the image is bit-identical to the one-shot run - through the API and through the runtime.
TEST_F(PluginTest, BudgetedTicksSplitTheJobAndReproduceTheOneShotImage) {
  const uint32_t steps = 8;
  tsr_generate_desc g = generate_desc(model_, 42, steps);
  g.class_name = "wood";
  g.guidance = 2.0f;
  // A step's GPU time: the median over a job run one step per tick (a tiny budget).
  tsr_job stepwise = submit(ctx_, g);
  std::vector<double> step_times;
  while (job_status(stepwise) != TSR_JOB_DONE && step_times.size() < 100) {
    tsr_tick_stats s = tick(ctx_, 1e-3);
    ASSERT_EQ(s.steps_run, 1u) << "a budget below one step still runs exactly one";
    step_times.push_back(s.gpu_ms);
  }
  ASSERT_EQ(step_times.size(), steps);
  std::sort(step_times.begin(), step_times.end());
  const double step_ms = step_times[steps / 2];
  ASSERT_GT(step_ms, 0);
  // The whole job in one tick: the one-shot image.
  tsr_job one_shot = submit(ctx_, g);
  tsr_tick_stats all = tick(ctx_, 1e9);
  ASSERT_EQ(all.steps_run, steps);
  EXPECT_EQ(all.jobs_finished, 1u);
  ASSERT_EQ(job_status(one_shot), TSR_JOB_DONE);
  std::vector<uint8_t> expected(16 * 16 * 4), got(expected.size());
  ASSERT_EQ(tsr_job_read_pixels(one_shot, expected.data(), expected.size(), 0), TSR_SUCCESS);
  ASSERT_EQ(tsr_job_read_pixels(stepwise, got.data(), got.size(), 0), TSR_SUCCESS);
  EXPECT_EQ(got, expected) << "one step per tick changed the image";

  // A budget of about two and a half steps. lavapipe shares the CPU with whatever else runs,
  // so a step can take twice as long from one moment to the next: an attempt whose steps
  // drifted so far that no tick had room for two is repeated with the budget re-measured.
  double budget = 2.5 * step_ms;
  int ticks = 0, multi_step_ticks = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    tsr_job job = submit(ctx_, g);
    ticks = multi_step_ticks = 0;
    uint32_t steps_seen = 0;
    std::vector<double> per_step;
    std::vector<uint8_t> first_preview;
    std::string trace;  // steps:gpu_ms per tick, printed for the CI log
    while (job_status(job) != TSR_JOB_DONE && ticks < 100) {
      tsr_tick_stats s = tick(ctx_, budget);
      ++ticks;
      char entry[48];
      std::snprintf(entry, sizeof entry, " %u:%.2f", s.steps_run, s.gpu_ms);
      trace += entry;
      ASSERT_GE(s.steps_run, 1u);
      steps_seen += s.steps_run;
      multi_step_ticks += s.steps_run > 1;
      per_step.push_back(s.gpu_ms / s.steps_run);
      // Whole steps, each started only while the previous step's time still fitted: a tick
      // overruns its budget by less than one step.
      EXPECT_LE(s.gpu_ms - s.max_step_ms, budget) << "tick " << ticks << " ran " << s.steps_run << " steps";
      EXPECT_LE(s.max_step_ms, s.gpu_ms);
      EXPECT_GT(s.gpu_ms, 0);
      uint32_t done = 0;
      ASSERT_EQ(tsr_job_get_progress(job, &done, nullptr), TSR_SUCCESS);
      EXPECT_EQ(done, steps_seen);
      if (first_preview.empty() && job_status(job) == TSR_JOB_RUNNING) {
        first_preview.resize(expected.size());
        ASSERT_EQ(tsr_job_read_preview(job, first_preview.data(), first_preview.size(), 0), TSR_SUCCESS);
      }
    }
    std::printf("budget %.3f ms: ticks (steps:gpu ms)%s\n", budget, trace.c_str());
    EXPECT_EQ(steps_seen, steps);
    ASSERT_EQ(tsr_job_read_pixels(job, got.data(), got.size(), 0), TSR_SUCCESS);
    EXPECT_EQ(got, expected) << "budgeted ticking changed the image";
    EXPECT_NE(first_preview, expected) << "the first preview should still be rough";
    EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
    if (ticks >= 3 && multi_step_ticks >= 1) break;
    std::sort(per_step.begin(), per_step.end());
    budget = 2.5 * per_step[per_step.size() / 2];
  }
  EXPECT_GE(ticks, 3) << "a budget of 2.5 steps should need at least 3 ticks for 8 steps";
  EXPECT_GE(multi_step_ticks, 1) << "no tick used the room for a second step";

  // The same generation through the runtime directly (the CLI's path).
  auto ctx = Context::create();
  LoadedModel model = load_model(*ctx, plugin_model_path());
  SamplerOptions o;
  o.steps = steps;
  o.guidance = 2.0;
  Sampler sampler(*ctx, model.info.config, *model.params, 1, 16, 16, o);
  const uint64_t seed = 42;
  const uint32_t label = 1;
  auto planes = sampler.sample({std::span(&seed, 1), std::span(&label, 1), {}, {}});
  EXPECT_EQ(planes_to_rgba8(planes, 16, 16), expected) << "the plugin's image differs from the runtime's";
  EXPECT_TRUE(ctx->validation_messages().empty());
  for (tsr_job j : {stepwise, one_shot}) EXPECT_EQ(tsr_job_destroy(j), TSR_SUCCESS);
}

TEST_F(PluginTest, InpaintingKeepsMaskedPixelsAndImg2ImgRunsItsShareOfSteps) {
  std::vector<uint8_t> init(16 * 16 * 4), mask(16 * 16, 255);
  for (size_t i = 0; i < init.size(); ++i) init[i] = (i % 4 == 3) ? 255 : uint8_t((i * 37) % 251);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 8; ++x) mask[y * 16 + x] = 0;  // keep the left half
  tsr_generate_desc g = generate_desc(model_, 9, 4);
  g.init_rgba = init.data();
  g.init_rgba_size = init.size();
  g.mask = mask.data();
  g.mask_size = mask.size();
  tsr_job inpaint = submit(ctx_, g);
  std::fill(init.begin(), init.end(), 0);  // the job copied the host's buffers at submission
  std::vector<uint8_t> got = run_to_end(ctx_, inpaint, 16, 16);
  int changed = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) {
        size_t i = (size_t(y) * 16 + x) * 4 + c;
        uint8_t original = uint8_t((i * 37) % 251);
        if (x < 8)
          ASSERT_EQ(got[i], original) << "kept pixel " << x << "," << y;
        else
          changed += got[i] != original;
      }
  EXPECT_GT(changed, 100);

  g.mask = nullptr;
  g.mask_size = 0;
  g.init_rgba = init.data();
  g.steps = 8;
  g.strength = 0.5f;
  tsr_job img2img = submit(ctx_, g);
  uint32_t total = 0;
  ASSERT_EQ(tsr_job_get_progress(img2img, nullptr, &total), TSR_SUCCESS);
  EXPECT_EQ(total, 4u);
  run_to_end(ctx_, img2img, 16, 16);
  EXPECT_EQ(job_status(img2img), TSR_JOB_DONE);
  EXPECT_EQ(tsr_job_destroy(inpaint), TSR_SUCCESS);
  EXPECT_EQ(tsr_job_destroy(img2img), TSR_SUCCESS);
}

TEST_F(PluginTest, ADestroyedModelStaysAliveForItsJobs) {
  tsr_model m = load_test_model(ctx_);
  tsr_generate_desc g = generate_desc(m, 11, 3);
  g.width = 8;
  g.height = 24;
  tsr_job job = submit(ctx_, g);
  ASSERT_EQ(tsr_model_destroy(m), TSR_SUCCESS);
  tsr_job again;
  EXPECT_EQ(tsr_generate_submit(ctx_, &g, &again), TSR_ERROR_INVALID_HANDLE);
  run_to_end(ctx_, job, 8, 24);
  EXPECT_EQ(job_status(job), TSR_JOB_DONE);
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
}

// The header's threading rules: a render thread ticks while a game thread submits and polls,
// and destroying the context under a ticking thread turns its calls into INVALID_HANDLE.
TEST_F(PluginTest, ThreadsShareAContextAndDestroyItUnderATick) {
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  tsr_context c = create_context(d);
  tsr_model m = load_test_model(c);

  std::atomic<bool> stop{false};
  std::atomic<int> tick_errors{0};
  std::thread render([&] {
    while (!stop) {
      tsr_result r = tsr_tick(c, 2.0, nullptr);
      if (r == TSR_ERROR_INVALID_HANDLE) break;  // the context is gone
      if (r != TSR_SUCCESS) tick_errors++;
    }
  });
  std::vector<tsr_job> jobs(3);
  for (size_t i = 0; i < jobs.size(); ++i) {
    tsr_generate_desc g = generate_desc(m, 100 + i, 3);
    ASSERT_EQ(tsr_generate_submit(c, &g, &jobs[i]), TSR_SUCCESS) << tsr_get_last_error();
  }
  std::vector<uint8_t> px(16 * 16 * 4);
  for (int spins = 0; spins < 20000; ++spins) {
    int done = 0;
    for (tsr_job j : jobs) {
      tsr_job_status st = TSR_JOB_FAILED;
      ASSERT_EQ(tsr_job_get_status(j, &st), TSR_SUCCESS) << tsr_get_last_error();
      done += st == TSR_JOB_DONE;
      tsr_result r = tsr_job_read_preview(j, px.data(), px.size(), 0);
      EXPECT_TRUE(r == TSR_SUCCESS || r == TSR_NOT_READY) << tsr_get_last_error();
    }
    if (done == int(jobs.size())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (tsr_job j : jobs) EXPECT_EQ(job_status(j), TSR_JOB_DONE);
  // A job in flight while the context is destroyed from this thread.
  tsr_generate_desc g = generate_desc(m, 7, 50);
  tsr_job last;
  ASSERT_EQ(tsr_generate_submit(c, &g, &last), TSR_SUCCESS);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(tsr_context_destroy(c), TSR_SUCCESS) << tsr_get_last_error();
  render.join();
  EXPECT_EQ(tick_errors.load(), 0);
  tsr_job_status st;
  EXPECT_EQ(tsr_job_get_status(last, &st), TSR_ERROR_INVALID_HANDLE);
  sink.expect_no_validation_messages();
}

}  // namespace
}  // namespace tessera::testing
