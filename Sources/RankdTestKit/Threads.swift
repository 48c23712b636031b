import Dispatch
import RankdCore

extension ScoringParallelism {
    /// Scoring on `workers` threads from the first endpoint on (the daemon's runner lives in
    /// RankdPlatform; the core's tests need only some real concurrency).
    public static func threads(_ workers: Int) -> ScoringParallelism {
        ScoringParallelism(fromEndpoints: 0, workers: workers) { iterations, body in
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
        }
    }
}
