// Signed callbacks: a known answer computed independently (Python's hmac), tampering, replay
// window, rotation, malformed headers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <odrgw/gateway/callback.hpp>

namespace odrgw::gateway {
namespace {

const std::string secret = "whsec-test";
const std::string body = "{\"a\":1}";

TEST(Callback, SignatureIsHmacSha256OverTimestampDotBody) {
  // python3: hmac.new(b'whsec-test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
  EXPECT_EQ(sign_callback(secret, 1700000000, body),
            "t=1700000000,v1=fed7a1a6c799a6367d73724d76bc70c16678908a32a879cd1ded6565ac05cece");
}

TEST(Callback, VerifiesAndRefusesTamperingReplaysAndGarbage) {
  const auto h = sign_callback(secret, 1700000000, body);
  EXPECT_EQ(verify_callback(secret, h, body, 1700000100).verdict, callback_verdict::valid);
  // One byte of the body, the secret, or the timestamp changed: no match.
  EXPECT_EQ(verify_callback(secret, h, "{\"a\":2}", 1700000100).verdict,
            callback_verdict::bad_signature);
  EXPECT_EQ(verify_callback("other", h, body, 1700000100).verdict, callback_verdict::bad_signature);
  std::string moved = h;
  moved.replace(2, 10, "1700000050");
  EXPECT_EQ(verify_callback(secret, moved, body, 1700000100).verdict,
            callback_verdict::bad_signature);
  // Outside the window, in either direction: a replay of an old request, or a skewed clock.
  auto late = verify_callback(secret, h, body, 1700000301);
  EXPECT_EQ(late.verdict, callback_verdict::outside_window);
  EXPECT_NE(late.detail.find("301 s ago"), std::string::npos) << late.detail;
  EXPECT_EQ(verify_callback(secret, h, body, 1699999000).verdict, callback_verdict::outside_window);
  EXPECT_EQ(verify_callback(secret, h, body, 1700000301, 600).verdict, callback_verdict::valid);
  for (const std::string& bad : std::vector<std::string>{
           "", "t=1700000000", "v1=" + std::string(64, 'a'), "t=abc,v1=" + std::string(64, 'a'),
           "t=1,t=2,v1=00", "t=1700000000,v1=xyz", "garbage"})
    EXPECT_EQ(verify_callback(secret, bad, body, 1700000000).verdict, callback_verdict::malformed)
        << bad;
}

TEST(Callback, AnyOfSeveralSignaturesMayMatchDuringRotation) {
  const auto h = sign_callback(secret, 1700000000, body);
  const std::string rotated =
      "t=1700000000, v1=" + std::string(64, '0') + ", " + h.substr(13) + ", v0=ignored";
  EXPECT_EQ(verify_callback(secret, rotated, body, 1700000000).verdict, callback_verdict::valid)
      << rotated;
}

}  // namespace
}  // namespace odrgw::gateway
