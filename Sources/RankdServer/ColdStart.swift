import Foundation
import RankdCore
import Synchronization

/// Where a freshly started daemon stands on its way to its first informed epoch: the start-up
/// epoch is served at once (with no data every endpoint gets an equal share), the first probe
/// round then gives every endpoint its first evidence, and the epoch after it is the first one
/// computed from it. `/readyz` and the log report the phase.
public final class ColdStart: Sendable {
    public enum Phase: String, Sendable {
        /// Waiting for every enabled endpoint to be probed once (or for the bound).
        case firstProbeRound = "first_probe_round"
        /// The first informed epoch is published.
        case informed
        /// Probing is off (or has no cases): the windows and live telemetry are all there is.
        case noProbing = "no_probing"
    }

    public struct Snapshot: Sendable, Equatable {
        public var phase: Phase
        /// Enabled endpoints probed at least once, of `endpoints`.
        public var probed: Int
        public var endpoints: Int
        /// The latest time the first informed epoch comes, whether or not the round is complete.
        public var deadline: Timestamp
        /// The first informed epoch, once published.
        public var informedEpochID: Int64?
        /// The round is over (complete or bounded) and the informed epoch has been asked for.
        public var requested = false
    }

    private let state: Mutex<Snapshot>
    private let roundStream: AsyncStream<Void>
    private let roundContinuation: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - endpoints: enabled endpoints the prober probes (0, or `probing` false: no round to wait for).
    ///   - deadline: start time plus `routing.cold_start_max_seconds`.
    public init(endpoints: Int, probing: Bool, deadline: Timestamp) {
        state = Mutex(
            Snapshot(
                phase: probing && endpoints > 0 ? .firstProbeRound : .noProbing, probed: 0, endpoints: endpoints, deadline: deadline,
                informedEpochID: nil))
        (roundStream, roundContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        if !probing || endpoints == 0 { roundContinuation.finish() }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    /// The prober has now probed `count` distinct enabled endpoints at least once.
    public func probed(_ count: Int) {
        let complete = state.withLock { snapshot -> Bool in
            snapshot.probed = max(snapshot.probed, count)
            return snapshot.probed >= snapshot.endpoints
        }
        if complete {
            roundContinuation.yield()
            roundContinuation.finish()
        }
    }

    /// Returns once the first probe round is complete, at once when there is none to wait for, or
    /// when the task is cancelled. The caller bounds the wait by `deadline`.
    public func firstRoundComplete() async {
        for await _ in roundStream { return }
    }

    /// The round is over: the next epoch published is the first informed one.
    public func requestInformedEpoch() { state.withLock { $0.requested = true } }

    /// An epoch was published; returns true when it is the first informed one.
    public func published(epochID: Int64) -> Bool {
        state.withLock { snapshot in
            guard snapshot.phase == .firstProbeRound, snapshot.requested else { return false }
            snapshot.phase = .informed
            snapshot.informedEpochID = epochID
            return true
        }
    }
}
