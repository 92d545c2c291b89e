//! Capture files: pcap (µs/ns, both byte orders) and pcapng (several interfaces, link types and
//! timestamp resolutions), detected from the magic bytes, read from a memory map.
