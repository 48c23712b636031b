/// The demotion memory of one endpoint, carried from epoch to epoch (and persisted).
///
/// A demotion lasts `base × level` seconds (capped), where the level grows by one per demotion
/// and decays by one per `decaySeconds` without one, as Envoy's ejection time does. It ends only
/// when that time has passed *and* no rule has fired for `cleanSeconds` (hysteresis).
public struct DemotionState: Hashable, Codable, Sendable {
    /// Set while demoted: the earliest end of the current demotion.
    public var demotedUntil: Timestamp?
    /// Set while demoted: when the current demotion began.
    public var demotedAt: Timestamp?
    /// Level of the latest demotion (1 for a first one).
    public var level: Int
    /// Last time a rule fired for this endpoint.
    public var lastTriggeredAt: Timestamp?
    /// When the latest demotion ended; the level decays from here.
    public var releasedAt: Timestamp?
    /// Reason codes of the latest demotion.
    public var reasons: [String]

    public init(
        demotedUntil: Timestamp? = nil, level: Int = 0, lastTriggeredAt: Timestamp? = nil, releasedAt: Timestamp? = nil,
        reasons: [String] = []
    ) {
        self.demotedUntil = demotedUntil
        self.level = level
        self.lastTriggeredAt = lastTriggeredAt
        self.releasedAt = releasedAt
        self.reasons = reasons
    }

    public var isDemoted: Bool { demotedUntil != nil }

    /// The level a new demotion would start from at `now`, after decay.
    public func decayedLevel(at now: Timestamp, policy: Policy.Demotion) -> Int {
        guard let releasedAt, policy.decaySeconds > 0 else { return level }
        let steps = Int((now.seconds(since: releasedAt) / policy.decaySeconds).rounded(.down))
        return max(0, level - max(0, steps))
    }

    /// When the demotion can end at the earliest, given the clean period.
    public func earliestRelease(policy: Policy.Demotion) -> Timestamp? {
        guard let demotedUntil else { return nil }
        guard let lastTriggeredAt else { return demotedUntil }
        return max(demotedUntil, lastTriggeredAt.adding(seconds: policy.cleanSeconds))
    }

    /// Advances the state to `now` given the reasons that fired (empty when clean).
    public mutating func update(firing: [String], now: Timestamp, policy: Policy.Demotion) {
        if !firing.isEmpty {
            if !isDemoted {
                level = decayedLevel(at: now, policy: policy) + 1
                let seconds = min(policy.baseSeconds * Double(level), policy.maxSeconds)
                demotedUntil = now.adding(seconds: seconds)
                demotedAt = now
                releasedAt = nil
            }
            lastTriggeredAt = now
            reasons = firing
        } else if isDemoted, let release = earliestRelease(policy: policy), now >= release {
            demotedUntil = nil
            demotedAt = nil
            releasedAt = now
            reasons = []
        }
    }
}
