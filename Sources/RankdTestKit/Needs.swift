import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a test needs beyond Swift and this package, for `.enabled(if:)`: a program on the PATH,
/// or root. On a machine without it the test is skipped and says what it needs; CI sets
/// `RANKD_TESTS_REQUIRE_ALL=1` (`.ci/run`), which opens every gate, so there a missing tool fails
/// the test (its own `#require` names what to install) instead of skipping it silently.
public enum Needs {
    public static let requireAllVariable = "RANKD_TESTS_REQUIRE_ALL"

    /// Every gate is open: the tests must run (CI).
    public static var everything: Bool { ProcessInfo.processInfo.environment[requireAllVariable] == "1" }

    /// All these programs are on the PATH.
    public static func programs(_ names: String...) -> Bool { everything || names.allSatisfy(ChildProcess.isInstalled) }

    /// The tests run as root (mounting a file system, for one).
    public static var root: Bool {
        #if canImport(Glibc)
            return everything || geteuid() == 0
        #else
            return everything
        #endif
    }
}
