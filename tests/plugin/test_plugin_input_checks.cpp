// What the C API checks in a host's input before it can do harm: typed handles, descriptor
// sizes, the bytes behind host buffers, the host image a result is copied into, and a
// generation's size, shape and memory, all refused at the call with a bounded message naming
// the value, never read out of bounds or failing later.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "../plugin/src/handle_pool.hpp"
#include "plugin/plugin_test.hpp"
#include "support/run_command.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

// Expects `code` and a last-error text containing `part`; returns the text.
std::string expect_refused(tsr_result got, tsr_result code, const std::string& part) {
  std::string message = tsr_get_last_error();
  EXPECT_EQ(got, code) << tsr_result_name(got) << ": " << message;
  EXPECT_TRUE(contains(message, part)) << "'" << message << "' lacks '" << part << "'";
  return message;
}

class PluginInputChecks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tsr_context_desc d = context_desc(&sink_);
    ASSERT_EQ(tsr_context_create(&d, &ctx_), TSR_SUCCESS) << tsr_get_last_error();
    model_ = load_test_model(ctx_);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(tsr_context_destroy(ctx_), TSR_SUCCESS) << tsr_get_last_error();
    sink_.expect_no_validation_messages();
  }
  void TearDown() override { sink_.expect_no_validation_messages(); }

  static LogSink sink_;
  static tsr_context ctx_;
  static tsr_model model_;
};
LogSink PluginInputChecks::sink_;
tsr_context PluginInputChecks::ctx_;
tsr_model PluginInputChecks::model_;

// Item 3: the first context, model and job of a process all had id 0x100000001.
TEST(PluginHandles, PoolsOfDifferentTypesNeverShareAnId) {
  using plugin::HandlePool;
  using plugin::HandleType;
  HandlePool<int, HandleType::Context> contexts;
  HandlePool<int, HandleType::Job> jobs;
  const uint64_t c = contexts.insert(std::make_shared<int>(1));
  const uint64_t j = jobs.insert(std::make_shared<int>(2));
  EXPECT_NE(c, j);
  EXPECT_EQ(contexts.find(j), nullptr);
  EXPECT_EQ(jobs.find(c), nullptr);
  EXPECT_EQ(contexts.release(j), nullptr);
  EXPECT_NE(contexts.find(c), nullptr) << "a job's id released the context";
  EXPECT_STREQ(plugin::handle_type_name(c), "context");
  EXPECT_STREQ(plugin::handle_type_name(j), "job");
  EXPECT_EQ(plugin::handle_type_name(c & 0xffffffff00ffffffull), nullptr);
}

TEST_F(PluginInputChecks, AHandleOfAnotherTypeIsRefusedAndNamed) {
  LogSink sink;
  tsr_context_desc cd = context_desc(&sink);
  tsr_context c = create_context(cd);
  tsr_model m = load_test_model(c);
  tsr_job j = submit(c, generate_desc(m, 1, 2));
  EXPECT_NE(c.id, m.id);
  EXPECT_NE(c.id, j.id);
  EXPECT_NE(m.id, j.id);
  expect_refused(tsr_context_destroy(tsr_context{j.id}), TSR_ERROR_INVALID_HANDLE,
                 "invalid context handle: it is a job handle");
  expect_refused(tsr_context_destroy(tsr_context{m.id}), TSR_ERROR_INVALID_HANDLE,
                 "invalid context handle: it is a model handle");
  expect_refused(tsr_model_destroy(tsr_model{j.id}), TSR_ERROR_INVALID_HANDLE, "it is a job handle");
  expect_refused(tsr_job_destroy(tsr_job{c.id}), TSR_ERROR_INVALID_HANDLE, "it is a context handle");
  expect_refused(tsr_tick(tsr_context{m.id}, 4, nullptr), TSR_ERROR_INVALID_HANDLE, "it is a model handle");
  tsr_generate_desc g = generate_desc(tsr_model{j.id}, 1, 2);
  tsr_job refused;
  expect_refused(tsr_generate_submit(c, &g, &refused), TSR_ERROR_INVALID_HANDLE,
                 "invalid model handle: it is a job handle in tsr_generate_desc.model");
  // Everything is still alive.
  EXPECT_EQ(job_status(j), TSR_JOB_QUEUED);
  EXPECT_EQ(tsr_job_destroy(j), TSR_SUCCESS);
  EXPECT_EQ(tsr_model_destroy(m), TSR_SUCCESS);
  EXPECT_EQ(tsr_context_destroy(c), TSR_SUCCESS) << tsr_get_last_error();
  sink.expect_no_validation_messages();
}

// Item 4: a garbage struct_size sent read_desc through foreign memory. Here the struct sits
// at the start of a zeroed 64 KiB buffer, so the old reader returned SUCCESS where it now refuses.
TEST_F(PluginInputChecks, StructSizeAboveTheDocumentedMaximumIsRefused) {
  std::vector<std::byte> buffer(0x10000 + 64);
  auto* g = new (buffer.data()) tsr_generate_desc(generate_desc(model_, 1, 2));
  tsr_job job{0};
  g->struct_size = 0x10000;
  expect_refused(tsr_generate_submit(ctx_, g, &job), TSR_ERROR_INVALID_ARGUMENT,
                 "tsr_generate_desc.struct_size 65536 exceeds TSR_MAX_STRUCT_SIZE (1024)");
  EXPECT_EQ(job.id, 0u);
  // A newer host's struct up to the maximum, with a zero tail, is accepted; a set byte in it is not.
  g->struct_size = TSR_MAX_STRUCT_SIZE;
  ASSERT_EQ(tsr_generate_submit(ctx_, g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  buffer[TSR_MAX_STRUCT_SIZE - 1] = std::byte{1};
  expect_refused(tsr_generate_submit(ctx_, g, &job), TSR_ERROR_UNSUPPORTED, "older");
  buffer[TSR_MAX_STRUCT_SIZE] = std::byte{1};  // past struct_size: never read
  buffer[TSR_MAX_STRUCT_SIZE - 1] = std::byte{0};
  ASSERT_EQ(tsr_generate_submit(ctx_, g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);

  auto* md = new (buffer.data()) tsr_model_desc(model_file_desc(plugin_model_path().c_str()));
  md->struct_size = 0xffffffffu;
  tsr_model m;
  expect_refused(tsr_model_load(ctx_, md, &m), TSR_ERROR_INVALID_ARGUMENT, "tsr_model_desc.struct_size 4294967295");
  auto* cd = new (buffer.data()) tsr_context_desc(context_desc(&sink_));
  cd->struct_size = TSR_MAX_STRUCT_SIZE + 1;
  tsr_context c;
  expect_refused(tsr_context_create(cd, &c), TSR_ERROR_INVALID_ARGUMENT, "exceeds TSR_MAX_STRUCT_SIZE");
}

// Item 4: init_rgba and mask smaller than the job's size were read out of bounds.
TEST_F(PluginInputChecks, InitAndMaskBuffersMustHoldTheImage) {
  std::vector<uint8_t> init(16 * 16 * 4, 128), mask(16 * 16, 255);
  tsr_generate_desc g = generate_desc(model_, 3, 2);
  g.init_rgba = init.data();
  g.strength = 0.5f;
  tsr_job job{0};
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT,
                 "init_rgba_size is 0; set it to the bytes init_rgba needs 1024 bytes (16 rows 64 bytes apart)");
  // An 8x8 image for a 16x16 job.
  std::vector<uint8_t> small(8 * 8 * 4, 128);
  g.init_rgba = small.data();
  g.init_rgba_size = small.size();
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_BUFFER_TOO_SMALL,
                 "init_rgba_size is 256, but init_rgba needs 1024 bytes");
  // A padded pitch: the last row needs only width * 4 bytes.
  std::vector<uint8_t> padded(15 * 80 + 64, 128);
  g.init_rgba = padded.data();
  g.init_row_pitch = 80;
  g.init_rgba_size = padded.size() - 1;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_BUFFER_TOO_SMALL, "needs 1264 bytes");
  g.init_rgba_size = padded.size();
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);

  g = generate_desc(model_, 3, 2);
  g.init_rgba = init.data();
  g.init_rgba_size = init.size();
  g.mask = mask.data();
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "mask_size is 0");
  g.mask_size = 16 * 15;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_BUFFER_TOO_SMALL,
                 "mask_size is 240, but mask needs 256 bytes");
  g.mask_row_pitch = 8;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT,
                 "mask_row_pitch 8 is less than a row's 16 bytes");
  g.mask_row_pitch = 0;
  g.mask_size = mask.size();
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  g.mask = nullptr;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "mask_size is set but mask is NULL");

  // A host built against 1.1 has no size fields: its buffers are trusted as before.
  g = generate_desc(model_, 3, 2);
  g.struct_size = offsetof(tsr_generate_desc, init_rgba_size);
  g.init_rgba = init.data();
  g.mask = mask.data();
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  std::vector<uint8_t> pixels = run_to_end(ctx_, job, 16, 16);
  EXPECT_EQ(job_status(job), TSR_JOB_DONE);
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
}

// Item 7: limits, the training-size default, the shape rule and the memory estimate, all at submit.
TEST_F(PluginInputChecks, SizeStepsGuidanceAndShapeAreCheckedAtSubmit) {
  tsr_job job{0};
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.width = 0xffffffffu;
  g.height = 16;
  std::string message = expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE,
                                       "size 4294967295x16 is outside 1..8192 per side");
  EXPECT_FALSE(contains(message, "-1")) << message;
  g.width = TSR_MAX_IMAGE_SIZE + 2;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "size 8194x16 is outside");
  g.width = 16;
  g.steps = TSR_MAX_STEPS + 1;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT,
                 "steps 1001 is outside [1, 1000]");  // the runtime's rule (GenerationRequest)
  g.steps = 2;
  g.guidance = TSR_MAX_GUIDANCE * 1.01f;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "guidance 101 is outside [0, 100]");
  g.guidance = TSR_MAX_GUIDANCE;
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);

  // 0 = the training resolution (16 for the test model), per side.
  g = generate_desc(model_, 1, 2);
  g.height = 8;
  job = submit(ctx_, g);
  run_to_end(ctx_, job, 16, 8);  // reads a 16x8 image
  std::vector<uint8_t> pixels(16 * 8 * 4);
  expect_refused(tsr_job_read_pixels(job, pixels.data(), pixels.size() - 1, 0), TSR_ERROR_BUFFER_TOO_SMALL,
                 "a 16x8 RGBA8 image needs 512");
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
}

// Issue 13: the CLI, the C API and the runtime each checked a request with their own bounds
// (guidance (0, 100] here, [0, 100] there). Now the runtime's GenerationRequest::validate is the
// one rule: the same values are accepted or refused, with the same words, by all three (and the
// viewer, ViewerTest.BadStartsAreReportedClearly).
TEST_F(PluginInputChecks, OneRuleForEveryFrontEnd) {
  const ModelInfo info = read_model_info(plugin_model_path());
  const fs::path out = plugin_model_path().parent_path() / "rule.png";
  struct Case {
    const char* option;  // CLI option, SamplerOptions and tsr_generate_desc field
    double value;
    const char* refusal;  // "" = accepted
  };
  const Case cases[] = {
      {"guidance", -1, "guidance -1 is outside [0, 100]"},
      {"guidance", 0.5, ""},
      {"guidance", 100, ""},
      {"guidance", 100.5, "guidance 100.5 is outside [0, 100]"},
      {"eta", 1, ""},
      {"eta", 1.5, "eta 1.5 is outside [0, 1]"},
      {"steps", 1001, "steps 1001 is outside [1, 1000]"},
  };
  for (const Case& c : cases) {
    const std::string option = c.option;
    GenerationRequest r;
    r.width = r.height = 16;
    r.options.kind = SamplerKind::Ddim;
    r.options.steps = 1;
    tsr_generate_desc g = generate_desc(model_, 1, 1);
    g.sampler = TSR_SAMPLER_DDIM;
    if (option == "guidance") r.options.guidance = c.value, g.guidance = float(c.value);
    if (option == "eta") r.options.eta = c.value, g.eta = float(c.value);
    if (option == "steps") r.options.steps = int(c.value), g.steps = uint32_t(c.value);
    std::string runtime;
    try {
      r.validate(info);
    } catch (const Error& e) {
      runtime = e.what();
    }
    EXPECT_EQ(runtime, c.refusal);
    tsr_job job{0};
    const tsr_result api = tsr_generate_submit(ctx_, &g, &job);
    if (*c.refusal == '\0') {
      EXPECT_EQ(api, TSR_SUCCESS) << tsr_get_last_error();
      EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
    } else {
      expect_refused(api, TSR_ERROR_INVALID_ARGUMENT, std::string("tsr_generate_submit: ") + c.refusal);
    }
    char value[32];
    std::snprintf(value, sizeof value, "%g", c.value);
    CommandResult cli = run_tessera("sample --model " + plugin_model_path().string() + " --sampler ddim --" + option +
                                    " " + value + (option == "steps" ? "" : " --steps 1") + " --out " + out.string());
    if (*c.refusal == '\0') {
      EXPECT_EQ(cli.status, 0) << option << " " << value << ": " << cli.output;
    } else {
      EXPECT_EQ(cli.status, 1) << cli.output;
      EXPECT_TRUE(contains(cli.output, std::string("--") + c.refusal)) << cli.output;
    }
  }
}

// Item 7: one 4 ms tick of an 8192x8 job took 91 s. The work of a step follows its pixels and
// attention tokens, not its shape (8192x8 and 512x128 steps of the bundled model both cost 72
// GFLOP and took 49 and 56 s on lavapipe), so the bound is on the work of one step.
TEST_F(PluginInputChecks, AStepOfMoreWorkThanMaxStepGflopIsRefusedAtSubmit) {
  Context& rt = context();
  LoadedModel model = load_model(rt, plugin_model_path());
  SamplerOptions unguided;
  const double step = Sampler::cost(rt, model.info.config, *model.params, 1, 8, 512, unguided).forward_flops;
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.width = 512;
  g.height = 8;
  g.max_step_gflop = float(0.99 * step / 1e9);
  tsr_job job{0};
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "one step of a 512x8 job is ");
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "more than max_step_gflop");
  g.max_step_gflop = float(1.01 * step / 1e9);
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  // Guidance doubles the batch, and the work.
  g.guidance = 2;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "more than max_step_gflop");
  g.guidance = 0;
  // The same pixels in another shape are the same work.
  g.width = 64;
  g.height = 64;
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  g.max_step_gflop = -1;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_ARGUMENT, "max_step_gflop -1");
  // 0 is the default bound, INFINITY none; a 1.1 host (no field) has none.
  // (The test model's step is mostly its middle attention: under 50 GFLOP at 256x256, far over at 512x512.)
  g.max_step_gflop = 0;
  g.width = g.height = 512;
  expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_INVALID_SIZE, "more than max_step_gflop (50 GFLOP)");
  for (float bound : {INFINITY, 0.0f}) {
    g.max_step_gflop = bound;
    g.struct_size = bound == 0 ? offsetof(tsr_generate_desc, max_step_gflop) : sizeof g;
    ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
    EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  }
  g = generate_desc(model_, 1, 2);
  g.width = g.height = 256;
  ASSERT_EQ(tsr_generate_submit(ctx_, &g, &job), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
}

// Item 7: an 8192x8192 job was accepted and failed at its first tick.
TEST_F(PluginInputChecks, AJobThatCannotFitInDeviceMemoryIsRefusedAtSubmit) {
  tsr_memory_info before;
  std::memset(&before, 0, sizeof before);
  before.struct_size = sizeof before;
  ASSERT_EQ(tsr_context_get_memory(ctx_, &before), TSR_SUCCESS);
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.width = g.height = TSR_MAX_IMAGE_SIZE;
  tsr_job job{0};
  std::string message = expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_OUT_OF_MEMORY,
                                       "tsr_generate_submit: a 8192x8192 job needs ");
  EXPECT_TRUE(contains(message, " bytes")) << message;
  EXPECT_EQ(job.id, 0u);
  tsr_memory_info after = before;
  ASSERT_EQ(tsr_context_get_memory(ctx_, &after), TSR_SUCCESS);
  EXPECT_EQ(after.device_bytes_in_use, before.device_bytes_in_use) << "the refusal allocated device memory";
}

// The estimate behind that check is what a Sampler then allocates.
TEST(SamplerMemory, TheEstimateIsWhatTheSamplerAllocates) {
  Context& ctx = context();
  LoadedModel model = load_model(ctx, plugin_model_path());
  for (bool guided : {false, true}) {
    SamplerOptions o;
    o.steps = 2;
    o.guidance = guided ? 3.0 : 1.0;
    const PlanCost cost = Sampler::cost(ctx, model.info.config, *model.params, 1, 24, 40, o);
    Sampler s(ctx, model.info.config, *model.params, 1, 24, 40, o);
    const auto& unet = dynamic_cast<const UNet&>(s.denoiser());
    const VkDeviceSize allocated = unet.device_bytes() + s.image_tensor().arena()->capacity() + (1 << 16);
    EXPECT_NEAR(double(cost.total_bytes), double(allocated), 2 * Arena::kAlignment) << "guided " << guided;
    EXPECT_NEAR(double(cost.largest_allocation), double(unet.device_bytes()), Arena::kAlignment);
    EXPECT_EQ(cost.forward_flops, unet.forward_flops());
    EXPECT_GT(cost.largest_tensor, VkDeviceSize(sizeof(float)) * 8 * 24 * 40);  // at least one base-width activation
  }
  EXPECT_THROW(Sampler::cost(ctx, model.info.config, *model.params, 1, 16, 15, SamplerOptions{}), ShapeError);
}

// Item 5: a copy into a host image that cannot take it gave validation errors and lavapipe heap
// overflows, and returned SUCCESS. The suite's own Vulkan context plays the host here.
class PluginCopyTarget : public ::testing::Test {
 protected:
  void SetUp() override {
    Context& host = context();
    tsr_context_desc d = context_desc(&sink_);
    d.vulkan.instance = host.instance();
    d.vulkan.physical_device = host.physical_device();
    d.vulkan.device = host.device();
    d.vulkan.queue_family_index = host.queue_family();
    d.vulkan.features = host.info().timeline_semaphore ? TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE : 0;
    ctx_ = create_context(d);
    tsr_model m = load_test_model(ctx_);
    tsr_generate_desc g = generate_desc(m, 5, 2);
    g.width = 16;
    g.height = 8;
    job_ = submit(ctx_, g);
    run_to_end(ctx_, job_, 16, 8);
  }
  void TearDown() override {
    Context& host = context();
    EXPECT_EQ(tsr_context_destroy(ctx_), TSR_SUCCESS) << tsr_get_last_error();  // waits for its copies
    for (auto& [image, memory] : images_) {
      vkDestroyImage(host.device(), image, nullptr);
      vkFreeMemory(host.device(), memory, nullptr);
    }
    sink_.expect_no_validation_messages();
    for (const auto& m : host.validation_messages()) ADD_FAILURE() << "host device: " << m;
    host.clear_validation_messages();
  }

  // A host image, and a copy desc that describes it truthfully.
  tsr_vk_image_copy_desc make_image(uint32_t width, uint32_t height, uint32_t mips, uint32_t layers,
                                    VkImageUsageFlags usage) {
    Context& host = context();
    VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ici.imageType = VK_IMAGE_TYPE_2D;
    ici.format = VK_FORMAT_R8G8B8A8_UNORM;
    ici.extent = {width, height, 1};
    ici.mipLevels = mips;
    ici.arrayLayers = layers;
    ici.samples = VK_SAMPLE_COUNT_1_BIT;
    ici.usage = usage;
    VkImage image = VK_NULL_HANDLE;
    EXPECT_EQ(vkCreateImage(host.device(), &ici, nullptr, &image), VK_SUCCESS);
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(host.device(), image, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = host.find_memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    VkDeviceMemory memory = VK_NULL_HANDLE;
    EXPECT_EQ(vkAllocateMemory(host.device(), &mai, nullptr, &memory), VK_SUCCESS);
    EXPECT_EQ(vkBindImageMemory(host.device(), image, memory, 0), VK_SUCCESS);
    images_.push_back({image, memory});
    tsr_vk_image_copy_desc c;
    std::memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.image = image;
    c.format = VK_FORMAT_R8G8B8A8_UNORM;
    c.width = width;
    c.height = height;
    c.mip_levels = mips;
    c.array_layers = layers;
    c.usage = usage;
    return c;
  }
  std::string refused(const tsr_vk_image_copy_desc& c, const std::string& part) {
    return expect_refused(tsr_job_copy_to_vk_image(job_, &c, nullptr, nullptr), TSR_ERROR_INVALID_ARGUMENT, part);
  }
  void copies(const tsr_vk_image_copy_desc& c) {
    VkSemaphore sem = VK_NULL_HANDLE;
    uint64_t value = 0;
    EXPECT_EQ(tsr_job_copy_to_vk_image(job_, &c, &sem, &value), TSR_SUCCESS) << tsr_get_last_error();
  }

  LogSink sink_;
  tsr_context ctx_{0};
  tsr_job job_{0};
  std::vector<std::pair<VkImage, VkDeviceMemory>> images_;
};

constexpr VkImageUsageFlags kDstSampled = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;

TEST_F(PluginCopyTarget, ATargetThatCannotTakeTheResultIsRefused) {
  // The result is 16x8.
  refused(make_image(8, 8, 1, 1, kDstSampled),
          "the 16x8 result at (0, 0) does not fit in mip level 0 of the image (8x8)");
  tsr_vk_image_copy_desc c = make_image(32, 16, 1, 1, kDstSampled);
  c.x = 17;
  refused(c, "the 16x8 result at (17, 0) does not fit in mip level 0 of the image (32x16)");
  c.x = 16;
  c.y = 9;
  refused(c, "at (16, 9) does not fit");
  c.y = 0;
  c.mip_level = 1;
  refused(c, "mip_level 1 does not exist (the image has 1 mip levels)");
  c.mip_level = 0;
  c.array_layer = 1;
  refused(c, "array_layer 1 does not exist (the image has 1 layers)");
  c = make_image(32, 16, 1, 1, VK_IMAGE_USAGE_SAMPLED_BIT);
  refused(c, "usage lacks VK_IMAGE_USAGE_TRANSFER_DST_BIT");
  // The default new_layout (SHADER_READ_ONLY_OPTIMAL) needs SAMPLED: TRANSFER_DST alone was documented as enough.
  c = make_image(32, 16, 1, 1, VK_IMAGE_USAGE_TRANSFER_DST_BIT);
  refused(c,
          "layout SHADER_READ_ONLY_OPTIMAL needs usage SAMPLED (or INPUT_ATTACHMENT), which "
          "tsr_vk_image_copy_desc.usage lacks (new_layout 0 means this layout)");
  c.new_layout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  refused(c, "layout TRANSFER_SRC_OPTIMAL needs usage TRANSFER_SRC");
  c.new_layout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  copies(c);  // TRANSFER_DST alone is enough when the image stays in TRANSFER_DST_OPTIMAL
  c.old_layout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  c.new_layout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL;
  refused(c, "new_layout 3 is not a layout Tessera can copy into");
  c.new_layout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  c.width = c.height = 0;
  refused(c, "width and height are 0");
}

TEST_F(PluginCopyTarget, AFittingTargetIsCopiedIntoAtAnyMipAndLayer) {
  // Mip 1 of a 64x32 image is 32x16: the 16x8 result fits at (16, 8) exactly, in layer 2 of 3.
  tsr_vk_image_copy_desc c = make_image(64, 32, 3, 3, kDstSampled);
  c.mip_level = 1;
  c.array_layer = 2;
  c.x = 16;
  c.y = 8;
  copies(c);
  c.mip_level = 2;  // 16x8
  c.x = c.y = 0;
  copies(c);
  c.x = 1;
  refused(c, "does not fit in mip level 2 of the image (16x8)");
  // A host built against 1.1 (no image description) is trusted, as before.
  tsr_vk_image_copy_desc old = make_image(16, 8, 1, 1, kDstSampled);
  old.struct_size = offsetof(tsr_vk_image_copy_desc, width);
  old.width = old.height = 0;
  copies(old);
}

// Item 8: a directory as the model path was a 2^63-byte allocation (OUT_OF_MEMORY, or an
// ASan abort); a 1 MiB class name was echoed in full.
TEST_F(PluginInputChecks, ADirectoryAsModelAndAHugeClassNameGetClearBoundedErrors) {
  const std::string dir = plugin_model_path().parent_path().string();
  tsr_model_desc md = model_file_desc(dir.c_str());
  tsr_model m{0};
  // (The CLI reads through the same function: SafetensorsHostile.LoadReportsMissingAndUnreadableFiles.)
  expect_refused(tsr_model_load(ctx_, &md, &m), TSR_ERROR_IO, dir + ": is a directory");

  std::string huge(1 << 20, 'x');
  md = model_file_desc(huge.c_str());
  EXPECT_LT(expect_refused(tsr_model_load(ctx_, &md, &m), TSR_ERROR_IO, "is longer than any file path").size(), 400u);
  tsr_generate_desc g = generate_desc(model_, 1, 2);
  g.class_name = huge.c_str();
  tsr_job job{0};
  std::string message = expect_refused(tsr_generate_submit(ctx_, &g, &job), TSR_ERROR_UNKNOWN_CLASS,
                                       "...(1048576 bytes)'; this model's classes: 0 'stone', 1 'wood'");
  EXPECT_LT(message.size(), 400u);
}

}  // namespace
}  // namespace tessera::testing
