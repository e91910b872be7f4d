// LruMap: a map by name of at most `capacity` values that makes room by dropping the least
// recently used. The on-demand certificate directory keeps its parsed certificates and the
// names it knows to have none in two of them (tls/cert_directory.h).
//
// Not thread-safe: its owner locks. A value that leaves (put() making room, erase(),
// release()) is handed back, so that the owner can destroy it after unlocking.
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tlsgate::tls {

template <class V>
class LruMap {
 public:
  using Item = std::pair<std::string, V>;

  explicit LruMap(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // find: the value of `key`, which becomes the most recently used; nullptr when absent.
  V* find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  // peek: the same, without changing the order.
  const V* peek(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  // put sets `key` to `value`, the most recently used; when the map was full, the least
  // recently used item left to make room and is returned.
  std::optional<Item> put(const std::string& key, V value) {
    if (V* old = find(key)) {
      *old = std::move(value);
      return std::nullopt;
    }
    std::optional<Item> evicted;
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().first);
      evicted.emplace(std::move(order_.back()));
      order_.pop_back();
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    return evicted;
  }
  std::optional<V> erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    std::optional<V> value(std::move(it->second->second));
    order_.erase(it->second);
    index_.erase(it);
    return value;
  }
  // release empties the map and returns what it held, most recently used first.
  std::list<Item> release() {
    index_.clear();
    return std::exchange(order_, {});
  }
  // keys: every key, most recently used first.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(order_.size());
    for (const Item& item : order_) out.push_back(item.first);
    return out;
  }
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::list<Item> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Item>::iterator> index_;
};

}  // namespace tlsgate::tls
