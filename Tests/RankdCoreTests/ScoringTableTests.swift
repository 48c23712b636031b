import RankdCore
import RankdTestKit
import Testing

/// The scoring cases the foundation must get right, as data.
@Suite struct ScoringTableTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    /// Records observations into a fresh engine over four endpoints and computes one epoch.
    func epoch(
        _ observations: [Observation], endpoints: [Endpoint] = ["fast", "steady", "slow", "backup"].map { Build.endpoint($0) },
        at now: Timestamp? = nil, policy: Policy = .default
    ) -> Epoch {
        var engine = MemoryRanking(policy: policy, endpoints: endpoints, now: start)
        for observation in observations { _ = engine.record(observation) }
        return engine.computeEpoch(now: now ?? start.adding(seconds: 600), trigger: .scheduled)
    }

    func id(_ provider: String) -> String { "\(provider):\(Build.model)" }

    func clean(_ provider: String, count: Int = 200, ttft: Double, tps: Double, end: Timestamp) -> [Observation] {
        Build.observations(id(provider), count: count, end: end, ttftMilliseconds: ttft, tokensPerSecond: tps)
    }

    @Test func fastEndpointWithQuarterToolCallFailuresIsDemotedBehindSlowerCleanOnes() {
        let end = start.adding(seconds: 600)
        let observations =
            Build.observations(id("fast"), count: 200, end: end, failEvery: 4, ttftMilliseconds: 150, tokensPerSecond: 200)
            + clean("steady", ttft: 400, tps: 90, end: end) + clean("slow", ttft: 700, tps: 60, end: end)
            + clean("backup", ttft: 500, tps: 70, end: end)
        let ranking = epoch(observations).ranking(for: Build.model)!
        let fast = ranking.endpoints.first { $0.endpointID == id("fast") }!
        #expect(fast.status == .demoted)
        #expect(fast.reasons.contains(ReasonCode.toolCallFailureOutlier))
        #expect(fast.rank == 4)
        #expect(ranking.endpoints.prefix(3).allSatisfy { $0.status == .ok })
        #expect(fast.demotedUntil != nil)
        // It keeps its score; ordering, not score, is what demotion changes.
        #expect(fast.score > 0)
        #expect(fast.explanation.stats.toolCallFailureRate == 0.25)
    }

    @Test(arguments: [3, 10, 19])
    func tooFewRequestsNeverDemote(failures: Int) {
        let end = start.adding(seconds: 600)
        let observations =
            Build.observations(id("fast"), count: failures, end: end, failEvery: 1, ttftMilliseconds: 150)
            + clean("steady", ttft: 400, tps: 90, end: end) + clean("slow", ttft: 700, tps: 60, end: end)
        let fast = epoch(observations).ranking(for: Build.model)!.endpoints.first { $0.endpointID == id("fast") }!
        #expect(fast.status != .demoted)
        #expect(!fast.reasons.contains(ReasonCode.toolCallFailureOutlier))
    }

    @Test func tinyExcessOverHugeVolumeIsNotAnOutlier() {
        // 6% vs 3% failures is significant at this volume but below the policy's 5-point effect size floor.
        let end = start.adding(seconds: 600)
        let observations =
            Build.observations(id("fast"), count: 5_000, end: end, failEvery: 17)
            + Build.observations(id("steady"), count: 5_000, end: end, failEvery: 33)
        let fast = epoch(observations, endpoints: [Build.endpoint("fast"), Build.endpoint("steady")]).ranking(for: Build.model)!
            .endpoints.first { $0.endpointID == id("fast") }!
        #expect(fast.status == .ok)
    }

    @Test func errorRateOutlierIsDemoted() {
        let end = start.adding(seconds: 600)
        let observations =
            Build.observations(id("fast"), count: 100, end: end, failEvery: 3, failure: .http5xx)
            + clean("steady", ttft: 400, tps: 90, end: end) + clean("slow", ttft: 700, tps: 60, end: end)
        let fast = epoch(observations).ranking(for: Build.model)!.endpoints.first { $0.endpointID == id("fast") }!
        #expect(fast.status == .demoted)
        #expect(fast.reasons == [ReasonCode.errorRateOutlier])
    }

    @Test func latencyOutlierIsDemotedByMedianAndMAD() {
        let end = start.adding(seconds: 600)
        let observations =
            clean("fast", count: 50, ttft: 4_000, tps: 80, end: end) + clean("steady", count: 50, ttft: 400, tps: 80, end: end)
            + clean("slow", count: 50, ttft: 450, tps: 80, end: end) + clean("backup", count: 50, ttft: 500, tps: 80, end: end)
        let ranking = epoch(observations).ranking(for: Build.model)!
        let fast = ranking.endpoints.first { $0.endpointID == id("fast") }!
        #expect(fast.status == .demoted)
        #expect(fast.reasons == [ReasonCode.latencyOutlier])
        #expect(ranking.endpoints.filter { $0.status == .demoted }.count == 1)
    }

    @Test func allBadNeverDemotesEveryEndpoint() {
        let end = start.adding(seconds: 600)
        let endpoints = [Build.endpoint("fast"), Build.endpoint("steady")]
        // Both fail a third of tool calls: against the prior (5%) each is an outlier, but not both may be demoted.
        let observations =
            Build.observations(id("fast"), count: 100, end: end, failEvery: 3)
            + Build.observations(id("steady"), count: 100, end: end, failEvery: 2)
        var engine = MemoryRanking(policy: .default, endpoints: [Build.endpoint("fast")], now: start)
        for observation in observations where observation.endpointID == id("fast") { _ = engine.record(observation) }
        let single = engine.computeEpoch(now: end, trigger: .scheduled).ranking(for: Build.model)!
        #expect(single.endpoints[0].status == .ok)
        #expect(single.reasons == [ReasonCode.allEndpointsDegraded])

        let ranking = epoch(observations, endpoints: endpoints).ranking(for: Build.model)!
        #expect(ranking.endpoints.contains { $0.status != .demoted })
        // The better of the two goes first.
        #expect(ranking.endpoints[0].endpointID == id("fast"))
    }

    @Test func endpointsWithoutDataAreInsufficientDataAndSaySo() {
        let ranking = epoch([]).ranking(for: Build.model)!
        #expect(ranking.endpoints.count == 4)
        for entry in ranking.endpoints {
            #expect(entry.status == .insufficientData)
            #expect(entry.reasons == [ReasonCode.noObservations])
            #expect(entry.components.isEmpty)
            #expect(entry.score == 0)
        }
        #expect(ranking.endpoints.map(\.rank) == [1, 2, 3, 4])
    }

    @Test func disabledEndpointsAreLast() {
        let endpoints = [Build.endpoint("fast", enabled: false), Build.endpoint("steady")]
        let end = start.adding(seconds: 600)
        let ranking = epoch(clean("steady", ttft: 400, tps: 90, end: end), endpoints: endpoints).ranking(for: Build.model)!
        #expect(ranking.endpoints.map(\.status) == [.ok, .disabled])
        #expect(ranking.endpoints[1].reasons == [ReasonCode.disabledInConfig])
    }

    @Test func missingComponentWeightIsSpreadOverTheOthers() {
        let end = start.adding(seconds: 600)
        let ranking = epoch(clean("steady", ttft: 400, tps: 90, end: end), endpoints: [Build.endpoint("steady")]).ranking(for: Build.model)!
        let entry = ranking.endpoints[0]
        #expect(entry.explanation.missingComponents == ["benchmark"])
        let weights = entry.explanation.weights
        #expect(abs(weights.values.reduce(0, +) - 1) < 1e-5)
        #expect(abs(weights["tool_call_success"]! - 0.35 / 0.9) < 1e-5)
        // Alone in its peer set it is best at everything.
        #expect(entry.score == 1)
    }

    @Test func benchmarkScoreEntersTheScore() {
        let end = start.adding(seconds: 600)
        var engine = MemoryRanking(
            policy: .default, endpoints: [Build.endpoint("fast"), Build.endpoint("steady")],
            benchmarks: [id("fast"): 0.2, id("steady"): 0.9], now: start)
        for o in clean("fast", ttft: 400, tps: 90, end: end) + clean("steady", ttft: 400, tps: 90, end: end) { _ = engine.record(o) }
        let ranking = engine.computeEpoch(now: end, trigger: .scheduled).ranking(for: Build.model)!
        #expect(ranking.endpoints[0].endpointID == id("steady"))
        #expect(ranking.endpoints[0].components["benchmark"] == 0.9)
        #expect(ranking.endpoints[1].explanation.missingComponents.isEmpty)
    }
}
