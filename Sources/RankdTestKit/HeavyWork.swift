/// One CPU-heavy external job at a time across the whole test run (a browser, a Go build, a
/// daemon under load): the suites share 2 cores with timing tests, so heavy jobs take turns
/// instead of starving those tests together.
public enum HeavyWork {
    actor Gate {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            if !busy {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }

    static let gate = Gate()

    public static func run<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await gate.acquire()
        do {
            let value = try await body()
            await gate.release()
            return value
        } catch {
            await gate.release()
            throw error
        }
    }
}
