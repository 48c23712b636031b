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
}
