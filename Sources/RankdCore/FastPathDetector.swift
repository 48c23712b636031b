/// Between epochs, watches every observation for an endpoint breaking hard: a run of consecutive
/// hard failures, or a failure burst over a short sliding window of per-second counters. It keeps
/// only in-memory counters (no minute buckets), so it reacts within seconds.
public struct FastPathDetector: Sendable {
    public let rule: Policy.FastPath
    private var endpoints: [String: Counters] = [:]

    /// One endpoint's counters: a ring of per-second slots over the burst window, with the window's
    /// totals kept as slots enter and leave it, so an observation costs O(1) and an endpoint holds
    /// 4 bytes per second of window (120 for the default 30 s), not a tuple with its second each.
    struct Counters: Sendable {
        /// One second's counts. They stop at 65,535 (an endpoint taking more requests than that in
        /// one second is past what one slot counts); the window's sums count only what the slots
        /// hold, so the two always agree and a rate stays a rate of what was counted.
        struct Slot: Sendable {
            var requests: UInt16 = 0
            var failures: UInt16 = 0
        }
        var consecutiveHardFailures: Int32 = 0
        /// Slot `s mod window` counts second `s`, for the seconds newestSecond - window + 1 ...
        /// newestSecond; the others are zero.
        var slots: [Slot]
        var newestSecond: Int64 = .min
        /// Sums over `slots` (at most 65,535 a second each).
        var requests: Int32 = 0
        var failures: Int32 = 0

        init(windowSeconds: Int) {
            slots = Array(repeating: Slot(), count: max(1, windowSeconds))
        }

        /// Counts one request at `second`; one older than the window counts nowhere.
        mutating func count(second: Int64, isFailure: Bool) {
            let window = Int64(slots.count)
            if newestSecond == .min || second - newestSecond >= window {
                // The whole window moves past what it held.
                if requests > 0 { for index in slots.indices { slots[index] = Slot() } }
                requests = 0
                failures = 0
                newestSecond = second
            } else if second > newestSecond {
                // Seconds newestSecond + 1 ... second enter the window; what their slots held leaves it.
                for entering in (newestSecond + 1)...second {
                    let index = Self.slot(entering, window: window)
                    requests -= Int32(slots[index].requests)
                    failures -= Int32(slots[index].failures)
                    slots[index] = Slot()
                }
                newestSecond = second
            } else if second <= newestSecond - window {
                return
            }
            let index = Self.slot(second, window: window)
            guard slots[index].requests < .max else { return }
            slots[index].requests += 1
            requests += 1
            if isFailure {
                slots[index].failures += 1
                failures += 1
            }
        }

        static func slot(_ second: Int64, window: Int64) -> Int {
            Int(((second % window) + window) % window)
        }
    }

    /// What fired, for which endpoint, when.
    public struct Trigger: Hashable, Sendable {
        public var endpointID: String
        /// `consecutive_failures` or `failure_burst`.
        public var reason: String
        public var at: Timestamp
        /// Figures behind it, for the log.
        public var detail: String
    }

    public init(rule: Policy.FastPath) {
        self.rule = rule
    }

    /// Counts one observation; returns a trigger when this observation makes the endpoint break a
    /// rule. Counters of a triggered endpoint restart, so one outage fires once, not per request.
    public mutating func record(_ observation: Observation) -> Trigger? {
        let window = max(1, rule.burstWindowSeconds)
        // In place: a copy out of the dictionary and back would copy the slots at every observation.
        // A static function: a method would borrow `self` for the call, and the write to its
        // dictionary through the same call then copies the whole dictionary (every observation).
        return Self.update(&endpoints[observation.endpointID, default: Counters(windowSeconds: window)], observation, rule: rule)
    }

    private static func update(_ counters: inout Counters, _ observation: Observation, rule: Policy.FastPath) -> Trigger? {
        let window = max(1, rule.burstWindowSeconds)
        let isFailure =
            observation.outcome.isRequestFailure && observation.outcome != .http429
            || observation.outcome.isToolCallFailure
        if observation.outcome.isHardFailure {
            if counters.consecutiveHardFailures < .max { counters.consecutiveHardFailures += 1 }
        } else if observation.outcome != .http429 {
            counters.consecutiveHardFailures = 0
        }
        // Late observations (older than the window) count for consecutive runs only.
        counters.count(second: observation.time.second, isFailure: isFailure)

        if rule.consecutiveFailures > 0, Int(counters.consecutiveHardFailures) >= rule.consecutiveFailures {
            let run = counters.consecutiveHardFailures
            counters = Counters(windowSeconds: window)
            return Trigger(
                endpointID: observation.endpointID, reason: ReasonCode.consecutiveFailures, at: observation.time,
                detail: "\(run) hard failures in a row")
        }
        let (requests, failures) = (Int(counters.requests), Int(counters.failures))
        if requests >= rule.burstMinRequests, rule.burstMinRequests > 0,
            Double(failures) / Double(requests) >= rule.burstFailureRate
        {
            counters = Counters(windowSeconds: window)
            return Trigger(
                endpointID: observation.endpointID, reason: ReasonCode.failureBurst, at: observation.time,
                detail: "\(failures) of \(requests) requests failed in \(window) s")
        }
        return nil
    }
}
