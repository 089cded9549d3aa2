// The one rule of a generation request (GenerationRequest::validate, SamplerOptions::validate)
// and the one class lookup (resolve_class), without a device. The front ends that follow them
// are tested in tests/plugin/test_plugin_input_checks.cpp (C API and CLI) and tests/viewer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tessera/error.hpp"
#include "tessera/sampler.hpp"

namespace tessera::testing {
namespace {

ModelInfo model(int classes, int timesteps = 1000) {
  ModelInfo info;
  info.config = UNetConfig::from_json(R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1,
      "attention_resolutions": [], "num_heads": 2, "norm_groups": 4, "train_resolution": 16})");
  info.config.num_classes = classes;
  info.config.timesteps = timesteps;
  for (int i = 0; i < classes; ++i) info.classes.push_back("class" + std::to_string(i));
  return info;
}

GenerationRequest request() {
  GenerationRequest r;
  r.width = r.height = 16;
  return r;
}

// The message of what validate throws ("" when it accepts).
std::string refusal(const GenerationRequest& r, const ModelInfo& info = model(2)) {
  try {
    r.validate(info);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(GenerationRequest, EachValueIsCheckedByOneRuleNamingTheField) {
  struct Case {
    void (*set)(SamplerOptions&);
    const char* message;  // "" = accepted
  };
  const Case cases[] = {
      {[](SamplerOptions& o) { o.steps = 1; }, ""},
      {[](SamplerOptions& o) { o.steps = 1000; }, ""},
      {[](SamplerOptions& o) { o.steps = 0; }, "steps 0 is outside [1, 1000]"},
      {[](SamplerOptions& o) { o.steps = 1001; }, "steps 1001 is outside [1, 1000]"},
      {[](SamplerOptions& o) { o.guidance = 0; }, ""},  // the null prediction alone
      {[](SamplerOptions& o) { o.guidance = kMaxGuidance; }, ""},
      {[](SamplerOptions& o) { o.guidance = -0.5; }, "guidance -0.5 is outside [0, 100]"},
      {[](SamplerOptions& o) { o.guidance = 100.5; }, "guidance 100.5 is outside [0, 100]"},
      {[](SamplerOptions& o) { o.guidance = NAN; }, "guidance nan is outside [0, 100]"},
      {[](SamplerOptions& o) { o.kind = SamplerKind::Ddim, o.eta = 1; }, ""},
      {[](SamplerOptions& o) { o.kind = SamplerKind::Ddim, o.eta = 1.5; }, "eta 1.5 is outside [0, 1]"},
      {[](SamplerOptions& o) { o.eta = 0.5; }, "eta applies to the ddim sampler only"},
      {[](SamplerOptions& o) { o.init_image = true, o.strength = 0; }, ""},
      {[](SamplerOptions& o) { o.init_image = true, o.strength = -0.1; }, "strength -0.1 is outside [0, 1]"},
      {[](SamplerOptions& o) { o.strength = 0.5; }, "strength applies to img2img only"},
  };
  for (const Case& c : cases) {
    GenerationRequest r = request();
    c.set(r.options);
    const std::string got = refusal(r);
    if (*c.message == '\0')
      EXPECT_EQ(got, "") << "refused";
    else
      EXPECT_EQ(got.rfind(c.message, 0), 0u) << "'" << got << "' does not start with '" << c.message << "'";
  }
}

TEST(GenerationRequest, TheNormalStrengthIsFiniteAndBounded) {
  for (float ok : {0.0f, 3.0f, kMaxNormalStrength}) {
    GenerationRequest r = request();
    r.normals.strength = ok;
    EXPECT_EQ(refusal(r), "") << ok;
  }
  for (float bad : {-1.0f, kMaxNormalStrength * 1.5f, NAN, INFINITY}) {
    GenerationRequest r = request();
    r.normals.strength = bad;
    EXPECT_EQ(refusal(r).rfind("normal_strength ", 0), 0u) << refusal(r);
  }
}

TEST(GenerationRequest, ModelDependentRules) {
  GenerationRequest r = request();
  r.options.steps = 60;
  EXPECT_EQ(refusal(r, model(2, 50)), "steps 60 is outside [1, 50]");  // no more steps than timesteps
  r = request();
  r.options.guidance = 3;
  EXPECT_EQ(refusal(r), "");
  EXPECT_EQ(refusal(r, model(0)).rfind("guidance needs a class-conditional model", 0), 0u);
  r = request();
  r.width = 15;
  EXPECT_THROW(r.validate(model(2)), ShapeError);
  EXPECT_EQ(refusal(r).rfind("size 15x16 is not a multiple of 2", 0), 0u);
  r = request();
  r.label = 2;
  EXPECT_EQ(refusal(r), "class 2 is out of range; this model's classes: 0 'class0', 1 'class1'");
  EXPECT_EQ(refusal(r, model(0)), "the model is unconditional (it has no classes)");
  r.label = 0;
  EXPECT_EQ(refusal(r, model(0)), "");  // an unconditional model's one label
  // The Sampler runs the same rule.
  SamplerOptions o;
  o.guidance = 100.5;
  EXPECT_THROW(o.validate(model(2).config), Error);
}

TEST(ResolveClass, ByNameThenIndexWithTheClassesListedOnFailure) {
  ModelInfo info = model(3);
  info.classes = {"stone", "1", "wood"};
  EXPECT_EQ(resolve_class(info, "wood"), 2u);
  EXPECT_EQ(resolve_class(info, "2"), 2u);
  EXPECT_EQ(resolve_class(info, "1"), 1u);  // the class named "1" (index 1 here too)
  info.classes = {"stone", "0", "wood"};
  EXPECT_EQ(resolve_class(info, "0"), 1u) << "a name wins over an index";
  EXPECT_EQ(resolve_class(info, 0u), 0u);
  for (const char* bad : {"lava", "3", "-1", "", "1x", "4294967296"}) try {
      resolve_class(info, bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find("; this model's classes: 0 'stone', 1 '0', 2 'wood'") != std::string::npos,
                true)
          << e.what();
    }
  EXPECT_THROW(resolve_class(info, 3u), Error);
  // Bounded: a model of many long names lists 16 of them.
  ModelInfo many = model(1000);
  for (auto& name : many.classes) name = std::string(200, 'n');
  try {
    resolve_class(many, std::string(5000, 'q'));
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_LT(message.size(), 2500u);
    EXPECT_NE(message.find("(5000 bytes)"), std::string::npos);
    EXPECT_NE(message.find(", ... (1000 classes)"), std::string::npos);
  }
  EXPECT_EQ(resolve_class(model(0), "0"), 0u);
  EXPECT_THROW(resolve_class(model(0), "stone"), Error);
}

}  // namespace
}  // namespace tessera::testing
