// A material model's maps through the C API (SPEC §12, tessera.h tsr_map): the model reports
// them, a job's result is read per map as pixels and as a VkImage per map, and the normals pass
// is one more unit of the job's GPU work within the tick machinery.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <set>
#include <thread>

#include "plugin/host_device.hpp"
#include "tessera/context.hpp"
#include "tessera/derived_normals.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"
#include "tessera/sampler.hpp"

namespace tessera::testing {
namespace {

constexpr uint32_t kSize = 16, kSteps = 3;
constexpr tsr_map kAllMaps[] = {TSR_MAP_ALBEDO, TSR_MAP_HEIGHT, TSR_MAP_ROUGHNESS, TSR_MAP_NORMAL};

// kPluginModelConfig with albedo, height and roughness: 5 channels.
const fs::path& material_model_path() {
  static fs::path path = [] {
    ModelInfo info;
    info.config = UNetConfig::from_json(
        R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
            "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 16,
            "maps": ["albedo", "height", "roughness"]})");
    info.classes = {"stone", "wood"};
    fs::path p = plugin_model_path().parent_path() / "material.safetensors";
    write_random_model(p, info, 11);
    return p;
  }();
  return path;
}

tsr_model load_model_file(tsr_context ctx, const fs::path& path) {
  tsr_model_desc d = model_file_desc(path.c_str());
  tsr_model m{0};
  EXPECT_EQ(tsr_model_load(ctx, &d, &m), TSR_SUCCESS) << tsr_get_last_error();
  return m;
}

std::vector<uint8_t> read_map(tsr_job job, tsr_map map) {
  std::vector<uint8_t> pixels(size_t(kSize) * kSize * 4);
  EXPECT_EQ(tsr_job_read_map(job, map, pixels.data(), pixels.size(), 0), TSR_SUCCESS) << tsr_get_last_error();
  return pixels;
}

class PluginMaps : public ::testing::Test {
 protected:
  void SetUp() override {
    tsr_context_desc d = context_desc(&sink_);
    ctx_ = create_context(d);
    material_ = load_model_file(ctx_, material_model_path());
    rgb_ = load_test_model(ctx_);
  }
  void TearDown() override {
    EXPECT_EQ(tsr_context_destroy(ctx_), TSR_SUCCESS) << tsr_get_last_error();
    sink_.expect_no_validation_messages();
  }
  LogSink sink_;
  tsr_context ctx_{0};
  tsr_model material_{0}, rgb_{0};
};

TEST_F(PluginMaps, TheModelReportsItsMapsAndAnOlderInfoStructStillWorks) {
  tsr_model_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ASSERT_EQ(tsr_model_get_info(material_, &info), TSR_SUCCESS);
  EXPECT_EQ(info.map_mask, 0xfu) << "albedo, height, roughness and the normals derived from height";
  ASSERT_EQ(tsr_model_get_info(rgb_, &info), TSR_SUCCESS);
  EXPECT_EQ(info.map_mask, 1u << TSR_MAP_ALBEDO);
  // A 1.2 host's struct ends before map_mask: filled up to there, nothing written after it.
  tsr_model_info old;
  std::memset(&old, 0xab, sizeof old);
  old.struct_size = uint32_t(offsetof(tsr_model_info, map_mask));
  ASSERT_EQ(tsr_model_get_info(material_, &old), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(old.struct_size, offsetof(tsr_model_info, map_mask));
  EXPECT_EQ(old.train_resolution, 16u);
  EXPECT_GT(old.parameter_count, 0u);
  EXPECT_EQ(old.map_mask, 0xababababu);
}

TEST_F(PluginMaps, EveryMapIsReadableAndEqualsTheRuntimesMaps) {
  tsr_generate_desc g = generate_desc(material_, 5, kSteps);
  g.normal_strength = 6.0f;
  tsr_job job = submit(ctx_, g);
  std::vector<uint8_t> albedo = run_to_end(ctx_, job, kSize, kSize);  // tsr_job_read_pixels
  ASSERT_EQ(job_status(job), TSR_JOB_DONE);
  EXPECT_EQ(read_map(job, TSR_MAP_ALBEDO), albedo) << "read_pixels is the albedo map";

  // The same generation through the runtime: sampler, then DerivedNormals on its image.
  auto ctx = Context::create();
  LoadedModel model = load_model(*ctx, material_model_path());
  const std::vector<MapKind>& kinds = model.info.config.maps;
  SamplerOptions o;
  o.steps = kSteps;
  Sampler sampler(*ctx, model.info.config, *model.params, 1, kSize, kSize, o);
  const uint64_t seed = 5;
  const uint32_t label = 0;
  const std::vector<float> planes = sampler.sample({std::span(&seed, 1), std::span(&label, 1), {}, {}});
  DerivedNormals normals(*ctx, sampler.image_tensor(), kinds, NormalOptions{6.0f});
  normals.run();
  const std::vector<float> rgb = maps_side_by_side(planes, 1, kSize, kSize, kinds);  // grey maps as R = G = B
  const size_t per_map = size_t(3) * kSize * kSize;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const tsr_map map = tsr_map(kinds[i]);
    std::vector<uint8_t> got = read_map(job, map);
    EXPECT_EQ(got, planes_to_rgba8(std::span(rgb).subspan(i * per_map, per_map), kSize, kSize))
        << map_spec(kinds[i]).name;
    if (map == TSR_MAP_ALBEDO) continue;
    std::set<uint8_t> levels;
    for (size_t p = 0; p < got.size(); p += 4) {
      ASSERT_TRUE(got[p] == got[p + 1] && got[p] == got[p + 2]) << map_spec(kinds[i]).name << " is not grey";
      ASSERT_EQ(got[p + 3], 255);
      levels.insert(got[p]);
    }
    EXPECT_GT(levels.size(), 4u) << map_spec(kinds[i]).name << " is nearly constant";
  }
  const std::vector<uint8_t> normal = read_map(job, TSR_MAP_NORMAL);
  EXPECT_EQ(normal, planes_to_rgba8(normals.download(), kSize, kSize)) << "the runtime's DerivedNormals, 8-bit";
  EXPECT_TRUE(ctx->validation_messages().empty());

  // A flat relief (strength ~0) is (128, 128, 255) everywhere; DirectX flips green only.
  g.normal_strength = 1e-30f;
  tsr_job flat = submit(ctx_, g);
  run_to_end(ctx_, flat, kSize, kSize);
  const std::vector<uint8_t> f = read_map(flat, TSR_MAP_NORMAL);
  for (size_t p = 0; p < f.size(); p += 4) ASSERT_TRUE(f[p] == 128 && f[p + 1] == 128 && f[p + 2] == 255) << p / 4;
  g.normal_strength = 6.0f;
  g.normal_flags = TSR_NORMAL_DIRECTX;
  tsr_job dx = submit(ctx_, g);
  run_to_end(ctx_, dx, kSize, kSize);
  const std::vector<uint8_t> d = read_map(dx, TSR_MAP_NORMAL);
  int flipped = 0;
  for (size_t p = 0; p < d.size(); p += 4) {
    EXPECT_EQ(d[p], normal[p]);
    EXPECT_EQ(d[p + 2], normal[p + 2]);
    EXPECT_LE(std::abs(int(d[p + 1]) - (255 - int(normal[p + 1]))), 1) << "green flipped at " << p / 4;
    flipped += d[p + 1] != normal[p + 1];
  }
  EXPECT_GT(flipped, 0);
  for (tsr_job j : {job, flat, dx}) EXPECT_EQ(tsr_job_destroy(j), TSR_SUCCESS);
}

TEST_F(PluginMaps, AMissingMapOrABadNormalOptionIsRefusedByName) {
  tsr_job rgb = submit(ctx_, generate_desc(rgb_, 1, 1));
  tsr_job mat = submit(ctx_, generate_desc(material_, 1, 2));
  std::vector<uint8_t> pixels(size_t(kSize) * kSize * 4);
  EXPECT_EQ(tsr_job_read_map(mat, TSR_MAP_NORMAL, pixels.data(), pixels.size(), 0), TSR_NOT_READY);
  tick(ctx_, 1e-3);
  EXPECT_EQ(tsr_job_read_map(mat, TSR_MAP_HEIGHT, pixels.data(), pixels.size(), 0), TSR_NOT_READY);
  run_to_end(ctx_, rgb, kSize, kSize);
  run_to_end(ctx_, mat, kSize, kSize);
  EXPECT_EQ(tsr_job_read_map(rgb, TSR_MAP_HEIGHT, pixels.data(), pixels.size(), 0), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "tsr_job_read_map: this model has no height map (its maps: albedo)"))
      << tsr_get_last_error();
  EXPECT_EQ(tsr_job_read_map(rgb, TSR_MAP_NORMAL, pixels.data(), pixels.size(), 0), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "no normal map (its maps: albedo; normals are derived from height)"))
      << tsr_get_last_error();
  EXPECT_EQ(tsr_job_read_map(mat, tsr_map(7), pixels.data(), pixels.size(), 0), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "map 7 is not a tsr_map")) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_read_map(mat, TSR_MAP_ROUGHNESS, pixels.data(), pixels.size() - 1, 0), TSR_ERROR_BUFFER_TOO_SMALL);
  EXPECT_EQ(tsr_job_read_pixels(rgb, pixels.data(), pixels.size(), 0), TSR_SUCCESS);

  struct Case {
    float strength;
    uint32_t flags;
    const char* message;
  };
  for (const Case& c :
       {Case{-1.0f, 0, "normal_strength -1 is outside [0, 1000]"}, Case{NAN, 0, "normal_strength nan is outside"},
        Case{2000.0f, 0, "normal_strength 2000"}, Case{INFINITY, 0, "normal_strength inf"},
        Case{0.0f, 2, "normal_flags 2 has bits other than TSR_NORMAL_DIRECTX"}}) {
    tsr_generate_desc g = generate_desc(material_, 1, 1);
    g.normal_strength = c.strength;
    g.normal_flags = c.flags;
    tsr_job j{0};
    EXPECT_EQ(tsr_generate_submit(ctx_, &g, &j), TSR_ERROR_INVALID_ARGUMENT) << c.message;
    EXPECT_TRUE(contains(tsr_get_last_error(), c.message)) << tsr_get_last_error();
  }
  // A 1.2 host's desc ends before the normal fields: the defaults, and the same maps.
  tsr_generate_desc old = generate_desc(material_, 1, 2);
  old.struct_size = uint32_t(offsetof(tsr_generate_desc, normal_strength));
  old.normal_strength = -1.0f;  // beyond the host's struct_size: never read
  tsr_job older = submit(ctx_, old);
  run_to_end(ctx_, older, kSize, kSize);
  EXPECT_EQ(read_map(older, TSR_MAP_NORMAL), read_map(mat, TSR_MAP_NORMAL));
  for (tsr_job j : {rgb, mat, older}) EXPECT_EQ(tsr_job_destroy(j), TSR_SUCCESS);
}

TEST_F(PluginMaps, TheNormalsPassIsAUnitOfTheTickBudgetInBlockingAndAsyncTicks) {
  const tsr_generate_desc g = generate_desc(material_, 9, kSteps);
  tsr_job blocking = submit(ctx_, g);
  // A budget below one step: one unit per tick, the steps, then the normals pass alone.
  for (uint32_t i = 1; i <= kSteps; ++i) {
    tsr_tick_stats s = tick(ctx_, 1e-3);
    ASSERT_EQ(s.steps_run, 1u);
    ASSERT_EQ(s.jobs_finished, 0u) << "the job finished before its normals pass";
  }
  uint32_t done = 0, total = 0;
  ASSERT_EQ(tsr_job_get_progress(blocking, &done, &total), TSR_SUCCESS);
  EXPECT_EQ(done, kSteps);
  EXPECT_EQ(total, kSteps) << "steps_total counts sampler steps only";
  EXPECT_EQ(job_status(blocking), TSR_JOB_RUNNING);
  tsr_tick_stats normals = tick(ctx_, 1e-3);
  EXPECT_EQ(normals.steps_run, 0u);
  EXPECT_EQ(normals.jobs_finished, 1u);
  EXPECT_GT(normals.gpu_ms, 0);
  ASSERT_EQ(job_status(blocking), TSR_JOB_DONE);

  // Async ticks with the same budget reach the same maps.
  tsr_job async = submit(ctx_, g);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);  // a hang detector
  int ticks = 0;
  while (job_status(async) != TSR_JOB_DONE && std::chrono::steady_clock::now() < deadline) {
    tsr_tick_stats s;
    std::memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    ASSERT_EQ(tsr_tick_async(ctx_, 1e-3, &s), TSR_SUCCESS) << tsr_get_last_error();
    ASSERT_LE(s.steps_submitted, 1u);
    ++ticks;
    std::this_thread::yield();
  }
  ASSERT_EQ(job_status(async), TSR_JOB_DONE);
  EXPECT_GT(ticks, int(kSteps) + 1) << "start, steps and normals pass in one async tick";
  for (tsr_map map : kAllMaps) EXPECT_EQ(read_map(async, map), read_map(blocking, map)) << map;
  for (tsr_job j : {blocking, async}) EXPECT_EQ(tsr_job_destroy(j), TSR_SUCCESS);
}

TEST(PluginMapImages, EveryMapIsAVkImageOfItsOwn) {
  HostDevice host;
  host.create();
  if (::testing::Test::HasFatalFailure()) return;
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  d.vulkan = host.vulkan_device(TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE);
  tsr_context ctx = create_context(d);
  tsr_model model = load_model_file(ctx, material_model_path());
  tsr_job job = submit(ctx, generate_desc(model, 4, 2));
  run_to_end(ctx, job, kSize, kSize);
  tsr_memory_info before;
  std::memset(&before, 0, sizeof before);
  before.struct_size = sizeof before;
  ASSERT_EQ(tsr_context_get_memory(ctx, &before), TSR_SUCCESS);
  std::set<VkImage> images;
  for (tsr_map map : kAllMaps) {
    tsr_vk_image image;
    ASSERT_EQ(tsr_job_get_map_vk_image(job, map, &image), TSR_SUCCESS) << tsr_get_last_error();
    EXPECT_EQ(image.format, VK_FORMAT_R8G8B8A8_UNORM);
    EXPECT_EQ(image.layout, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL);
    EXPECT_EQ(image.width, kSize);
    EXPECT_EQ(image.height, kSize);
    images.insert(image.image);
    EXPECT_EQ(host.read_image(image.image, image.layout, kSize, kSize, image.semaphore, image.wait_value),
              read_map(job, map))
        << map;
    tsr_vk_image again;
    ASSERT_EQ(tsr_job_get_map_vk_image(job, map, &again), TSR_SUCCESS);
    EXPECT_EQ(again.image, image.image) << "one image per map, made once";
  }
  EXPECT_EQ(images.size(), 4u);
  tsr_memory_info after = before;
  ASSERT_EQ(tsr_context_get_memory(ctx, &after), TSR_SUCCESS);
  EXPECT_GE(after.device_bytes_in_use, before.device_bytes_in_use + 4 * 2 * kSize * kSize * 4)
      << "each map's pixels and image count as the context's memory";
  tsr_vk_image albedo, albedo_map;
  ASSERT_EQ(tsr_job_get_vk_image(job, &albedo), TSR_SUCCESS);
  ASSERT_EQ(tsr_job_get_map_vk_image(job, TSR_MAP_ALBEDO, &albedo_map), TSR_SUCCESS);
  EXPECT_EQ(albedo.image, albedo_map.image);
  EXPECT_EQ(tsr_job_get_map_vk_image(job, tsr_map(42), &albedo), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "tsr_job_get_map_vk_image: map 42 is not a tsr_map"))
      << tsr_get_last_error();
  ASSERT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  ASSERT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(vkDeviceWaitIdle(host.device), VK_SUCCESS);
  sink.expect_no_validation_messages();
  for (const auto& m : host.take_messages()) ADD_FAILURE() << "Vulkan validation: " << m;
}

}  // namespace
}  // namespace tessera::testing
