// The storage writer's in-memory idempotency keys (gateway/src/idempotency_buffer.hpp): slices
// that cover the whole key space, and rollbacks that give back exactly what a transaction took.
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "idempotency_buffer.hpp"

namespace {

using odrgw::gateway::detail::idempotency_buffer;

constexpr std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t highest = std::numeric_limits<std::int64_t>::max();

std::vector<std::int64_t> rows_of(const idempotency_buffer& b, std::int64_t key) {
  std::vector<std::int64_t> rows;
  b.rows_of(key, [&](std::int64_t r) { rows.push_back(r); });
  return rows;
}

TEST(IdempotencyBuffer, ASweepOfSlicesTakesEveryKeyOnce) {
  idempotency_buffer b;
  const std::vector<std::int64_t> keys = {lowest, lowest + 1,           -1,          0,
                                          1,      0x1234567890abcdefLL, highest - 1, highest};
  std::int64_t row = 0;
  for (const auto k : keys) b.add(k, ++row);
  b.committed();
  std::multiset<std::int64_t> taken;
  for (int i = 0; i < 64; ++i)  // 64 slices while the table is small
    for (const auto& [k, r] : b.take_slice()) taken.insert(k);
  b.committed();
  EXPECT_EQ(taken, std::multiset<std::int64_t>(keys.begin(), keys.end()));
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.low(), row + 1);
}

TEST(IdempotencyBuffer, SlicesGoInKeyOrder) {
  idempotency_buffer b;
  b.add(highest, 1);
  b.add(lowest, 2);
  b.committed();
  const auto first = b.take_slice();  // the lowest 64th of the key space
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].first, lowest);
  EXPECT_EQ(b.low(), 1);  // row 1 still waits
  for (int i = 1; i < 63; ++i) EXPECT_TRUE(b.take_slice().empty());
  const auto last = b.take_slice();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].first, highest);
}

TEST(IdempotencyBuffer, ARollbackGivesBackWhatWasTakenAndDropsWhatWasAdded) {
  idempotency_buffer b;
  b.add(lowest + 5, 1);  // committed before
  b.committed();
  b.add(lowest + 7, 2);               // this transaction's
  const auto slice = b.take_slice();  // takes both (the lowest slice)
  ASSERT_EQ(slice.size(), 2u);
  EXPECT_EQ(b.size(), 0u);
  b.rolled_back();
  EXPECT_EQ(rows_of(b, lowest + 5), std::vector<std::int64_t>{1});
  EXPECT_TRUE(rows_of(b, lowest + 7).empty()) << "a key of a rolled-back message lingers";
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.low(), 1);
}

// Two waiting keys under one row (a row reused after a rollback could make them): taking one must
// not move the low mark past the row while the other waits.
TEST(IdempotencyBuffer, TwoKeysOfOneRowBothHoldTheLowMark) {
  idempotency_buffer b;
  b.restore(lowest, 7);  // the first slice
  b.restore(0, 7);       // a middle one
  b.restore(highest, 9);
  b.take_slice();
  b.committed();
  EXPECT_EQ(b.low(), 7) << "the low mark passed row 7 while a key of it waits";
}

TEST(IdempotencyBuffer, TheLowMarkIsTheOldestWaitingRow) {
  idempotency_buffer b;
  EXPECT_EQ(b.low(), 1);
  b.saw_row(41);
  EXPECT_EQ(b.low(), 42);
  b.add(lowest, 50);
  b.add(highest, 60);
  b.committed();
  EXPECT_EQ(b.low(), 50);
  b.take_slice();  // takes row 50's key
  b.committed();
  EXPECT_EQ(b.low(), 60);
  b.restore(0, 55);  // found waiting at start
  EXPECT_EQ(b.low(), 55);
}

}  // namespace
