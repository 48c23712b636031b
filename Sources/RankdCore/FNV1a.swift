/// FNV-1a 64: a small, stable hash of bytes, the same in every process and language (unlike
/// Swift's `Hasher`, seeded per process). Fingerprints policies, turns a route request's
/// `request_id` into its seed, and breaks exact ties between endpoints.
public enum FNV1a {
    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
        return value
    }

    public static func hash(_ text: String) -> UInt64 { hash(text.utf8) }

    /// The hash as 16 lowercase hex digits: how policies, registries and benchmark file sets are
    /// named in `state.db` and in epochs.
    public static func hexDigest<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let hex = String(hash(bytes), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
