#pragma once
namespace walkit {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace walkit
