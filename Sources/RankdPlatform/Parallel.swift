import Dispatch
import Foundation
import RankdCore

/// Work spread over the machine's cores.
public enum Parallel {
    /// The scorer on all cores (at most 8) from `Scorer.parallelFromEndpoints` endpoints on.
    public static let scoring = ScoringParallelism(workers: min(ProcessInfo.processInfo.activeProcessorCount, 8)) { iterations, body in
        DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
    }
}
