// An inference U-Net reuses one region for every block's own tensors; its output must be the
// training plan's forward output bit for bit, in a fraction of the memory.
#include "support/vulkan_test.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

class UNetInferenceTest : public VulkanTest {};

TEST_F(UNetInferenceTest, SharedBlockMemoryGivesTheTrainingForwardBitForBit) {
  UNetConfig c = UNetConfig::from_json(
      R"({"base_channels": 16, "channel_mult": [1, 2, 2], "num_res_blocks": 2, "attention_resolutions": [8],
          "num_heads": 2, "norm_groups": 4, "num_classes": 3, "padding": "circular", "train_resolution": 32})");
  ParameterSet params;
  UNet::declare_parameters(c, params);
  params.allocate(ctx(), true);
  uint64_t stream = 1;
  for (const auto& e : params.entries()) {
    std::vector<float> w(static_cast<size_t>(shape_numel(e.shape)));
    rng::fill_normal(w, 5, stream++);
    for (float& v : w) v *= 0.1f;
    params.upload(e.name, w);
  }
  UNet train(ctx(), c, params, 2, 32, 32, true), infer(ctx(), c, params, 2, 32, 32, false);
  std::vector<float> x(2 * 3 * 32 * 32);
  rng::fill_normal(x, 9, 1);
  std::vector<float> t{17.0f, 802.0f};
  std::vector<uint32_t> labels{1, 3};
  std::vector<std::vector<float>> outputs;
  for (UNet* net : {&train, &infer}) {
    upload_f32(net->input(), x);
    upload_f32(net->timesteps(), t);
    upload_u32(net->labels(), labels);
    CommandSequence seq(ctx());
    net->record_forward(seq);
    seq.run();
    outputs.push_back(download_f32(net->output()));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  // Training keeps every activation and its gradient; inference keeps skips and block outputs.
  EXPECT_LT(infer.activation_bytes() * 4, train.activation_bytes())
      << infer.activation_bytes() << " vs " << train.activation_bytes();
}

}  // namespace
}  // namespace tessera::testing
