import RankdCore
import RankdTestKit
import Testing

/// Properties every epoch must have, checked over seeded random fleets.
@Suite struct ScoringPropertyTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    let providers = ["a", "b", "c", "d", "e"]
    func id(_ provider: String) -> String { "\(provider):\(Build.model)" }

    /// A random but reproducible fleet's traffic: each endpoint its own failure mix and speed.
    func traffic(seed: UInt64) -> [Observation] {
        var rng = SeededGenerator(seed: seed)
        var all: [Observation] = []
        let failures: [Outcome] = [.schemaViolation, .http5xx, .timeout, .wrongTool, .http429]
        for provider in providers {
            let count = Int.random(in: 0...300, using: &rng)
            let failEvery = Int.random(in: 0...8, using: &rng)
            let failure = failures.randomElement(using: &rng)!
            let ttft = Double.random(in: 100...3_000, using: &rng)
            let tps = Double.random(in: 20...250, using: &rng)
            all += Build.observations(
                id(provider), count: count, end: start.adding(seconds: 600), source: Bool.random(using: &rng) ? .live : .probe,
                failEvery: failEvery, failure: failure, ttftMilliseconds: ttft, tokensPerSecond: tps)
        }
        return all
    }

    /// The fast path and the fault rules react to runs, bursts, sequences and recent samples in
    /// arrival order by design, so the order property is checked on the epoch scorer with them
    /// switched off.
    static let withoutFastPath: Policy = {
        var policy = Policy.default
        policy.fastPath.consecutiveFailures = 0
        policy.fastPath.burstMinRequests = 0
        policy.faults.failureChange.threshold = 0
        policy.faults.knownAnswers.threshold = 0
        policy.faults.latency.minSamples = 1_000_000
        policy.faults.rateLimits.defaultRetryAfterSeconds = 0
        return policy
    }()

    func epoch(_ observations: [Observation], policy: Policy = .default) -> Epoch {
        var engine = MemoryRanking(policy: policy, endpoints: providers.map { Build.endpoint($0) }, now: start)
        for observation in observations { _ = engine.record(observation) }
        return engine.computeEpoch(now: start.adding(seconds: 600), trigger: .scheduled)
    }

    /// Large registries are scored on all cores: the epoch and the demotion memory must be exactly
    /// those of one thread, over two epochs (the second reads the first's demotions).
    @Test func scoringOnAllCoresGivesTheEpochOfOneThread() {
        let seed: UInt64 = 11
        let models = (0..<(Scorer.parallelFromEndpoints / providers.count + 7)).map { "acme/model-\($0)" }
        let endpoints = models.flatMap { model in providers.map { Build.endpoint($0, model: model, enabled: model.hasSuffix("3") ? $0 != "e" : true) } }
        var rng = SeededGenerator(seed: seed)
        var observations: [Observation] = []
        let failures: [Outcome] = [.schemaViolation, .http5xx, .timeout, .wrongTool]
        for endpoint in endpoints {
            let failEvery = Int.random(in: 0...6, using: &rng)
            observations += Build.observations(
                endpoint.id, count: Int.random(in: 0...30, using: &rng), end: start.adding(seconds: 600), source: .live,
                failEvery: failEvery, failure: failures.randomElement(using: &rng)!, ttftMilliseconds: Double.random(in: 100...3_000, using: &rng),
                tokensPerSecond: Double.random(in: 20...250, using: &rng))
        }
        var serial = MemoryRanking(policy: .default, endpoints: endpoints, now: start)
        serial.parallelism = .serial
        var parallel = MemoryRanking(policy: .default, endpoints: endpoints, now: start)
        parallel.parallelism = .threads(4)
        _ = serial.record(batch: observations)
        _ = parallel.record(batch: observations)
        #expect(endpoints.count >= Scorer.parallelFromEndpoints)
        for minutes in [10.0, 20.0] {
            let one = serial.computeEpoch(now: start.adding(seconds: minutes * 60), trigger: .scheduled)
            let all = parallel.computeEpoch(now: start.adding(seconds: minutes * 60), trigger: .scheduled)
            #expect(one == all)
            #expect(serial.demotions == parallel.demotions)
            #expect(one.models.count == models.count)
        }
        #expect(serial.demotions.values.contains { $0.isDemoted }, "some endpoints demoted: the memory is exercised")
    }

    @Test(arguments: 1...25 as ClosedRange<UInt64>)
    func orderOfInputsNeverChangesTheEpoch(seed: UInt64) {
        let observations = traffic(seed: seed)
        var rng = SeededGenerator(seed: seed &* 7_919)
        let shuffled = observations.shuffled(using: &rng)
        #expect(epoch(observations, policy: Self.withoutFastPath) == epoch(shuffled, policy: Self.withoutFastPath))
    }

    @Test(arguments: 1...25 as ClosedRange<UInt64>)
    func replayingTheSameObservationsGivesTheSameEpoch(seed: UInt64) {
        let observations = traffic(seed: seed)
        #expect(epoch(observations) == epoch(observations))
    }

    @Test(arguments: 1...25 as ClosedRange<UInt64>)
    func demotedEndpointsAreAfterEveryHealthyOne(seed: UInt64) {
        for ranking in epoch(traffic(seed: seed)).models {
            let tiers = ranking.endpoints.map(\.status)
            if let firstDemoted = tiers.firstIndex(of: .demoted) {
                #expect(!tiers[firstDemoted...].contains(.ok))
                #expect(!tiers[firstDemoted...].contains(.insufficientData))
            }
            #expect(ranking.endpoints.map(\.rank) == Array(1...ranking.endpoints.count))
        }
    }

    @Test(arguments: [Outcome.schemaViolation, .http5xx, .timeout, .noToolCall, .truncated], 1...8 as ClosedRange<UInt64>)
    func moreFailuresNeverRaiseAScore(failure: Outcome, seed: UInt64) {
        let base = traffic(seed: seed)
        let before = epoch(base)
        for provider in providers {
            let extra = (0..<15).map { index in
                Observation(endpointID: id(provider), time: start.adding(seconds: Double(300 + index)), source: .live, outcome: failure)
            }
            let after = epoch(base + extra)
            let old = before.ranking(for: Build.model)!.endpoints.first { $0.endpointID == id(provider) }!
            let new = after.ranking(for: Build.model)!.endpoints.first { $0.endpointID == id(provider) }!
            #expect(new.score <= old.score, "\(provider): \(old.score) -> \(new.score) after 15 × \(failure)")
            if old.status == .demoted { #expect(new.status == .demoted) }
        }
    }

    @Test(arguments: 1...10 as ClosedRange<UInt64>)
    func scoresAndComponentsStayInUnitRange(seed: UInt64) {
        for entry in epoch(traffic(seed: seed)).models.flatMap(\.endpoints) {
            #expect((0...1).contains(entry.score))
            for value in entry.components.values { #expect((0...1).contains(value)) }
        }
    }
}
