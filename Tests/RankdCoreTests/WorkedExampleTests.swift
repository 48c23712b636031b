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
        var engine = RankingEngine(
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
