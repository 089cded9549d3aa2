// An inference U-Net reuses one region for every block's own tensors and runs attention fused
// (no T x T probabilities); its output must be the training plan's forward output up to fp32
// rounding, in a fraction of the memory.
#include "support/vulkan_test.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

class UNetInferenceTest : public VulkanTest {};

TEST_F(UNetInferenceTest, SharedBlockMemoryAndFusedAttentionGiveTheTrainingForward) {
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
  // Not bit for bit: the fused attention sums keys in blocks with an online softmax (exp2 in
  // log2 units), the training forward's matmul + softmax in another order, so o differs by
  // rounding (~1e-6 relative) and the convs after it carry that on. Every other kernel is the
  // same in both plans. Normwise relative error (max |diff| / max |train|) <= 1e-5, ten times
  // under the SPEC's 1e-4 accuracy bound.
  expect_close_normwise(outputs[1], to_double(outputs[0]), 1e-5, "inference vs training forward");
  // Training keeps every activation and its gradient; inference keeps skips and block outputs.
  EXPECT_LT(infer.device_bytes() * 4, train.device_bytes()) << infer.device_bytes() << " vs " << train.device_bytes();
  // At 256x256 the attention level is 64x64 = 4096 tokens: one sample's probabilities for the
  // two heads are 2 * 4096^2 floats = 128 MiB. The whole inference plan must stay below that.
  UNet large(ctx(), c, params, 1, 256, 256, false);
  const VkDeviceSize probs_bytes = VkDeviceSize(2) * 4096 * 4096 * 4;
  EXPECT_LT(large.device_bytes(), probs_bytes) << large.device_bytes() << " B of activations";
}

}  // namespace
}  // namespace tessera::testing
