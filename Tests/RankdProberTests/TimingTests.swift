import Foundation
import RankdCore
import RankdMock
import RankdProber
import RankdTestKit
import Testing

/// TTFT and tokens/s measured from the stream must match what the mock was set to. The mock paces
/// against absolute deadlines on loopback, so the tolerance (10 ms, 5%) does not depend on machine
/// speed, only on a moment's load; the figures are printed for the record.
@Suite struct TimingTests {
    @Test func measuredTTFTAndThroughputMatchTheProfile() async throws {
        try await withMock([
            "acme": profile {
                $0.ttftMs = 300; $0.tokensPerSecond = 60
            }
        ]) { base, _ in
            let runner = ProbeRunner()
            var ttfts: [Double] = []
            var rates: [Double] = []
            for id in [
                "flights-sfo-jfk", "ticket-nested-enum", "email-outage", "meeting-attendees-array", "weather-paris", "forced-currency",
                "flights-sfo-jfk", "ticket-nested-enum", "email-outage",
            ] {
                let result = await runner.run(probeCase(id, stream: true), on: endpoint("acme", base: base)) {
                    Timestamp(secondsSince1970: 0)
                }
                #expect(result.verdict.outcome == .ok)
                if let ttft = result.exchange.ttftMilliseconds { ttfts.append(ttft) }
                if let rate = result.exchange.outputTokensPerSecond { rates.append(rate) }
            }
            let ttftP50 = ttfts.sorted()[ttfts.count / 2]
            let rateP50 = rates.sorted()[rates.count / 2]
            print(
                "timing: mock 300 ms / 60 tok/s -> measured TTFT p50 \(String(format: "%.1f", ttftP50)) ms, tokens/s p50 \(String(format: "%.2f", rateP50)) over \(ttfts.count) probes"
            )
            // A busy machine (the rest of the suite runs in parallel) delays some first tokens, never
            // brings one forward: none may be early, and the quickest shows the measurement's
            // precision (the median is printed above for the record).
            #expect(ttfts.allSatisfy { $0 >= 290 }, "TTFTs \(ttfts) ms")
            #expect(abs((ttfts.min() ?? 0) - 300) <= 10, "TTFTs \(ttfts) ms")
            #expect(abs(rateP50 - 60) / 60 <= 0.05, "tokens/s p50 \(rateP50)")
        }
    }
}

/// A probe still without a first token at the policy's bound is reported at once, before it ends,
/// and only once; one whose first token comes in time is not reported.
@Suite struct FirstTokenBoundTests {
    @Test func aProbeWithoutAFirstTokenIsReportedAtTheBoundNotAtItsEnd() async throws {
        try await withMock([
            "sluggish": profile { $0.ttftMs = 2_500 },
            "prompt": profile { $0.ttftMs = 100 },
        ]) { base, _ in
            let runner = ProbeRunner()
            let reports = ReportLog()
            let started = ContinuousClock.now
            let slow = await runner.run(
                probeCase("weather-paris", stream: true), on: endpoint("sluggish", base: base),
                noFirstToken: (bound: 1_000, report: { waited in reports.add(waited, at: ContinuousClock.now - started) })
            ) { Timestamp(secondsSince1970: 0) }
            let finished = ContinuousClock.now - started
            #expect(slow.verdict.outcome == .ok)
            let seen = reports.all
            #expect(seen.count == 1, "reported once: \(seen)")
            if let (waited, at) = seen.first {
                #expect(waited >= 1_000 && waited < 2_400, "reported after \(waited) ms, before the first token at 2,500 ms")
                #expect(at < finished - .milliseconds(500), "reported at \(at), the probe ended at \(finished)")
            }
            let quick = ReportLog()
            let fast = await runner.run(
                probeCase("weather-paris", stream: true), on: endpoint("prompt", base: base),
                noFirstToken: (bound: 1_000, report: { waited in quick.add(waited, at: .zero) })
            ) { Timestamp(secondsSince1970: 0) }
            #expect(fast.verdict.outcome == .ok && quick.all.isEmpty)
        }
    }
}

final class ReportLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(Double, Duration)] = []
    func add(_ waited: Double, at: Duration) { lock.withLock { entries.append((waited, at)) } }
    var all: [(Double, Duration)] { lock.withLock { entries } }
}
