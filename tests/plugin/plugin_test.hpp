// Support for the C API tests: a tiny random model on disk, desc builders, a log sink that
// fails the test on any Vulkan validation message, and a loop that ticks a job to completion.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "support/random_model.hpp"
#include "tessera.h"

namespace tessera::testing {

namespace fs = std::filesystem;

// Small enough for lavapipe: base 8, two levels (size multiple 2), 16 px.
inline const char* kPluginModelConfig =
    R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
        "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 16})";

// The folder (model, files the tests write) is removed when the test process exits.
inline const fs::path& plugin_model_path() {
  struct Folder {
    fs::path dir = fs::temp_directory_path() / ("tessera-plugin-" + std::to_string(::getpid()));
    ~Folder() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  };
  static Folder folder;
  static fs::path path = [] {
    const fs::path& dir = folder.dir;
    fs::create_directories(dir);
    ModelInfo info;
    info.config = UNetConfig::from_json(kPluginModelConfig);
    info.classes = {"stone", "wood"};
    write_random_model(dir / "model.safetensors", info, 7);
    return dir / "model.safetensors";
  }();
  return path;
}

// Collects the context's log; validation messages (logged as errors) fail the test.
struct LogSink {
  std::mutex mutex;
  std::vector<std::string> errors;
  static void callback(void* user, tsr_log_level level, const char* message) {
    auto* self = static_cast<LogSink*>(user);
    if (level != TSR_LOG_ERROR) return;
    std::lock_guard<std::mutex> lock(self->mutex);
    self->errors.push_back(message);
  }
  void expect_no_validation_messages() {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& e : errors)
      if (e.find("vulkan validation") != std::string::npos) ADD_FAILURE() << e;
    errors.clear();
  }
};

inline tsr_context_desc context_desc(LogSink* sink) {
  tsr_context_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.log = LogSink::callback;
  d.log_user_data = sink;
  return d;
}

inline tsr_model_desc model_file_desc(const char* path) {
  tsr_model_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.path = path;
  return d;
}

inline tsr_generate_desc generate_desc(tsr_model model, uint64_t seed, uint32_t steps) {
  tsr_generate_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.model = model;
  d.seed = seed;
  d.steps = steps;
  return d;
}

// Creation helpers: a failure is reported and a zero handle returned (the API refuses it cleanly).
inline tsr_context create_context(const tsr_context_desc& desc) {
  tsr_context c{0};
  EXPECT_EQ(tsr_context_create(&desc, &c), TSR_SUCCESS) << tsr_get_last_error();
  return c;
}

inline tsr_model load_test_model(tsr_context ctx) {
  tsr_model_desc d = model_file_desc(plugin_model_path().c_str());
  tsr_model m{0};
  EXPECT_EQ(tsr_model_load(ctx, &d, &m), TSR_SUCCESS) << tsr_get_last_error();
  return m;
}

inline tsr_job submit(tsr_context ctx, const tsr_generate_desc& desc) {
  tsr_job j{0};
  EXPECT_EQ(tsr_generate_submit(ctx, &desc, &j), TSR_SUCCESS) << tsr_get_last_error();
  return j;
}

inline tsr_tick_stats tick(tsr_context ctx, double budget_ms) {
  tsr_tick_stats s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  EXPECT_EQ(tsr_tick(ctx, budget_ms, &s), TSR_SUCCESS) << tsr_get_last_error();
  return s;
}

inline tsr_job_status job_status(tsr_job job) {
  tsr_job_status s = TSR_JOB_FAILED;
  EXPECT_EQ(tsr_job_get_status(job, &s), TSR_SUCCESS) << tsr_get_last_error();
  return s;
}

// Ticks until the job is no longer queued or running (bounded), then returns its pixels.
inline std::vector<uint8_t> run_to_end(tsr_context ctx, tsr_job job, uint32_t width, uint32_t height,
                                       double budget_ms = 1e9) {
  for (int i = 0; i < 1000 && (job_status(job) == TSR_JOB_QUEUED || job_status(job) == TSR_JOB_RUNNING); ++i)
    tick(ctx, budget_ms);
  std::vector<uint8_t> pixels(size_t(width) * height * 4);
  EXPECT_EQ(tsr_job_read_pixels(job, pixels.data(), pixels.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
  return pixels;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The header's structs and their C sizes, which a binding's declarations must match.
inline std::vector<std::pair<std::string, size_t>> header_struct_sizes() {
  return {{"tsr_context_desc", sizeof(tsr_context_desc)},   {"tsr_vulkan_device", sizeof(tsr_vulkan_device)},
          {"tsr_model_desc", sizeof(tsr_model_desc)},       {"tsr_model_info", sizeof(tsr_model_info)},
          {"tsr_generate_desc", sizeof(tsr_generate_desc)}, {"tsr_tick_stats", sizeof(tsr_tick_stats)},
          {"tsr_vk_image", sizeof(tsr_vk_image)},           {"tsr_vk_image_copy_desc", sizeof(tsr_vk_image_copy_desc)},
          {"tsr_memory_info", sizeof(tsr_memory_info)}};
}

}  // namespace tessera::testing
