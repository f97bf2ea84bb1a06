// The chain of byte tiers below the device-memory tier, built from KVStoreConfig.
//
// The one place that knows which tiers exist and in which order they are searched, so the
// engine (and any other caller) only hands the result to BlockStore, and adding a tier changes
// no caller. Order: disk (local, fastest), then Redis (shared, over the network). A tier whose
// configuration field is empty is not built.
#pragma once

#include <memory>
#include <vector>

#include "blockattn/engine.h"
#include "cache/byte_tier.h"

namespace blockattn {

// Throws what a tier's constructor throws for an unusable configuration: IoError for a disk
// directory that cannot be created or written, InputError for a malformed Redis URL or a zero
// timeout. An unreachable Redis is not an error (the tier warns and answers "miss").
std::vector<std::unique_ptr<ByteTier>> make_tiers(const KVStoreConfig& config);

}  // namespace blockattn
