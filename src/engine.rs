//! One shard of traffic: decode, flow, proto, resolve.
