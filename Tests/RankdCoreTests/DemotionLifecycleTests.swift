import RankdCore
import RankdTestKit
import Testing

/// Demotion over time: hysteresis, growth on repeat, decay, and the fast path.
@Suite struct DemotionLifecycleTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    let providers = ["fast", "steady", "slow"]
    func id(_ provider: String) -> String { "\(provider):\(Build.model)" }

    /// Feeds one minute of traffic per endpoint (20 requests each), `bad` failing half its tool calls.
    func feedMinute(_ engine: inout MemoryRanking, ending end: Timestamp, bad: Bool) {
        for provider in providers {
            let failEvery = provider == "fast" && bad ? 2 : 0
            for o in Build.observations(id(provider), count: 20, end: end, spanSeconds: 59, failEvery: failEvery) {
                _ = engine.record(o)
            }
        }
    }

    func entry(_ epoch: Epoch, _ provider: String) -> EndpointRanking {
        epoch.ranking(for: Build.model)!.endpoints.first { $0.endpointID == id(provider) }!
    }

    /// Runs minutes of traffic, computing an epoch every minute; returns the minute offsets at
    /// which `fast` was demoted.
    func run(_ engine: inout MemoryRanking, minutes: Range<Int>, badWhile isBad: (Int) -> Bool) -> [Int] {
        var demotedAt: [Int] = []
        for minute in minutes {
            let end = start.adding(seconds: Double(minute + 1) * 60 - 1)
            feedMinute(&engine, ending: end, bad: isBad(minute))
            let epoch = engine.computeEpoch(now: end, trigger: .scheduled)
            if entry(epoch, "fast").status == .demoted { demotedAt.append(minute) }
        }
        return demotedAt
    }

    @Test func recoveredEndpointComesBackOnlyAfterHysteresis() {
        var engine = MemoryRanking(policy: .default, endpoints: providers.map { Build.endpoint($0) }, now: start)
        // Bad for 10 minutes, then clean.
        let demoted = run(&engine, minutes: 0..<60) { $0 < 10 }
        #expect(demoted.first! < 10, "demoted while failing")
        let last = demoted.last!
        // Clean from minute 10: it stays demoted while the short window still holds the failures
        // and then for the clean period (300 s) after the rule last fired.
        #expect(last >= 10 + 5, "released too early, at minute \(last)")
        #expect(last < 45, "never released")
        #expect(Set(demoted) == Set(demoted.first!...last), "one continuous demotion, no flapping")
    }

    @Test func repeatedDemotionLastsLonger() {
        var state = DemotionState()
        let policy = Policy.default.demotion
        state.update(firing: ["x"], now: start, policy: policy)
        let first = state.demotedUntil!.seconds(since: start)
        // Clean long enough to be released.
        let released = start.adding(seconds: first + policy.cleanSeconds)
        state.update(firing: [], now: released, policy: policy)
        #expect(!state.isDemoted)
        let again = released.adding(seconds: 60)
        state.update(firing: ["x"], now: again, policy: policy)
        let second = state.demotedUntil!.seconds(since: again)
        #expect(first == policy.baseSeconds)
        #expect(second == 2 * policy.baseSeconds)
        #expect(state.level == 2)
    }

    @Test func repeatCountDecaysWhileHealthy() {
        let policy = Policy.default.demotion
        var state = DemotionState(level: 3, releasedAt: start)
        #expect(state.decayedLevel(at: start.adding(seconds: policy.decaySeconds * 2), policy: policy) == 1)
        state.update(firing: ["x"], now: start.adding(seconds: policy.decaySeconds * 10), policy: policy)
        #expect(state.level == 1)
    }

    @Test func demotionLengthIsCapped() {
        let policy = Policy.default.demotion
        var state = DemotionState(level: 100, releasedAt: start)
        state.update(firing: ["x"], now: start, policy: policy)
        #expect(state.demotedUntil!.seconds(since: start) == policy.maxSeconds)
    }

    @Test func endpointInHysteresisSaysRecovering() {
        // The fast path can demote without minute data: `recovering` shows once no rule fires.
        var state = DemotionState()
        state.update(firing: ["consecutive_failures"], now: start, policy: Policy.default.demotion)
        var policy = Policy.default
        policy.status.minimumSamples = 0
        let input = ScoringInput(
            epochID: 1, now: start.adding(seconds: 10), trigger: .scheduled, policy: policy,
            endpoints: providers.map { Build.endpoint($0) }, stats: [:], demotions: [id("fast"): state])
        let entry = Scorer.score(input).epoch.ranking(for: Build.model)!.endpoints.last!
        #expect(entry.endpointID == id("fast"))
        #expect(entry.reasons == ["consecutive_failures", ReasonCode.recovering])
    }

    @Test func fastPathDemotesBetweenEpochsOnConsecutiveHardFailures() {
        var engine = MemoryRanking(policy: .default, endpoints: providers.map { Build.endpoint($0) }, now: start)
        var results: [RankingEngine.RecordResult] = []
        for second in 0..<5 {
            results.append(
                engine.record(
                    Observation(endpointID: id("fast"), time: start.adding(seconds: Double(second)), source: .probe, outcome: .http5xx)))
        }
        #expect(results.prefix(4).allSatisfy { $0 == .accepted })
        guard case .fastPath(let trigger) = results[4] else {
            Issue.record("fifth hard failure did not trip the fast path: \(results[4])")
            return
        }
        #expect(trigger.reason == ReasonCode.consecutiveFailures)
        let epoch = engine.computeEpoch(now: start.adding(seconds: 5), trigger: .fastPath)
        let fast = entry(epoch, "fast")
        #expect(fast.status == .demoted)
        #expect(fast.reasons == [ReasonCode.consecutiveFailures])
        #expect(epoch.trigger == .fastPath)
    }

    @Test func successBetweenHardFailuresResetsTheRun() {
        var detector = FastPathDetector(rule: Policy.default.fastPath)
        var fired = 0
        for index in 0..<40 {
            let outcome: Outcome = index % 4 == 3 ? .ok : .timeout
            if detector.record(
                Observation(endpointID: "e", time: start.adding(seconds: Double(index) * 10), source: .live, outcome: outcome)) != nil
            {
                fired += 1
            }
        }
        #expect(fired == 0)
    }

    @Test func failureBurstTripsTheFastPath() {
        var detector = FastPathDetector(rule: Policy.default.fastPath)
        var trigger: FastPathDetector.Trigger?
        // Alternate ok and wrong tool calls, two per second: never 5 hard failures in a row.
        for index in 0..<20 where trigger == nil {
            let outcome: Outcome = index % 2 == 0 ? .ok : .wrongTool
            trigger = detector.record(
                Observation(endpointID: "e", time: start.adding(seconds: Double(index) / 2), source: .live, outcome: outcome))
        }
        #expect(trigger?.reason == ReasonCode.failureBurst)
    }

    @Test func spreadOutFailuresAreNoBurst() {
        var detector = FastPathDetector(rule: Policy.default.fastPath)
        var fired = false
        // Half fail, but only one request every 10 s: never 10 requests in 30 s.
        for index in 0..<100 {
            let outcome: Outcome = index % 2 == 0 ? .ok : .wrongValue
            fired =
                fired
                || detector.record(
                    Observation(endpointID: "e", time: start.adding(seconds: Double(index) * 10), source: .live, outcome: outcome)) != nil
        }
        #expect(!fired)
    }

    /// An endpoint flooded within single seconds: a second's slot stops counting at 65,535, nothing
    /// traps, and the burst rule reads the rate of what was counted (the window's sums agree with
    /// the slots).
    @Test func floodedSecondsSaturateWithoutLosingTheRate() {
        var rule = Policy.default.fastPath
        rule.burstWindowSeconds = 2
        rule.burstMinRequests = 100_000
        rule.burstFailureRate = 0.5
        rule.consecutiveFailures = 0
        var detector = FastPathDetector(rule: rule)
        var trigger: FastPathDetector.Trigger?
        for _ in 0..<70_000 {
            #expect(detector.record(Observation(endpointID: "e", time: start, source: .live, outcome: .ok)) == nil)
        }
        var failures = 0
        while trigger == nil && failures < 70_000 {
            failures += 1
            trigger = detector.record(Observation(endpointID: "e", time: start.adding(seconds: 1), source: .live, outcome: .wrongTool))
        }
        // 65,535 of the first second's requests counted, so the rate reaches one half at the 65,535th failure.
        #expect(failures == 65_535)
        #expect(trigger?.reason == ReasonCode.failureBurst)
        #expect(trigger?.detail == "65535 of 131070 requests failed in 2 s")
    }

    /// The detector's ring of per-second slots with running totals fires exactly where a plain
    /// list of every observation, summed over the window at each step, says it should: seconds
    /// out of order, gaps longer than the window, late observations, bursts and runs.
    @Test func burstRingAgreesWithTheObviousSlidingWindow() {
        var rule = Policy.default.fastPath
        rule.burstWindowSeconds = 7
        rule.burstMinRequests = 6
        rule.consecutiveFailures = 9
        var random = SplitMix64(seed: 7)
        var detector = FastPathDetector(rule: rule)
        var seen: [(second: Int64, failure: Bool)] = []
        var run = 0
        var newest = Int64.min
        var second: Int64 = 1_000
        var fired = (burst: 0, run: 0)
        for _ in 0..<20_000 {
            // Mostly forward a second or two, sometimes a long gap, sometimes back in time.
            switch random.next() % 20 {
            case 0: second += Int64(random.next() % 20)
            case 1, 2: second -= Int64(random.next() % 10)
            default: second += Int64(random.next() % 2)
            }
            let outcomes: [Outcome] = [.ok, .ok, .timeout, .wrongTool, .http429, .http5xx]
            let outcome = outcomes[Int(random.next() % UInt64(outcomes.count))]
            let isFailure = outcome.isRequestFailure && outcome != .http429 || outcome.isToolCallFailure
            if outcome.isHardFailure { run += 1 } else if outcome != .http429 { run = 0 }
            newest = max(newest, second)
            if second > newest - 7 { seen.append((second, isFailure)) }
            seen.removeAll { $0.second <= newest - 7 }
            let inWindow = seen
            let failures = inWindow.filter(\.failure).count
            let expected: String?
            if run >= 9 {
                expected = ReasonCode.consecutiveFailures
            } else if inWindow.count >= 6, Double(failures) / Double(inWindow.count) >= rule.burstFailureRate {
                expected = ReasonCode.failureBurst
            } else {
                expected = nil
            }
            let trigger = detector.record(
                Observation(endpointID: "e", time: Timestamp(secondsSince1970: Double(second) + 0.5), source: .live, outcome: outcome))
            #expect(trigger?.reason == expected, "at second \(second) with \(inWindow.count) requests, \(failures) failed")
            if trigger?.reason != expected { return }
            if expected != nil {
                // A trigger restarts the endpoint's counters.
                seen.removeAll()
                run = 0
                newest = .min
                if expected == ReasonCode.failureBurst { fired.burst += 1 } else { fired.run += 1 }
            }
        }
        #expect(fired.burst > 50 && fired.run > 0, "the sequence exercised both rules: \(fired)")
    }

    /// The check between epochs sees minutes recorded after the last epoch (time advances first),
    /// fires only for endpoints not yet demoted, and stays quiet for healthy peers.
    @Test func outlierCheckBetweenEpochsSeesNewMinutes() {
        var engine = MemoryRanking(policy: .default, endpoints: providers.map { Build.endpoint($0) }, now: start)
        _ = engine.computeEpoch(now: start, trigger: .startup)
        let later = start.adding(seconds: 150)
        for provider in providers {
            for o in Build.observations(id(provider), count: 40, end: later, spanSeconds: 60, failEvery: provider == "fast" ? 4 : 0) {
                _ = engine.record(o)
            }
        }
        #expect(engine.outliersBetweenEpochs(now: later) == [id("fast"): [ReasonCode.toolCallFailureOutlier]])
        _ = engine.computeEpoch(now: later, trigger: .fastPath)
        #expect(engine.outliersBetweenEpochs(now: later).isEmpty, "already demoted: no new epoch asked for")
    }
}
