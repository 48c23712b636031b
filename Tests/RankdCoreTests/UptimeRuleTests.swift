import RankdCore
import RankdTestKit
import Testing

/// OpenRouter's uptime rule and percentile figures, checked against a brute-force computation
/// over the same records.
@Suite struct UptimeRuleTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    /// Gateway statuses keep what the rule needs: 400, 403 and 413 are the request's fault and
    /// not counted, 429 not counted, 401/402/404 and 5xx are the endpoint's failures, and a stream
    /// that ended with an error finish reason failed mid-way.
    @Test(arguments: [
        (400, nil, Outcome.http4xx, nil), (403, nil, .http4xx, nil), (413, nil, .http4xx, nil), (422, nil, .http4xx, nil),
        (429, nil, .http429, nil), (401, nil, .http4xxEndpoint, true), (402, nil, .http4xxEndpoint, true),
        (404, nil, .http4xxEndpoint, true), (500, nil, .http5xx, true), (503, nil, .http5xx, true),
        (200, "error", .truncated, true), (200, "stop", .ok, false), (200, "tool_calls", .ok, false),
    ] as [(Int, String?, Outcome, Bool?)])
    func statusesMapToTheRule(status: Int, finishReason: String?, outcome: Outcome, failure: Bool?) {
        var record = TelemetryRecord(requestID: "r", time: start)
        record.status = status
        record.finishReason = finishReason
        #expect(record.resolvedOutcome == outcome)
        #expect(outcome.uptimeFailure == failure)
    }

    @Test func transportFailuresAndWrongToolCallsFollowTheRule() {
        #expect(Outcome.timeout.uptimeFailure == true)
        #expect(Outcome.transportError.uptimeFailure == true)
        // A wrong tool call is an answer: up, and judged by the tool-call error rate instead.
        for outcome in Outcome.allCases where outcome.isToolCallFailure { #expect(outcome.uptimeFailure == false) }
        // Every outcome is placed; the new one counts against reliability as the other 4xx did.
        #expect(Outcome.http4xxEndpoint.isRequestFailure)
        #expect(!Outcome.http4xxEndpoint.isHardFailure)
    }

    /// Random records over an hour through the windows (5 and 30 minutes): each window's
    /// uptime, tool-call error rate and request count equal a count over the records inside it,
    /// and its TTFT and throughput percentiles are within a histogram bin (5%) of the exact
    /// nearest-rank percentiles of those records.
    @Test(arguments: [1, 3, 17] as [UInt64])
    func figuresMatchBruteForce(seed: UInt64) throws {
        var windows = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 7_200, recentWindowSeconds: [300, 1_800], now: start)
        var past = MemoryWindowPast()
        var rng = SeededGenerator(seed: seed)
        var records: [Observation] = []
        var now = start
        for _ in 0..<60 {
            for _ in 0..<Int.random(in: 5...40, using: &rng) {
                let outcome = Outcome.allCases.randomElement(using: &rng)!
                let answered = outcome.uptimeFailure != true && outcome != .http4xx && outcome != .http429
                let observation = Observation(
                    endpointID: "e", time: now.adding(seconds: Double.random(in: -90...0, using: &rng)),
                    source: Bool.random(using: &rng) ? .probe : .live, outcome: outcome,
                    toolsOffered: outcome.isToolCallFailure || Bool.random(using: &rng),
                    ttftMilliseconds: answered ? Double.random(in: 80...4_000, using: &rng) : nil,
                    outputTokensPerSecond: answered ? Double.random(in: 5...300, using: &rng) : nil)
                if windows.record(observation) { records.append(observation) }
            }
            now = now.adding(seconds: 60)
            past.add(windows.drainPendingBuckets())
            try windows.advance(to: now, past: &past)
            let figures = EndpointFigures(recent: windows.recentStats(for: "e"), minutes: windows.recentWindowMinutes)
            for minutes in [5, 30] as [Int64] {
                let inside = records.filter { $0.time.minute > now.minute - minutes && $0.time.minute <= now.minute }
                let window = try #require(figures.windows[Int(minutes) * 60])
                let counted = inside.filter { $0.outcome.uptimeFailure != nil }
                let up = counted.filter { $0.outcome.uptimeFailure == false }
                #expect(window.requests == Int64(inside.count))
                #expect(window.uptimeRequests == Int64(counted.count))
                #expect(window.uptimePercent == (counted.isEmpty ? nil : Double(up.count) / Double(counted.count) * 100))
                let judged = inside.filter { $0.toolsOffered && ($0.outcome == .ok || $0.outcome.isToolCallFailure) }
                let wrong = judged.filter { $0.outcome.isToolCallFailure }
                #expect(window.toolCallErrorRate == (judged.isEmpty ? nil : Double(wrong.count) / Double(judged.count)))
                for percentile in Percentiles.Percentile.allCases {
                    Self.expectWithinABin(window.ttftMilliseconds?[percentile], exact: inside.compactMap(\.ttftMilliseconds), percentile)
                    Self.expectWithinABin(
                        window.outputTokensPerSecond?[percentile], exact: inside.compactMap(\.outputTokensPerSecond), percentile)
                }
            }
        }
    }

    /// The nearest-rank percentile of `values`, and the figure within a bin of it.
    static func expectWithinABin(_ figure: Double?, exact values: [Double], _ percentile: Percentiles.Percentile) {
        guard !values.isEmpty else {
            #expect(figure == nil)
            return
        }
        let sorted = values.sorted()
        let rank = max(1, Int((percentile.fraction * Double(sorted.count)).rounded(.up)))
        let exact = sorted[rank - 1]
        guard let figure else {
            Issue.record("no \(percentile) figure for \(values.count) values")
            return
        }
        #expect(abs(figure / exact - 1) <= LogHistogram.growth - 1 + 1e-9, "\(percentile): \(figure) vs \(exact)")
    }
}
