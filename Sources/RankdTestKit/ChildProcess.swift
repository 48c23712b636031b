import Dispatch
import Foundation
import Synchronization

/// Runs a program to completion, collecting stdout and stderr together, and stops it (SIGTERM)
/// if it outlives its time limit, so a hung tool cannot hang the test run.
public enum ChildProcess {
    public struct Finished: Sendable {
        public var status: Int32
        public var output: String
        public var timedOut: Bool
    }

    /// - Parameter executable: an absolute path, or a program name looked up on `PATH`.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeoutSeconds: Double = 120
    ) throws -> Finished {
        let process = Process()
        if executable.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let timedOut = Flag()
        let watchdog = DispatchWorkItem {
            if process.isRunning {
                timedOut.set()
                process.terminate()
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Finished(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), timedOut: timedOut.isSet)
    }

    /// `run` on a Dispatch thread, not on a Swift concurrency thread: a test that waits for a
    /// child which talks to a server in the same process must not hold one of the (few) threads
    /// that server needs.
    public static func runOffPool(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeoutSeconds: Double = 120
    ) async throws -> Finished {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result { try run(executable, arguments, environment: environment, timeoutSeconds: timeoutSeconds) })
            }
        }
    }

    /// True when `program` is found on `PATH`.
    public static func isInstalled(_ program: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }
}
