import Foundation
import RankdCore
import RankdMock
import RankdProber
import RankdTestKit
import Testing

/// TTFT and tokens/s measured from the stream must match what the mock was set to. The mock paces
/// against absolute deadlines on loopback, so the tolerance (10 ms, 5%) does not depend on machine
/// speed; the figures are printed for the record.
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
            #expect(abs(ttftP50 - 300) <= 10, "TTFT p50 \(ttftP50) ms")
            #expect(abs(rateP50 - 60) / 60 <= 0.05, "tokens/s p50 \(rateP50)")
        }
    }
}
