import Foundation

/// The policy's fingerprint and its JSON forms.
extension Policy {
    /// A short, stable fingerprint of the policy (FNV-1a 64 over its canonical JSON), recorded in
    /// every epoch so a rank can be traced to the policy that produced it.
    public var hash: String {
        FNV1a.hexDigest((try? Self.canonicalJSON(self)) ?? Data())
    }

    /// The policy as JSON with sorted keys: what `hash` is taken of.
    public static func canonicalJSON(_ policy: Policy) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(policy)
    }

    /// The policy as JSON in the policy file's own keys (snake_case, sorted): what `state.db`
    /// keeps and `GET /v1/policies/{hash}` shows. The policy loader reads it back (JSON is YAML),
    /// giving a key added to the policy since its default.
    public static func fileJSON(_ policy: Policy) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(policy)
    }
}
