import RankdCore
import RankdTestKit
import Testing

/// Benchmark scores fade with age (policy `benchmarks.max_age_days`): their part in the score
/// falls linearly to nothing, and the entry says how much is left.
@Suite struct BenchmarkFadingTests {
    let now = Timestamp(secondsSince1970: 1_767_225_600)

    func score(_ id: String, _ value: Double, daysOld: Double, benchmark: String = "tau2") -> BenchmarkScore {
        BenchmarkScore(endpointID: id, benchmark: benchmark, score: value, source: "test", measuredAt: now.adding(seconds: -daysOld * 86_400))
    }

    @Test func freshnessFallsLinearlyToNothing() {
        #expect(score("a", 0.5, daysOld: 0).freshness(at: now, maxAgeDays: 100) == 1)
        #expect(abs(score("a", 0.5, daysOld: 25).freshness(at: now, maxAgeDays: 100) - 0.75) < 1e-12)
        #expect(score("a", 0.5, daysOld: 100).freshness(at: now, maxAgeDays: 100) == 0)
        #expect(score("a", 0.5, daysOld: 400).freshness(at: now, maxAgeDays: 100) == 0)
        // A date ahead counts as now; 0 days: never fades.
        #expect(score("a", 0.5, daysOld: -3).freshness(at: now, maxAgeDays: 100) == 1)
        #expect(score("a", 0.5, daysOld: 4_000).freshness(at: now, maxAgeDays: 0) == 1)
    }

    @Test func figuresWeighScoresByFreshness() throws {
        let scores = [
            score("a", 0.8, daysOld: 0, benchmark: "x"), score("a", 0.2, daysOld: 75, benchmark: "y"),  // freshness 1 and 0.25
            score("b", 0.9, daysOld: 120),  // faded out
        ]
        let figures = BenchmarkScore.figures(scores, at: now, maxAgeDays: 100)
        let a = try #require(figures["a"])
        #expect(abs(a.value - (0.8 * 1 + 0.2 * 0.25) / 1.25) < 1e-12)
        #expect(abs(a.freshness - 0.625) < 1e-12)
        #expect(figures["b"] == nil, "all its scores faded: no benchmark component")
    }

    /// The benchmark keeps `freshness` of its weight; the others take the rest, and the entry
    /// shows the freshness beside the value.
    @Test func scorerGivesAFadingBenchmarkLessWeight() throws {
        let endpoints = [Build.endpoint("fresh"), Build.endpoint("stale")]
        var stats: [String: WindowStats] = [:]
        for endpoint in endpoints {
            var tally = Tally()
            for o in Build.observations(endpoint.id, count: 50, end: now) { tally.record(o) }
            stats[endpoint.id] = WindowStats(short: SourceTallies(live: tally), long: SourceTallies(live: tally))
        }
        var input = ScoringInput(
            epochID: 1, now: now, trigger: .scheduled, policy: .default, endpoints: endpoints, stats: stats,
            benchmarks: [endpoints[0].id: 0.9, endpoints[1].id: 0.9])
        input.benchmarkFreshness = [endpoints[1].id: 0.5]
        let epoch = Scorer.score(input).epoch
        let entries = try #require(epoch.models.first?.endpoints)
        let fresh = try #require(entries.first { $0.endpointID == endpoints[0].id })
        let stale = try #require(entries.first { $0.endpointID == endpoints[1].id })
        let weights = Policy.default.weights
        let total = weights.toolCallSuccess + weights.reliability + weights.throughput + weights.latency
        #expect(abs((fresh.explanation.weights[.benchmark] ?? 0) - weights.benchmark / (total + weights.benchmark)) < 1e-6)
        #expect(abs((stale.explanation.weights[.benchmark] ?? 0) - 0.5 * weights.benchmark / (total + 0.5 * weights.benchmark)) < 1e-6)
        #expect(fresh.explanation.stats.benchmarkFreshness == 1)
        #expect(stale.explanation.stats.benchmarkFreshness == 0.5)
    }
}
