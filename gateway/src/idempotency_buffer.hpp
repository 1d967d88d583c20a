#pragma once
// The storage writer's in-memory part of the idempotency index (gateway/src/storage_sqlite.cpp,
// docs/audit.md section 5). A header of its own so that its unit test can reach it.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace odrgw::gateway::detail {

// ---- the idempotency index ----
//
// Partners' message ids are random (v4 UUIDs). In an index, each new message went to a random
// leaf: a batch of N messages wrote N 16 KiB pages to the WAL, and the checkpoint wrote them
// again (with time-ordered ids the gateway took ~25% more messages/s). So the writer keeps new
// keys in memory and moves one slice of the key space (a range of key_hash) into the table per
// batch: a sweep touches each leaf of the table about once, whatever the order of the ids. A key
// is looked up in memory and in the table. The memory is not needed to recover: meta
// 'idempotency_low' is the lowest message row whose key may still be waiting, and at start the
// rows from there on that the table lacks wait again.
//
// Only the writer thread uses it. Changes made in a transaction are undone if it rolls back.
class idempotency_buffer {
 public:
  using entry = std::pair<std::int64_t, std::int64_t>;  // key_hash, message row
  // Past this many waiting keys (~20 MB), a batch moves more slices than one.
  static constexpr std::size_t max_waiting = 200'000;

  // A key stored in this transaction.
  void add(std::int64_t key, std::int64_t row) {
    put(key, row);
    added_.push_back({key, row});
  }
  // A key found waiting at start (committed before).
  void restore(std::int64_t key, std::int64_t row) { put(key, row); }
  void saw_row(std::int64_t row) { high_ = std::max(high_, row); }

  // The rows waiting under `key`.
  template <class F>
  void rows_of(std::int64_t key, F&& f) const {
    const auto [a, b] = pending_.equal_range(to_unsigned(key));
    for (auto it = a; it != b; ++it) f(it->second);
  }

  // The next slice's keys, taken out (given back if the transaction rolls back). The key space
  // is cut into more slices as the table grows (~1 leaf of the table per slice, from the number
  // of message rows), between 64 and 16384: what waits is then ~one sweep of batches' keys.
  std::vector<entry> take_slice() {
    const std::uint64_t slices = std::clamp<std::uint64_t>(
        static_cast<std::uint64_t>(std::max<std::int64_t>(high_, 0)) / 4096, 64, 16384);
    cursor_ %= slices;
    const std::uint64_t width = std::numeric_limits<std::uint64_t>::max() / slices + 1;
    const std::uint64_t lo = cursor_ * width;
    const bool last = cursor_ + 1 == slices;
    const std::uint64_t hi = lo + width;
    cursor_++;
    const auto first = pending_.lower_bound(lo);
    const auto end = last ? pending_.end() : pending_.lower_bound(hi);
    std::vector<entry> out;
    for (auto it = first; it != end; ++it) out.push_back({to_signed(it->first), it->second});
    taken_.insert(taken_.end(), out.begin(), out.end());  // recorded before anything is erased
    for (auto it = first; it != end; ++it) rows_.erase(rows_.find(it->second));
    pending_.erase(first, end);
    return out;
  }
  // What one batch moves: the next slice, and more while over max_waiting (a hard bound on the
  // memory).
  std::vector<entry> take_for_batch() {
    std::vector<entry> keys = take_slice();
    while (size() > max_waiting) {
      const std::vector<entry> more = take_slice();
      keys.insert(keys.end(), more.begin(), more.end());
    }
    return keys;
  }
  // Every waiting key, taken out (at close).
  std::vector<entry> take_all() {
    std::vector<entry> out;
    for (const auto& [u, row] : pending_) out.push_back({to_signed(u), row});
    taken_.insert(taken_.end(), out.begin(), out.end());  // recorded before anything is erased
    pending_.clear();
    rows_.clear();
    return out;
  }

  void committed() {
    added_.clear();
    taken_.clear();
  }
  // Gives back what the transaction took, then removes what it added (a key may have been both:
  // added, then taken by the slice, before the transaction failed; its row no longer exists).
  void rolled_back() {
    for (const auto& [key, row] : taken_) put(key, row);
    for (const auto& [key, row] : added_) {
      const auto [a, b] = pending_.equal_range(to_unsigned(key));
      for (auto it = a; it != b; ++it)
        if (it->second == row) {
          pending_.erase(it);
          if (const auto r = rows_.find(row); r != rows_.end()) rows_.erase(r);
          break;
        }
    }
    added_.clear();
    taken_.clear();
  }

  // The lowest message row whose key is not in the table for sure.
  std::int64_t low() const { return rows_.empty() ? high_ + 1 : *rows_.begin(); }
  std::size_t size() const { return pending_.size(); }

 private:
  // key_hash is stored signed (SQLite's integers); its order is kept in unsigned space.
  static std::uint64_t to_unsigned(std::int64_t k) {
    return static_cast<std::uint64_t>(k) ^ (std::uint64_t{1} << 63);
  }
  static std::int64_t to_signed(std::uint64_t u) {
    return static_cast<std::int64_t>(u ^ (std::uint64_t{1} << 63));
  }
  void put(std::int64_t key, std::int64_t row) {
    pending_.emplace(to_unsigned(key), row);
    rows_.insert(row);
    saw_row(row);
  }

  std::multimap<std::uint64_t, std::int64_t> pending_;
  std::multiset<std::int64_t> rows_;  // pending_'s rows, for the low mark (one per entry)
  std::vector<entry> added_, taken_;  // this transaction's
  std::uint64_t cursor_ = 0;
  std::int64_t high_ = 0;  // the highest message row seen
};

}  // namespace odrgw::gateway::detail
