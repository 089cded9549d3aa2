#include "support/vulkan_test.hpp"
#include "tessera/vk_handle.hpp"

namespace tessera::testing {
namespace {

class VkOwnedTest : public VulkanTest {};

// One owner at a time: a moved-from handle is empty, a reset or replaced one is destroyed once
// (a second vkDestroyFence of the same handle, or one left alive, is a validation error that
// fails the test in TearDown; the context's device outlives the suite, so leaks are counted
// here through the handles themselves).
TEST_F(VkOwnedTest, DestroysOnceAndMovesOwnership) {
  const VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  OwnedFence a = OwnedFence::create(ctx().device(), vkCreateFence, info, "vkCreateFence (test)");
  ASSERT_TRUE(a);
  const VkFence raw = a.get();
  EXPECT_EQ(*a.address(), raw);
  OwnedFence b = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_EQ(b.get(), raw);
  OwnedFence c = OwnedFence::create(ctx().device(), vkCreateFence, info, "vkCreateFence (test)");
  c = std::move(b);  // c's first fence is destroyed, b's moves in
  EXPECT_EQ(c.get(), raw);
  EXPECT_FALSE(b);
  EXPECT_EQ(vkGetFenceStatus(ctx().device(), c.get()), VK_NOT_READY);  // still alive, unsignalled
  c.reset();
  EXPECT_FALSE(c);
  c.reset();  // a second reset destroys nothing
  {
    OwnedSemaphore scoped = OwnedSemaphore::create(ctx().device(), vkCreateSemaphore,
                                                   VkSemaphoreCreateInfo{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO},
                                                   "vkCreateSemaphore (test)");
    EXPECT_TRUE(scoped);
  }  // destroyed here
}

}  // namespace
}  // namespace tessera::testing
