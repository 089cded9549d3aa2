// Typed, generation-checked handles (the sokol_gfx scheme, plus a type tag):
//   id = generation << 32 | type << 24 | (slot + 1)
// A slot's generation changes whenever its object is released, so a stale id - a destroyed
// object, a double destroy - no longer matches and is refused instead of dereferenced. The
// type tag keeps the first context, model and job from sharing an id, so a handle passed as
// another type is refused too (HandleType says what it is, for the message). Id 0 is never
// issued. Objects are shared_ptrs: a call that looked one up keeps it alive while another
// thread releases the handle.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace tessera::plugin {

enum class HandleType : uint8_t { Context = 1, Model = 2, Job = 3 };

constexpr uint32_t kHandleSlotBits = 24;
constexpr uint64_t kHandleSlotMask = (uint64_t(1) << kHandleSlotBits) - 1;

// The type an id claims (whatever its slot and generation), or nullptr for none.
inline const char* handle_type_name(uint64_t id) {
  switch ((id >> kHandleSlotBits) & 0xffu) {
    case uint8_t(HandleType::Context):
      return "context";
    case uint8_t(HandleType::Model):
      return "model";
    case uint8_t(HandleType::Job):
      return "job";
    default:
      return nullptr;
  }
}

template <class T, HandleType Type>
class HandlePool {
 public:
  uint64_t insert(std::shared_ptr<T> object) {
    std::lock_guard<std::mutex> lock(mutex_);
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      if (slots_.size() >= kHandleSlotMask) throw std::bad_alloc();  // 16M live handles of one type
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back({});
    }
    slots_[slot].object = std::move(object);
    return (uint64_t(slots_[slot].generation) << 32) | (uint64_t(Type) << kHandleSlotBits) | (uint64_t(slot) + 1);
  }

  // The object of a live id of this pool's type, or null.
  std::shared_ptr<T> find(uint64_t id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const Slot* s = slot_of(id);
    return s ? s->object : nullptr;
  }

  // Removes a live id and returns its object (null when the id is not live).
  std::shared_ptr<T> release(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot* s = const_cast<Slot*>(slot_of(id));
    if (!s) return nullptr;
    std::shared_ptr<T> object = std::move(s->object);
    s->object.reset();
    // Generation 0 is skipped so that a zeroed id can never match.
    if (++s->generation == 0) s->generation = 1;
    free_.push_back(static_cast<uint32_t>(s - slots_.data()));
    return object;
  }

 private:
  struct Slot {
    uint32_t generation = 1;
    std::shared_ptr<T> object;
  };
  const Slot* slot_of(uint64_t id) const {
    if (((id >> kHandleSlotBits) & 0xffu) != uint8_t(Type)) return nullptr;
    uint64_t index = id & kHandleSlotMask;
    if (index == 0 || index > slots_.size()) return nullptr;
    const Slot& s = slots_[index - 1];
    if (!s.object || s.generation != uint32_t(id >> 32)) return nullptr;
    return &s;
  }
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace tessera::plugin
