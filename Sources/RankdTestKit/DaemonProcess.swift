import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The built `rankd` binary run as a child process that serves HTTP (`rankd serve`,
/// `rankd mock-provider`) on an ephemeral port of 127.0.0.1: started, its port read from its log,
/// its stderr kept, stopped with SIGTERM or SIGKILL.
public final class DaemonProcess: Sendable {
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    public let process: Process
    public let port: Int
    private let output: LogBuffer

    /// Starts `rankd ARGUMENTS` (which must include a `127.0.0.1:0` listen address) with
    /// `environment` added to this process's, and waits (at most `timeoutSeconds`) for its port.
    ///
    /// - Parameter wrapper: a program (absolute path) and its arguments to run rankd under, such as
    ///   `strace -f -c -o FILE`; the rankd command line follows them. `process` is then the
    ///   wrapper's; `stopWrapped` signals rankd itself.
    public init(_ arguments: [String], environment: [String: String] = [:], timeoutSeconds: Double = 20, wrapper: [String] = [])
        async throws
    {
        let process = Process()
        if let program = wrapper.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(wrapper.dropFirst()) + [RepositoryFiles.rankdExecutable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: RepositoryFiles.rankdExecutable)
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = stderr
        let output = LogBuffer()
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            output.text.withLock { $0 += chunk }
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        var port: Int?
        while port == nil && process.isRunning && ContinuousClock.now < deadline {
            port = output.text.withLock { text in
                text.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression).flatMap {
                    Int(text[$0].split(separator: ":").last!)
                }
            }
            if port == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        guard let port else {
            if process.isRunning { process.terminate() }
            throw StartFailure(description: "rankd \(arguments.joined(separator: " ")) did not start: \(output.text.withLock { $0 })")
        }
        self.process = process
        self.port = port
        self.output = output
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Everything the process wrote to stdout and stderr so far.
    public var logs: String { output.text.withLock { $0 } }

    /// Waits (bounded) until `GET /readyz` answers 200; false if it never did.
    public func waitUntilReady(timeoutSeconds: Double = 20) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while ContinuousClock.now < deadline && process.isRunning {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: "\(baseURL)/readyz")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return true
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// SIGKILL: no chance to flush or finish anything.
    public func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits (bounded) for the exit; SIGKILL if it does not come. Returns the time it took.
    @discardableResult
    public func stop(timeoutSeconds: Double = 10) async -> Duration {
        let signalled = ContinuousClock.now
        guard process.isRunning else { return .zero }
        Glibc.kill(process.processIdentifier, SIGTERM)
        while process.isRunning && ContinuousClock.now - signalled < .seconds(timeoutSeconds) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let took = ContinuousClock.now - signalled
        if process.isRunning { kill() }
        process.waitUntilExit()
        return took
    }

    /// SIGTERM to rankd under its wrapper (the wrapper's child), then waits (bounded) for the
    /// wrapper to exit after it. False if rankd was not found or the wrapper did not end in time.
    public func stopWrapped(timeoutSeconds: Double = 15) async -> Bool {
        let pid = process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        guard let child = children.split(separator: " ").first.flatMap({ Int32($0) }) else { return false }
        Glibc.kill(child, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            Glibc.kill(child, SIGKILL)
            kill()
            return false
        }
        return true
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}

/// A child's output, appended from the pipe's reader thread.
final class LogBuffer: Sendable {
    let text = Mutex("")
}
