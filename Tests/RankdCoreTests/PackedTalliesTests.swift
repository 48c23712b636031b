import Foundation
import RankdTestKit
import Testing

@testable import RankdCore

/// Packed window tallies read back exactly as they were, whatever they hold.
@Suite struct PackedTalliesTests {
    static func randomTally(_ rng: inout SeededGenerator, observations: Int) -> Tally {
        var tally = Tally()
        let now = Timestamp(secondsSince1970: 1_767_225_600)
        for _ in 0..<observations {
            tally.record(
                Observation(
                    endpointID: "e", time: now, source: .live, outcome: Outcome.allCases.randomElement(using: &rng)!,
                    toolsOffered: Bool.random(using: &rng),
                    // From below the smallest bin (negative bins) to beyond the largest.
                    ttftMilliseconds: Bool.random(using: &rng) ? nil : pow(10, Double.random(in: -4...10, using: &rng)),
                    outputTokensPerSecond: Double.random(in: 0...400, using: &rng)))
        }
        return tally
    }

    @Test(arguments: [0, 1, 7, 300, 5_000] as [Int])
    func packedTalliesUnpackToThemselves(observations: Int) {
        var rng = SeededGenerator(seed: UInt64(observations) + 11)
        for _ in 0..<20 {
            let tallies = SourceTallies(
                probe: Self.randomTally(&rng, observations: observations / 10), live: Self.randomTally(&rng, observations: observations))
            let packed = PackedTallies(tallies)
            #expect(packed.unpacked() == tallies)
        }
    }

    /// Counts far beyond a minute's (a long window's running totals reach billions).
    @Test func hugeCountsSurvivePacking() {
        let histogram = LogHistogram(bins: [-142: 1, 0: (1 << 47) - 1, 425: 3])
        let tally = Tally(
            outcomeCounts: [.ok: Int64.max / 4, .timeout: 1], toolCallRequests: Int64.max / 4, ttftMilliseconds: histogram,
            outputTokensPerSecond: LogHistogram())
        let tallies = SourceTallies(probe: Tally(), live: tally)
        #expect(PackedTallies(tallies).unpacked() == tallies)
    }

    /// A busy minute (300 requests over a realistic spread) packs into a fraction of its
    /// unpacked size: the reason packing exists.
    @Test func busyMinutePacksSmall() {
        var rng = SeededGenerator(seed: 3)
        var tally = Tally()
        let now = Timestamp(secondsSince1970: 1_767_225_600)
        for _ in 0..<300 {
            tally.record(
                Observation(
                    endpointID: "e", time: now, source: .live, outcome: .ok, ttftMilliseconds: Double.random(in: 150...900, using: &rng),
                    outputTokensPerSecond: Double.random(in: 20...200, using: &rng)))
        }
        let unpackedBytes = 12 * 8 + 8 * (tally.ttftMilliseconds.binCount + tally.outputTokensPerSecond.binCount)
        let packed = PackedTallies(SourceTallies(live: tally))
        #expect(packed.byteCount * 3 < unpackedBytes, "\(packed.byteCount) packed bytes against \(unpackedBytes) unpacked")
    }
}
