/// Between epochs, watches every observation for an endpoint breaking hard: a run of consecutive
/// hard failures, or a failure burst over a short sliding window of per-second counters. It keeps
/// only in-memory counters (no minute buckets), so it reacts within seconds.
public struct FastPathDetector: Sendable {
    public let rule: Policy.FastPath
    private var endpoints: [String: Counters] = [:]

    struct Counters: Sendable {
        var consecutiveHardFailures = 0
        /// Ring of per-second slots: (second, requests, failures).
        var slots: [(second: Int64, requests: Int, failures: Int)]
        var newestSecond: Int64 = .min

        init(windowSeconds: Int) {
            slots = Array(repeating: (Int64.min, 0, 0), count: max(1, windowSeconds))
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
        var counters = endpoints[observation.endpointID] ?? Counters(windowSeconds: window)
        defer { endpoints[observation.endpointID] = counters }

        let isFailure =
            observation.outcome.isRequestFailure && observation.outcome != .http429
            || observation.outcome.isToolCallFailure
        if observation.outcome.isHardFailure {
            counters.consecutiveHardFailures += 1
        } else if observation.outcome != .http429 {
            counters.consecutiveHardFailures = 0
        }

        let second = observation.time.second
        counters.newestSecond = max(counters.newestSecond, second)
        // Late observations (older than the window) count for consecutive runs only.
        if second > counters.newestSecond - Int64(window) {
            let slot = Int(((second % Int64(window)) + Int64(window)) % Int64(window))
            if counters.slots[slot].second != second { counters.slots[slot] = (second, 0, 0) }
            counters.slots[slot].requests += 1
            if isFailure { counters.slots[slot].failures += 1 }
        }

        if rule.consecutiveFailures > 0, counters.consecutiveHardFailures >= rule.consecutiveFailures {
            let run = counters.consecutiveHardFailures
            counters = Counters(windowSeconds: window)
            return Trigger(
                endpointID: observation.endpointID, reason: ReasonCode.consecutiveFailures, at: observation.time,
                detail: "\(run) hard failures in a row")
        }
        var requests = 0
        var failures = 0
        for slot in counters.slots where slot.second > counters.newestSecond - Int64(window) {
            requests += slot.requests
            failures += slot.failures
        }
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
