import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The throwaway PostgreSQL cluster the tests use (`scripts/postgres-test-cluster.sh start`, run
/// by `.ci/run`): its URL, data directory and programs from `RANKD_TEST_POSTGRES_*`. Each test
/// takes a database of its own; the server-restart test restarts the cluster itself (the
/// end-to-end tests run one at a time).
public enum TestPostgres {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Why the tests cannot reach the cluster, or nil when they can.
    public static var missing: String? {
        guard let url = environment["RANKD_TEST_POSTGRES_URL"], !url.isEmpty else {
            return "no test PostgreSQL: apt-get install -y postgresql, then eval \"$(bash scripts/postgres-test-cluster.sh start)\" (.ci/run does)"
        }
        return nil
    }

    /// The cluster's own URL (database `rankd`).
    public static var url: String { environment["RANKD_TEST_POSTGRES_URL"] ?? "" }
    static var bin: String { environment["RANKD_TEST_POSTGRES_BIN"] ?? "/usr/lib/postgresql/15/bin" }
    static var data: String { environment["RANKD_TEST_POSTGRES_DATA"] ?? "" }

    /// A new, empty database in the test cluster; its URL.
    public static func makeDatabase(_ prefix: String = "rankd_test") throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000)"
        try sql("CREATE DATABASE \(name)")
        guard let range = url.range(of: "/rankd?", options: .backwards) else { return url }
        return url.replacingCharacters(in: range, with: "/\(name)?")
    }

    /// Runs SQL through psql on the cluster's own database; throws with psql's output on failure.
    @discardableResult
    public static func sql(_ statement: String, database: String? = nil) throws -> String {
        var target = url
        if let database, let range = url.range(of: "/rankd?", options: .backwards) {
            target = url.replacingCharacters(in: range, with: "/\(database)?")
        }
        let finished = try ChildProcess.run("\(bin)/psql", [target, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement], timeoutSeconds: 30)
        guard finished.status == 0 else { throw Failure(description: "psql: \(statement): \(finished.output)") }
        return finished.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `pg_ctl stop` (fast: sessions are cut) or `start` on the test cluster.
    public static func control(_ action: String) throws {
        var arguments = ["\(bin)/pg_ctl", "-D", "\(data)/db", "-w", "-t", "30"]
        if action == "stop" { arguments += ["-m", "fast"] } else { arguments += ["-l", "\(data)/server.log"] }
        arguments.append(action)
        if geteuid() == 0 { arguments = ["/usr/sbin/runuser", "-u", "postgres", "--"] + arguments }
        // Through the shell, output to a file: the server pg_ctl starts would hold a pipe's end
        // open, and Foundation's Process did not reap runuser here (the wait never returned).
        let outputFile = "\(data)/pg_ctl-\(action).out"
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let command = arguments.map { "'\($0)'" }.joined(separator: " ") + " </dev/null >'\(outputFile)' 2>&1"
        let status = system(command)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
            throw Failure(description: "pg_ctl \(action) (status \(status)): \(text)")
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }
}

extension Needs {
    /// The test PostgreSQL cluster is there (see `TestPostgres`).
    public static var postgres: Bool { everything || TestPostgres.missing == nil }
}
