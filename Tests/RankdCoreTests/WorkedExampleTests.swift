import RankdCore
import RankdTestKit
import Testing

/// The worked example of scoring/README.md, computed by the real scorer: if this test changes,
/// the document must change with it.
@Suite struct WorkedExampleTests {
    static func example() -> Epoch {
        let start = Timestamp(secondsSince1970: 1_767_225_600)
        let end = start.adding(seconds: 600)
        let model = "meta-llama/llama-3.3-70b-instruct"
        var engine = MemoryRanking(
            policy: .default,
            endpoints: ["fastco", "steadyco", "slowco"].map { Build.endpoint($0, model: model) },
            benchmarks: ["steadyco:\(model)": 0.44], now: start)
        let traffic =
            Build.observations("fastco:\(model)", count: 200, end: end, failEvery: 4, ttftMilliseconds: 150, tokensPerSecond: 200)
            + Build.observations("steadyco:\(model)", count: 200, end: end, failEvery: 100, ttftMilliseconds: 400, tokensPerSecond: 90)
            + Build.observations("slowco:\(model)", count: 200, end: end, failEvery: 50, ttftMilliseconds: 700, tokensPerSecond: 60)
        for observation in traffic { _ = engine.record(observation) }
        return engine.computeEpoch(now: end, trigger: .scheduled)
    }

    @Test func figuresMatchTheDocument() {
        let ranking = Self.example().models[0]
        let figures = ranking.endpoints.map { entry in
            (
                entry.provider, entry.status, (entry.score * 1000).rounded() / 1000,
                entry.components.mapValues { ($0 * 1000).rounded() / 1000 }
            )
        }
        #expect(figures.map(\.0) == ["steadyco", "slowco", "fastco"])
        #expect(figures.map(\.1) == [.ok, .ok, .demoted])
        #expect(figures.map(\.2) == [0.763, 0.74, 0.908])
        #expect(figures[0].3 == ["tool_call_success": 0.982, "reliability": 1, "throughput": 0.458, "latency": 0.377, "benchmark": 0.44])
        #expect(figures[1].3 == ["tool_call_success": 0.973, "reliability": 1, "throughput": 0.295, "latency": 0.21])
        #expect(figures[2].3["tool_call_success"] == 0.764)
        #expect(figures[0].3["tool_call_success"] == 0.982)
        #expect(figures[0].3["benchmark"] == 0.44)
        #expect(ranking.endpoints[2].reasons == ["tool_call_failure_outlier"])
        let z = OutlierRules.twoProportionZ(failures: 50, requests: 200, peerFailures: 6, peerRequests: 400)!
        #expect((z * 100).rounded() / 100 == 9.33)
    }
}

/// The traffic-share part of the worked example (scoring/README.md, "Traffic shares").
@Suite struct WorkedShareExampleTests {
    @Test func shareFiguresMatchTheDocument() {
        let ranking = WorkedExampleTests.example().models[0]
        let byName = Dictionary(uniqueKeysWithValues: ranking.endpoints.map { ($0.provider, $0) })
        let three = { (value: Double?) in value.map { ($0 * 1000).rounded() / 1000 } }
        let four = { (value: Double?) in value.map { ($0 * 10000).rounded() / 10000 } }
        let steady = byName["steadyco"]!.explanation.share!
        let slow = byName["slowco"]!.explanation.share!
        let fast = byName["fastco"]!.explanation.share!
        #expect(four(steady.quality) == 0.9897 && four(slow.quality) == 0.9844)
        #expect(four(steady.qualityMargin) == 0.0103 && four(slow.qualityMargin) == 0.0126)
        #expect(steady.basis == ShareBasis.topQualityTier && slow.basis == ShareBasis.topQualityTier)
        #expect(three(steady.routingScore) == 0.763 && three(slow.routingScore) == 0.744)
        #expect(three(steady.share) == 0.713 && three(slow.share) == 0.287)
        #expect(fast.share == 0 && fast.basis == ShareBasis.demoted)
    }
}
