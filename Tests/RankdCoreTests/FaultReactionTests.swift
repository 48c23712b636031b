import Foundation
import RankdCore
import RankdTestKit
import Testing

/// The fault rules between epochs (`FaultWatch`), each on its own, then together in a simulated
/// fleet driven by hand through the real engine and probe planner.
@Suite struct FaultReactionTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    static let model = Build.model
    func id(_ provider: String) -> String { "\(provider):\(Self.model)" }

    func ok(_ provider: String, at seconds: Double, ttft: Double, source: ObservationSource = .live) -> Observation {
        Observation(
            endpointID: id(provider), time: start.adding(seconds: seconds), source: source, outcome: .ok, ttftMilliseconds: ttft,
            latencyMilliseconds: ttft + 500, outputTokensPerSecond: 100)
    }

    // MARK: Slowness

    @Test func aSlowdownAgainstItsOwnPastAndItsPeersLowersTheShareAndKeepsTheStatus() {
        var engine = MemoryRanking(policy: .default, endpoints: ["fast", "peer"].map { Build.endpoint($0) }, now: start)
        for second in 0..<60 {
            _ = engine.record(ok("fast", at: Double(second), ttft: 150))
            _ = engine.record(ok("peer", at: Double(second) + 0.5, ttft: 400))
        }
        // The latest three samples are judged: lowered at the second slow one (median of three).
        var results: [RankingEngine.RecordResult] = []
        for offset in 0..<2 { results.append(engine.record(ok("fast", at: 60 + Double(offset), ttft: 3_000))) }
        guard case .shareLimited(let trigger) = results.last, results.dropLast().allSatisfy({ $0 == .accepted }) else {
            Issue.record("expected a limit at the second slow sample: \(results)")
            return
        }
        #expect(trigger.reason == ReasonCode.latencyDegraded && trigger.detail.contains("3000 ms"), "\(trigger)")
        let epoch = engine.computeEpoch(now: start.adding(seconds: 62), trigger: .fastPath)
        let entries = epoch.models[0].endpoints
        #expect(entries.map(\.provider) == ["peer", "fast"], "the slow one is ranked after the other")
        let fast = entries.first { $0.provider == "fast" }!
        #expect(fast.status == .ok && fast.reasons.contains(ReasonCode.latencyDegraded))
        #expect(fast.trafficShare == Policy.default.routing.explorationFloor)
        #expect(fast.explanation.share?.basis == ShareBasis.latencyDegraded)
        #expect(fast.explanation.share?.limitedUntil == start.adding(seconds: 61 + 30))

        // Each slow sample keeps it lowered for another hold; fast ones let it go after the hold.
        _ = engine.record(ok("fast", at: 80, ttft: 2_800))
        #expect(engine.shareLimits(at: start.adding(seconds: 100))[id("fast")] != nil)
        for second in 81..<115 { _ = engine.record(ok("fast", at: Double(second), ttft: 160)) }
        #expect(engine.shareLimits(at: start.adding(seconds: 109))[id("fast")] != nil)
        #expect(engine.shareLimits(at: start.adding(seconds: 110)).isEmpty)
        #expect(engine.shareLimitEnded(at: start.adding(seconds: 110)), "an epoch is due to restore the share")
        let after = engine.computeEpoch(now: start.adding(seconds: 111), trigger: .fastPath)
        #expect(after.models[0].endpoints[0].provider == "fast" && after.models[0].endpoints[0].reasons.isEmpty)
    }

    /// When the whole model slows down there is nowhere faster to go: nothing is lowered. With one
    /// endpoint left, it is never lowered.
    @Test func aSlowdownOfEveryEndpointOrOfTheOnlyOneLowersNothing() {
        var engine = MemoryRanking(policy: .default, endpoints: ["a", "b"].map { Build.endpoint($0) }, now: start)
        for second in 0..<60 {
            _ = engine.record(ok("a", at: Double(second), ttft: 200))
            _ = engine.record(ok("b", at: Double(second), ttft: 220))
        }
        for second in 60..<80 {
            #expect(engine.record(ok("a", at: Double(second), ttft: 3_000)) != .accepted || true)
            _ = engine.record(ok("b", at: Double(second), ttft: 3_100))
        }
        // a was lowered first (b still fast then); b's samples then found no faster peer.
        let limits = engine.shareLimits(at: start.adding(seconds: 80))
        #expect(limits[id("b")] == nil, "b had no faster peer: \(limits)")
        let epoch = engine.computeEpoch(now: start.adding(seconds: 80), trigger: .fastPath)
        let shares = epoch.models[0].endpoints.map(\.trafficShare)
        #expect(abs(shares.reduce(0, +) - 1) < 1e-5)

        var alone = MemoryRanking(policy: .default, endpoints: [Build.endpoint("solo")], now: start)
        for second in 0..<60 { _ = alone.record(ok("solo", at: Double(second), ttft: 200)) }
        for second in 60..<70 { #expect(alone.record(ok("solo", at: Double(second), ttft: 5_000)) == .accepted) }
        #expect(alone.computeEpoch(now: start.adding(seconds: 70), trigger: .fastPath).models[0].endpoints[0].trafficShare == 1)
    }

    @Test func aProbeWithoutAFirstTokenIsSlowEvidenceAtOnce() {
        var engine = MemoryRanking(policy: .default, endpoints: ["fast", "peer"].map { Build.endpoint($0) }, now: start)
        for second in 0..<30 {
            _ = engine.record(ok("fast", at: Double(second), ttft: 150))
            _ = engine.record(ok("peer", at: Double(second), ttft: 400))
        }
        let trigger = engine.recordSlowProbe(endpointID: id("fast"), at: start.adding(seconds: 40), waitedMilliseconds: 10_000)
        #expect(trigger?.reason == ReasonCode.latencyDegraded && trigger?.detail.contains("without a first token") == true)
        #expect(
            engine.recordSlowProbe(endpointID: id("peer"), at: start.adding(seconds: 40), waitedMilliseconds: 10_000) == nil,
            "the peer's fastest peer is lowered: nowhere faster to go")
    }

    // MARK: Rate limits

    @Test func a429LowersTheShareUntilItsRetryAfterWithoutCountingAgainstReliability() {
        var engine = MemoryRanking(policy: .default, endpoints: ["busy", "peer"].map { Build.endpoint($0) }, now: start)
        for second in 0..<30 {
            _ = engine.record(ok("busy", at: Double(second), ttft: 200))
            _ = engine.record(ok("peer", at: Double(second), ttft: 200))
        }
        let before = engine.computeEpoch(now: start.adding(seconds: 30), trigger: .scheduled)
        let reliability = before.models[0].endpoints.first { $0.provider == "busy" }!.components[.reliability]
        let limited = Observation(
            endpointID: id("busy"), time: start.adding(seconds: 31), source: .live, outcome: .http429, retryAfterSeconds: 7)
        guard case .shareLimited(let trigger) = engine.record(limited) else {
            Issue.record("a 429 lowers the share")
            return
        }
        #expect(trigger.reason == ReasonCode.rateLimited && trigger.detail.contains("7.0 s"))
        // Repeated 429s extend it and set off no new epoch; a 429 without Retry-After takes the default.
        var again = limited
        again.time = start.adding(seconds: 33)
        #expect(engine.record(again) == .accepted)
        let epoch = engine.computeEpoch(now: start.adding(seconds: 34), trigger: .fastPath)
        let busy = epoch.models[0].endpoints.first { $0.provider == "busy" }!
        #expect(busy.status == .ok && busy.rank == 2 && busy.explanation.share?.basis == ShareBasis.rateLimited)
        #expect(busy.explanation.share?.limitedUntil == start.adding(seconds: 33 + 15), "at least min_seconds after the last 429")
        #expect(busy.components[.reliability] == reliability, "429s do not count against reliability")
        #expect(!engine.shareLimitEnded(at: start.adding(seconds: 47.9)) && engine.shareLimitEnded(at: start.adding(seconds: 48)))
        var bare = limited
        bare.time = start.adding(seconds: 100)
        bare.retryAfterSeconds = nil
        _ = engine.record(bare)
        #expect(engine.shareLimits(at: start.adding(seconds: 100))[id("busy")]?.until == start.adding(seconds: 115))
    }

    // MARK: Failure-rate change (CUSUM)

    @Test func aJumpAgainstItsOwnPastDemotesWithinAFewDozenRequests() {
        var watch = FaultWatch(policy: .default, endpoints: ["x", "y"].map { Build.endpoint($0) })
        var rng = SplitMix64(seed: 7)
        var time = 0.0
        func step(_ failureRate: Double) -> [FaultWatch.Event] {
            time += 0.2
            let failed = rng.uniform() < failureRate
            return watch.record(
                Observation(
                    endpointID: id("x"), time: start.adding(seconds: time), source: .live, outcome: failed ? .wrongTool : .ok,
                    ttftMilliseconds: 300)
            ).all
        }
        for _ in 0..<2_000 { #expect(step(0.02).isEmpty) }
        var requests = 0
        while requests < 1_000 {
            requests += 1
            if step(0.2).contains(where: { if case .demote(let t) = $0 { t.reason == ReasonCode.failureRateChange } else { false } }) {
                break
            }
        }
        #expect(requests <= 80, "demoted after \(requests) requests at 20% (from 2%)")
    }

    /// The false-alarm rates the docs give, by Monte Carlo over the CUSUM step the rules use:
    /// healthy endpoints (known-answer probes passing 99%; live failures at 1%) in seeded runs.
    @Test func falseAlarmsOfHealthyEndpointsAreRare() {
        func alarms(steps: Int, rate: Double, baseline: Double, rule: (ratio: Double, shift: Double, threshold: Double), seed: UInt64)
            -> Int
        {
            var rng = SplitMix64(seed: seed)
            var statistic = 0.0
            var count = 0
            for _ in 0..<steps {
                statistic = FaultWatch.cusumStep(
                    statistic, failed: rng.uniform() < rate, baseline: baseline, shiftRatio: rule.ratio, minShift: rule.shift)
                if statistic >= rule.threshold {
                    count += 1
                    statistic = 0
                }
            }
            return count
        }
        let known = Policy.default.faults.knownAnswers
        let probes = 4_000_000
        let knownAlarms = alarms(
            steps: probes, rate: 0.01, baseline: known.baselineFloor, rule: (known.shiftRatio, known.minShift, known.threshold), seed: 1)
        // Probes a week: at the healthy interval (60 s), and at the exposure cap (30 a minute).
        let perWeekDefault = 7 * 86_400 / 60.0
        let perWeekExposed = 7 * 86_400 / 2.0
        let probesPerAlarm = Double(probes) / Double(max(1, knownAlarms))
        print(
            "known answers, 99% pass: \(knownAlarms) alarms in \(probes) probes (one per \(Int(probesPerAlarm))); "
                + String(format: "%.4f", perWeekDefault / probesPerAlarm) + " per endpoint-week at 60 s, "
                + String(format: "%.2f", perWeekExposed / probesPerAlarm) + " at 30 a minute")
        #expect(perWeekDefault / probesPerAlarm < 1, "below one false demotion per endpoint-week at the default pace")

        let change = Policy.default.faults.failureChange
        let requests = 4_000_000
        let changeAlarms = alarms(
            steps: requests, rate: 0.01, baseline: 0.01, rule: (change.shiftRatio, change.minShift, change.threshold), seed: 2)
        print("failure change, 1% failures: \(changeAlarms) alarms in \(requests) requests")
        #expect(changeAlarms <= 1, "a healthy endpoint at 1% is not demoted over 4 million requests: \(changeAlarms)")
    }
}

/// A fleet simulated by hand: the real engine and probe planner, live traffic split by the
/// published shares, probes run as the planner paces them, time advanced in 100 ms steps.
struct SimulatedFleet {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    var engine: MemoryRanking
    var planner: ProbePlanner
    var rng: SplitMix64
    var now = 0.0
    var shares: [String: Double] = [:]
    var inFlight: [(endpoint: String, done: Double)] = []
    var demotedAt: [String: Double] = [:]
    var limitedAt: [String: Double] = [:]
    let providers: [String]
    let liveRate: Double
    /// Per provider: (ttft ms, live failure rate, probe failure rate), by the time in seconds.
    var behaviour: (String, Double) -> (ttft: Double, liveFailure: Double, probeFailure: Double)

    init(
        providers: [String], liveRequestsPerSecond: Double, seed: UInt64,
        behaviour: @escaping (String, Double) -> (ttft: Double, liveFailure: Double, probeFailure: Double)
    ) {
        let endpoints = providers.map { Build.endpoint($0) }
        engine = MemoryRanking(policy: .default, endpoints: endpoints, now: start)
        planner = ProbePlanner(
            rule: Policy.default.probing, knownAnswers: Policy.default.faults.knownAnswers, endpointIDs: endpoints.map(\.id), now: start,
            seed: seed)
        rng = SplitMix64(seed: seed ^ 0x5EED)
        self.providers = providers
        liveRate = liveRequestsPerSecond
        self.behaviour = behaviour
        for provider in providers { shares[provider] = 1 / Double(providers.count) }
    }

    func id(_ provider: String) -> String { "\(provider):\(Build.model)" }

    mutating func record(_ observation: Observation) {
        let provider = String(observation.endpointID.split(separator: ":")[0])
        switch engine.record(observation) {
        case .fastPath(let trigger): if demotedAt[provider] == nil { demotedAt[provider] = now; _ = trigger }
        case .shareLimited: if limitedAt[provider] == nil { limitedAt[provider] = now }
        default: break
        }
    }

    /// Runs until `seconds`, with an epoch every 30 s and after every trigger (as the daemon paces them, at most one a second).
    mutating func run(until seconds: Double) {
        var lastEpoch = now
        var pending = false
        while now < seconds {
            now += 0.1
            let time = start.adding(seconds: now)
            // Live traffic, split by share.
            if rng.uniform() < liveRate * 0.1 {
                var draw = rng.uniform()
                var chosen = providers[0]
                for provider in providers {
                    draw -= shares[provider] ?? 0
                    if draw < 0 { chosen = provider; break }
                }
                let b = behaviour(chosen, now)
                let jitter = 1 + (rng.uniform() * 2 - 1) * 0.15
                let failed = rng.uniform() < b.liveFailure
                let before = demotedAt.count + limitedAt.count
                record(
                    Observation(
                        endpointID: id(chosen), time: time, source: .live, outcome: failed ? .http5xx : .ok,
                        ttftMilliseconds: failed ? nil : b.ttft * jitter, latencyMilliseconds: b.ttft * jitter + 400,
                        outputTokensPerSecond: failed ? nil : 100 * jitter))
                if demotedAt.count + limitedAt.count != before { pending = true }
            }
            // Probes finishing, then starting.
            for (index, probe) in inFlight.enumerated().reversed() where probe.done <= now {
                inFlight.remove(at: index)
                let provider = String(probe.endpoint.split(separator: ":")[0])
                let b = behaviour(provider, now)
                let failed = rng.uniform() < b.probeFailure
                let before = demotedAt.count
                record(
                    Observation(
                        endpointID: probe.endpoint, time: time, source: .probe, outcome: failed ? .wrongValue : .ok,
                        ttftMilliseconds: b.ttft, latencyMilliseconds: b.ttft + 300, outputTokensPerSecond: 100))
                if demotedAt.count != before { pending = true }
                planner.finished(probe.endpoint, now: time, failed: failed, demoted: false, retryAfterSeconds: nil, costUSD: 0)
            }
            let suspects = engine.knownAnswerSuspects
            for provider in providers {
                planner.setKnownAnswerSuspect(id(provider), suspects.contains(id(provider)), now: time)
            }
            for (endpoint, _) in planner.takeDue(now: time, limit: 8) { inFlight.append((endpoint, now + 0.4)) }
            if now - lastEpoch >= 30 || (pending && now - lastEpoch >= 1) {
                let epoch = engine.computeEpoch(now: time, trigger: pending ? .fastPath : .scheduled)
                pending = false
                lastEpoch = now
                let entries = epoch.models[0].endpoints
                let modelRate = liveRate
                for entry in entries {
                    let provider = entry.provider
                    shares[provider] = entry.trafficShare
                    planner.setExposure(
                        entry.endpointID,
                        ProbePlanner.Exposure(share: entry.trafficShare, requestsPerSecond: entry.trafficShare * modelRate),
                        now: time)
                }
            }
        }
    }
}

@Suite struct SimulatedFleetTests {
    /// Known-answer probes of the endpoint carrying the traffic start failing 20% of the time
    /// (schema-valid wrong values: the gateway cannot see them). Default policy, ten seeds.
    @Test func wrongValuesAt20PercentAreDemotedWithin60SecondsInNineOfTenRuns() {
        var delays: [Double] = []
        for seed in 1...10 as ClosedRange<UInt64> {
            var fleet = SimulatedFleet(providers: ["fast", "mid", "slow"], liveRequestsPerSecond: 6, seed: seed) { provider, time in
                let ttft = ["fast": 150.0, "mid": 400, "slow": 700][provider]!
                return (ttft, 0.0, provider == "fast" && time >= 600 ? 0.2 : 0.01)
            }
            fleet.run(until: 600)
            #expect(fleet.demotedAt.isEmpty, "no demotion before the fault (seed \(seed)): \(fleet.demotedAt)")
            #expect((fleet.shares["fast"] ?? 0) > 0.5, "fast carries the traffic before the fault: \(fleet.shares)")
            fleet.demotedAt = [:]
            fleet.run(until: 720)
            delays.append(fleet.demotedAt["fast"].map { $0 - 600 } ?? .infinity)
        }
        let within = delays.filter { $0 <= 60 }.count
        print(
            "wrong values at 20%: demoted after "
                + delays.map { $0.isFinite ? String(format: "%.1f s", $0) : "never" }.joined(separator: ", "))
        #expect(within >= 9, "demoted within 60 s in \(within) of 10 runs: \(delays)")
    }

    /// Healthy endpoints with ordinary jitter (±15% latency, 1% transient errors, probes passing
    /// 99% of the time) over 30 minutes of simulated time: no demotion, no lowered share.
    @Test func healthyEndpointsWithJitterAreNeitherDemotedNorLoweredIn30Minutes() {
        for seed in 1...3 as ClosedRange<UInt64> {
            var fleet = SimulatedFleet(providers: ["a", "b", "c", "d"], liveRequestsPerSecond: 8, seed: seed) { provider, _ in
                (["a": 200.0, "b": 260, "c": 320, "d": 380][provider]!, 0.01, 0.01)
            }
            fleet.run(until: 1_800)
            #expect(fleet.demotedAt.isEmpty && fleet.limitedAt.isEmpty, "seed \(seed): \(fleet.demotedAt) \(fleet.limitedAt)")
        }
    }
}

/// Where a 429's Retry-After comes from: the telemetry field, the span's attributes.
@Suite struct RetryAfterInputTests {
    func decode(_ text: String) throws -> TelemetryDecoder.Batch {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try TelemetryDecoder.decode($0, format: .ndjson) }
    }

    @Test func theTelemetryFieldIsReadCheckedAndCarriedToTheObservation() throws {
        let batch = try decode(
            """
            {"request_id":"a","timestamp":"2026-01-01T00:00:00Z","model":"m","provider":"p","status":429,"retry_after_seconds":12}
            {"request_id":"b","timestamp":"2026-01-01T00:00:00Z","model":"m","provider":"p","status":429,"retry_after_seconds":-1}
            {"request_id":"c","timestamp":"2026-01-01T00:00:00Z","model":"m","provider":"p","status":429,"retry_after_seconds":null}
            """)
        #expect(batch.records.count == 2 && batch.rejected.map(\.field) == ["retry_after_seconds"])
        #expect(batch.rejected.first?.reason.contains("Retry-After in seconds") == true)
        let first = batch.records[0].record.observation(endpointID: "p:m")
        #expect(first.outcome == .http429 && first.retryAfterSeconds == 12)
        #expect(batch.records[1].record.retryAfterSeconds == nil)
    }

    @Test func spansGiveItByAttributeOrCapturedHeader() {
        func read(_ extra: [String: OTLPValue]) -> Double? {
            var attributes: [String: OTLPValue] = [
                "gen_ai.request.model": .string("m"), "gen_ai.provider.name": .string("p"), "http.response.status_code": .int(429),
            ]
            for (key, value) in extra { attributes[key] = value }
            let span = OTLPSpan(traceID: "01", spanID: "02", startNanos: 1_000, endNanos: 2_000, attributes: attributes)
            guard case .record(let record) = GenAISpanReader.read(span) else { return -1 }
            return record.retryAfterSeconds
        }
        #expect(read(["rankd.retry_after_seconds": .double(7)]) == 7)
        #expect(read(["http.response.header.retry-after": .array([.string("30")])]) == 30)
        #expect(read(["http.response.header.retry-after": .array([.string("Wed, 21 Oct 2026 07:28:00 GMT")])]) == nil)
        #expect(read([:]) == nil)
    }
}
