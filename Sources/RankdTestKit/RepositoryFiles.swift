import Foundation

/// Paths of files shipped in the repository (the example configuration, the policy), found from
/// this source file's location so tests read the real files.
public enum RepositoryFiles {
    public static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    public static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// The `rankd` executable built next to the tests.
    public static var rankdExecutable: String { path(".build/debug/rankd") }

    public struct MissingSetting: Error, CustomStringConvertible {
        public var setting: String
        public var description: String { "scoring/policy.yaml no longer contains \"\(setting)\": update the test's replacements" }
    }

    /// Writes scoring/policy.yaml to `target` with settings replaced (each `from` must be in the
    /// shipped file, so a changed policy fails the test instead of silently keeping its value).
    public static func writePolicy(to target: String, replacing replacements: KeyValuePairs<String, String>) throws {
        var policy = try String(contentsOfFile: path("scoring/policy.yaml"), encoding: .utf8)
        for (from, to) in replacements {
            guard policy.contains(from) else { throw MissingSetting(setting: from) }
            policy = policy.replacingOccurrences(of: from, with: to)
        }
        try policy.write(toFile: target, atomically: true, encoding: .utf8)
    }
}
