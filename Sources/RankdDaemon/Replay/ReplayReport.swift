import Foundation
import RankdCore

/// What `rankd replay` found: `--json` prints this document (docs/replay.md has its schema);
/// times are RFC 3339, shares 0...1, keys snake_case.
public struct ReplayReport: Codable, Sendable, Equatable {
    public var stateDB: String
    /// `recorded` (each epoch's own policy, by its hash) or the `--policy` file's path.
    public var policy: String
    /// The hash of the `--policy` file's policy; nil for the recorded ones.
    public var policyHash: String?
    /// What the `published_*` fields hold: `published` (the daemon's epochs) or `replay` (the
    /// recorded policy replayed the same way).
    public var baseline: String
    public var range: Range
    /// Limits of the data and of what a replay can see, said once each.
    public var notes: [String]
    public var models: [ModelReport]
    /// Every model's estimate together.
    public var outcome: OutcomeComparison
    /// What the estimate is and what it cannot see.
    public var estimateCaveat: String

    public struct Range: Codable, Sendable, Equatable {
        public var from: String
        public var to: String
        /// Seconds between replayed epochs; nil: at the published epochs' times.
        public var intervalSeconds: Double?
        public var epochsReplayed: Int
        /// The first and last minute with a stored tally.
        public var retainedFrom: String
        public var retainedTo: String
    }

    public struct ModelReport: Codable, Sendable, Equatable {
        public var model: String
        public var epochsCompared: Int
        /// Epochs whose replayed order, statuses, reasons or scores (beyond 1e-9) differ, and of
        /// them: those whose windows held other samples than the baseline's (`inputs_differ`),
        /// those where the fault rules or the fast path acted (`may_differ_because`), and the rest:
        /// the same inputs, scored otherwise (0 when replaying the recorded policy).
        public var epochsDiffering: Int
        public var epochsDifferingByInputs: Int
        public var epochsDifferingByFaultRules: Int
        public var epochsDifferingByPolicy: Int
        public var differences: [EpochDifference]
        public var demotions: [DemotionTiming]
        public var outcome: OutcomeComparison
    }

    public struct EpochDifference: Codable, Sendable, Equatable {
        public var at: String
        /// The published epoch in force then, and its trigger.
        public var publishedEpochID: Int64?
        public var publishedTrigger: String?
        /// True when the published and the replayed epoch did not count the same samples (a
        /// record that arrived after the epoch for a minute it had begun, a late record): a
        /// difference there need not be the policy's.
        public var inputsDiffer: Bool
        /// Why this epoch may differ whatever the policy (the fast path, a share limit).
        public var mayDifferBecause: [String]
        public var endpoints: [EndpointChange]
    }

    public struct EndpointChange: Codable, Sendable, Equatable {
        public var endpointID: String
        public var publishedRank: Int?
        public var replayedRank: Int?
        public var publishedStatus: String?
        public var replayedStatus: String?
        public var publishedReasons: [String]?
        public var replayedReasons: [String]?
        public var publishedScore: Double?
        public var replayedScore: Double?
    }

    /// One demotion, published or replayed or both, timed from the first minute of the run of
    /// failing minutes it came in (`FailingRuns`: at least 5 points more of its requests failed
    /// than of its model's other endpoints' that minute).
    public struct DemotionTiming: Codable, Sendable, Equatable {
        public var endpointID: String
        /// Nil when the endpoint had no failing minute before it (a demotion for slowness, say).
        public var firstFailingMinute: String?
        public var publishedAt: String?
        public var replayedAt: String?
        /// Seconds from the first failing minute's start to the demotion.
        public var publishedAfterSeconds: Double?
        public var replayedAfterSeconds: Double?
        /// Replayed demotion time less the published one: negative when the replay demoted earlier.
        public var replayedVsPublishedSeconds: Double?
        public var publishedReasons: [String]?
        public var replayedReasons: [String]?
    }

    public struct OutcomeComparison: Codable, Sendable, Equatable {
        public var published: Outcome
        public var replayed: Outcome
    }

    public struct Outcome: Codable, Sendable, Equatable {
        /// Requests the estimate weighs (recorded requests in minutes with outcomes).
        public var requests: Double
        public var toolCallFailureShare: Double?
        public var errorShare: Double?
        public var ttftP50Ms: Double?

        init(_ estimate: OutcomeEstimate) {
            requests = estimate.requests
            toolCallFailureShare = estimate.toolCallFailureShare
            errorShare = estimate.errorShare
            ttftP50Ms = estimate.ttftP50Milliseconds
        }
    }

    public static let caveat =
        "An estimate from per-minute rates: each minute, every endpoint's recorded outcomes weighed by the traffic share the "
        + "epoch in force gave it. It cannot see the fast path's seconds (an endpoint that failed for 20 s inside a minute counts "
        + "as that minute's rate), requests a gateway would have retried elsewhere, or how an endpoint would have behaved under "
        + "the traffic it did not get."

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }()

    public func json() throws -> Data { try Self.encoder.encode(self) }
}
