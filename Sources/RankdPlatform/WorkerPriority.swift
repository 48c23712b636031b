#if canImport(Glibc)
import Glibc
#endif

/// Ranking reads go first. The heavy work (decoding telemetry, SQLite commits and folds, the
/// ranker's recording, epoch computation) lowers the thread it runs on to 5 nice steps below the
/// process (`lower()`), once per call, so the kernel prefers the NIO event-loop threads, which
/// answer `GET /v1/rankings` straight from memory and stay at the process's own priority. Worker
/// threads are shared (Swift's cooperative pool, GRDB's dispatch queues), so within moments of
/// start every one of them runs lowered; the event loops never call this.
/// `bash benchmarks/overload.sh` measures what it buys (docs/BENCHMARKS.md).
public enum WorkerPriority {
    /// Nice steps below the process's priority.
    public static let steps: Int32 = 5

    /// The nice value of the thread that first reads this: the daemon reads it while building the
    /// application, before any worker is lowered, on the thread that then starts the event loops
    /// (an operator's `Nice=` is inherited by every thread; Linux's libdispatch may run its own
    /// threads at other values for their QoS).
    public static let base: Int32 = {
        #if os(Linux)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return 0
        #endif
    }()

    /// Lowers the calling thread to `base + steps` (at most 19). Idempotent and cheap (one system
    /// call); a failure leaves the thread as it was.
    public static func lower() {
        #if os(Linux)
        // Linux: with `who` 0 this is the calling thread only (the nice value is per thread).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(19, base + steps))
        #endif
    }

    /// The nice value of thread `tid` (Linux), from the kernel.
    public static func nice(ofThread tid: Int32) -> Int32 {
        #if os(Linux)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
        #else
        return 0
        #endif
    }
}
