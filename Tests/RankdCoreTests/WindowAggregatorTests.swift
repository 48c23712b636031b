import RankdCore
import RankdTestKit
import Testing

@Suite struct WindowAggregatorTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    /// The running window totals must equal a brute-force sum over the minutes inside each window,
    /// however time advances (small steps, big jumps, data arriving late or early), with what was
    /// counted written to the past before each advance and read back as it leaves (as the daemon's
    /// ledger does with `state.db`).
    @Test(arguments: [1, 2, 7, 61, 3_000] as [Int])
    func runningTotalsMatchBruteForce(stepMinutes: Int) throws {
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 3_600, recentWindowSeconds: [300, 1_800], now: start)
        var past = MemoryWindowPast()
        var all: [Observation] = []
        var rng = SeededGenerator(seed: UInt64(stepMinutes))
        var now = start
        for _ in 0..<40 {
            for _ in 0..<20 {
                // Some late (up to 20 min old) and some a minute ahead.
                let offset = Double.random(in: -1_200...60, using: &rng)
                let o = Observation(
                    endpointID: "e", time: now.adding(seconds: offset), source: Bool.random(using: &rng) ? .probe : .live,
                    outcome: Outcome.allCases.randomElement(using: &rng)!, ttftMilliseconds: Double.random(in: 50...900, using: &rng))
                if aggregator.record(o) { all.append(o) }
            }
            // Between advances too: the packed totals, the current minute and the late records.
            let between = aggregator.stats(for: "e")
            #expect(between.short == bruteForce(all, now: now, minutes: 15))
            #expect(between.long == bruteForce(all, now: now, minutes: 60, span: aggregator.coarseMinutes))
            #expect(aggregator.recentStats(for: "e") == [bruteForce(all, now: now, minutes: 5), bruteForce(all, now: now, minutes: 30)])
            now = now.adding(seconds: Double(stepMinutes) * 60)
            past.add(aggregator.drainPendingBuckets())
            try aggregator.advance(to: now, past: &past)
            let stats = aggregator.stats(for: "e")
            #expect(stats.short == bruteForce(all, now: now, minutes: 15))
            #expect(stats.long == bruteForce(all, now: now, minutes: 60, span: aggregator.coarseMinutes))
            #expect(aggregator.recentStats(for: "e") == [bruteForce(all, now: now, minutes: 5), bruteForce(all, now: now, minutes: 30)])
            // Everything before the current minute is packed (records are at most a minute ahead).
            #expect(aggregator.unpackedTallyCount <= 1)
        }
        // 2-minute spans; memory holds the current minute and a minute ahead, no past.
        #expect(aggregator.coarseMinutes == 2)
        #expect(aggregator.storedMinuteCount <= 2)
        #expect(aggregator.storedSpanCount == 0)
    }

    /// With past tallies in the store, the windows hold their totals and the current minute only,
    /// and subtract the store's rows of what leaves them: the totals must still equal the brute
    /// force, for two endpoints whose rows come interleaved by endpoint, with records late, early
    /// and too old (stored, as the daemon stores them, but not counted), and a reading that fails
    /// half-way leaves the windows exactly as they were.
    @Test(arguments: [1, 2, 7, 61, 3_000] as [Int])
    func pastInTheStoreMatchesBruteForce(stepMinutes: Int) throws {
        struct ReadFailed: Error {}
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 3_600, recentWindowSeconds: [1_800, 300], now: start)
        var counted: [String: [Observation]] = ["e": [], "f": []]
        var stored: [MinuteBucket] = []
        var rng = SeededGenerator(seed: UInt64(stepMinutes) + 100)
        var now = start
        var failures = 0
        for round in 0..<40 {
            for _ in 0..<30 {
                // Some too old (up to 70 min), some late, some a minute ahead.
                let offset = Double.random(in: -4_200...60, using: &rng)
                let id = Bool.random(using: &rng) ? "e" : "f"
                let o = Observation(
                    endpointID: id, time: now.adding(seconds: offset), source: Bool.random(using: &rng) ? .probe : .live,
                    outcome: Outcome.allCases.randomElement(using: &rng)!, ttftMilliseconds: Double.random(in: 50...900, using: &rng))
                var tally = Tally()
                tally.record(o)
                stored.append(MinuteBucket(endpointID: id, minute: o.time.minute, source: o.source, tally: tally))
                if aggregator.record(o, persist: false) { counted[id]!.append(o) }
            }
            let next = now.adding(seconds: Double(stepMinutes) * 60)
            func read(_ departures: WindowAggregator.Departures, failAfter: Int?, _ subtract: (MinuteBucket, WindowAggregator.Departure) -> Void)
                throws
            {
                var rows = 0
                let recent = departures.recentMinutes.enumerated().map { ($0.element, WindowAggregator.Departure.recentWindow($0.offset)) }
                for (range, side) in [(departures.shortMinutes, WindowAggregator.Departure.shortWindow), (departures.longMinutes, .longWindow)] + recent {
                    guard let range else { continue }
                    for bucket in stored.filter({ range.contains($0.minute) }).sorted(by: { $0.endpointID < $1.endpointID }) {
                        if let failAfter, rows == failAfter { throw ReadFailed() }
                        subtract(bucket, side)
                        rows += 1
                    }
                }
                if failAfter != nil { throw ReadFailed() }
            }
            // Every third advance first fails after a few rows, then is retried.
            if round % 3 == 1 {
                let before = (aggregator.stats(for: "e"), aggregator.stats(for: "f"), aggregator.currentMinute, aggregator.recentStats(for: "e"))
                #expect(throws: ReadFailed.self) {
                    try aggregator.advance(to: next) { departures, subtract in try read(departures, failAfter: 3, subtract) }
                }
                #expect(aggregator.stats(for: "e") == before.0)
                #expect(aggregator.stats(for: "f") == before.1)
                #expect(aggregator.recentStats(for: "e") == before.3)
                #expect(aggregator.currentMinute == before.2)
                failures += 1
            }
            try aggregator.advance(to: next) { departures, subtract in try read(departures, failAfter: nil, subtract) }
            now = next
            for id in ["e", "f"] {
                let stats = aggregator.stats(for: id)
                #expect(stats.short == bruteForce(counted[id]!, now: now, minutes: 15))
                #expect(stats.long == bruteForce(counted[id]!, now: now, minutes: 60, span: aggregator.coarseMinutes))
                // Given in any order, the recent windows come sorted: 5 then 30 minutes.
                #expect(aggregator.recentStats(for: id) == [bruteForce(counted[id]!, now: now, minutes: 5), bruteForce(counted[id]!, now: now, minutes: 30)])
            }
            // Nothing of the past is held: the current minute and those ahead of it only.
            #expect(aggregator.storedMinuteCount <= 2 * 2)
            #expect(aggregator.storedSpanCount == 0)
            // The packed totals (`rankd_window_total_bytes`) hold a bin per TTFT value band seen
            // (50-900 ms: at most 60 bins a histogram), whatever the traffic's length.
            #expect(aggregator.packedTotalBytes > 0)
            #expect(aggregator.packedTotalBytes < 4_096, "\(aggregator.packedTotalBytes) bytes")
        }
        #expect(failures > 0)
        #expect(counted["e"]!.count + counted["f"]!.count < stored.count)
    }

    /// The windows move only with the rows of what leaves them: every advance has a minute
    /// leaving the short window, and the long window's spans leave whole.
    @Test func pastInTheStoreMovesOnlyWithItsRows() {
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: start)
        aggregator.record(Observation(endpointID: "e", time: start, source: .live, outcome: .ok))
        #expect(aggregator.currentMinute == start.minute)
        #expect(aggregator.stats(for: "e").short.live.total == 1)
        let c = start.minute
        let departures = aggregator.departures(to: start.adding(seconds: 600))
        #expect(departures.shortMinutes == (c - 14)...(c - 5))
        // The long window starts at c - 1439; its first hour span ends after c - 1430.
        #expect(departures.longMinutes == nil)
        #expect(departures.spanMinutes == 60)
        let later = aggregator.departures(to: start.adding(seconds: 3_600 * 2))
        let firstSpan = WindowAggregator.spanStart(of: c - 1_439, span: 60)
        #expect(later.longMinutes?.lowerBound == firstSpan)
        #expect(later.longMinutes.map { ($0.upperBound + 1 - $0.lowerBound) % 60 } == 0)
        #expect(aggregator.departures(to: start).isEmpty)
    }

    /// Observations whose minute is in the window; with `span`, also those whose span of minutes
    /// (aligned to multiples of `span`) still overlaps the window: the long window's rule.
    func bruteForce(_ observations: [Observation], now: Timestamp, minutes: Int64, span: Int64 = 1) -> SourceTallies {
        var tallies = SourceTallies()
        let windowStart = now.minute - minutes + 1
        for o in observations where o.time.minute <= now.minute {
            let spanEnd = (o.time.minute / span) * span + span - 1
            guard o.time.minute >= windowStart || spanEnd >= windowStart else { continue }
            tallies[o.source].record(o)
        }
        return tallies
    }

    /// The default 24 h window leaves by hour spans: over days of traffic every minute, memory
    /// holds the current minute only, and the long window still counts every minute of the last
    /// 24 h (plus at most 59 older ones).
    @Test func dayOfTrafficLeavesTheLongWindowByHours() throws {
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: start)
        var past = MemoryWindowPast()
        #expect(aggregator.coarseMinutes == 60)
        var now = start
        var recorded: [Observation] = []
        for minute in 0..<(3 * 1_440) {
            now = start.adding(seconds: Double(minute) * 60)
            past.add(aggregator.drainPendingBuckets())
            try aggregator.advance(to: now, past: &past)
            let o = Observation(
                endpointID: "e", time: now.adding(seconds: 5), source: .live, outcome: minute % 7 == 0 ? .http5xx : .ok,
                ttftMilliseconds: Double(100 + minute % 300))
            let accepted = aggregator.record(o)
            #expect(accepted)
            recorded.append(o)
        }
        past.add(aggregator.drainPendingBuckets())
        try aggregator.advance(to: now.adding(seconds: 60), past: &past)
        now = now.adding(seconds: 60)
        #expect(aggregator.storedMinuteCount <= 1)
        #expect(aggregator.storedSpanCount == 0)
        #expect(past.minuteCount <= 1_440 + 60, "the past forgets what left the long window")
        let stats = aggregator.stats(for: "e")
        #expect(stats.short == bruteForce(recorded, now: now, minutes: 15))
        #expect(stats.long == bruteForce(recorded, now: now, minutes: 1_440, span: 60))
        #expect(stats.long.live.total >= 1_440 - 1 && stats.long.live.total <= 1_440 + 59)
    }

    /// An hour rolled up by the store loads into its span and leaves the long window with it.
    @Test func storedHourSpansLoadIntoTheLongWindow() throws {
        let now = start
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 86_400, now: now)
        var past = MemoryWindowPast()
        var hour = Tally()
        for n in 0..<100 {
            hour.record(Observation(endpointID: "e", time: now, source: .live, outcome: n < 10 ? .timeout : .ok, ttftMilliseconds: 200))
        }
        let hourStart = aggregator.spanStart(of: now.minute) - 120
        let hourRow = MinuteBucket(endpointID: "e", minute: hourStart, source: .live, tally: hour, spanMinutes: 60)
        past.add([hourRow])
        let recent = aggregator.load(hourRow)
        let old = aggregator.load(MinuteBucket(endpointID: "e", minute: hourStart - 1_500, source: .live, tally: hour, spanMinutes: 60))
        #expect(recent)
        #expect(!old)
        #expect(aggregator.unpackedTallyCount == 1)
        aggregator.packPast()
        #expect(aggregator.unpackedTallyCount == 0, "loaded spans are packed after loading")
        #expect(aggregator.stats(for: "e").long.live == hour)
        #expect(aggregator.stats(for: "e").short.live.isEmpty)
        // 24 h after the hour's last minute it has left.
        try aggregator.advance(to: Timestamp(secondsSince1970: Double(hourStart + 59 + 1_440) * 60), past: &past)
        #expect(aggregator.stats(for: "e").long.live.isEmpty)
        #expect(aggregator.storedSpanCount == 0)
    }

    @Test func tooOldObservationsAreRefused() {
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 3_600, now: start)
        let old = aggregator.record(Observation(endpointID: "e", time: start.adding(seconds: -3_700), source: .live, outcome: .ok))
        let recent = aggregator.record(Observation(endpointID: "e", time: start.adding(seconds: -3_500), source: .live, outcome: .ok))
        #expect(!old)
        #expect(recent)
    }

    @Test func pendingBucketsAreDrainedOncePerMinute() {
        var aggregator = WindowAggregator(shortWindowSeconds: 900, longWindowSeconds: 3_600, now: start)
        for o in Build.observations("e", count: 30, end: start.adding(seconds: 119), spanSeconds: 120) { aggregator.record(o) }
        let buckets = aggregator.drainPendingBuckets()
        #expect(buckets.count == 2)
        #expect(buckets.map(\.tally.total).reduce(0, +) == 30)
        #expect(aggregator.drainPendingBuckets().isEmpty)
    }
}

@Suite struct PrimitiveTests {
    @Test(arguments: [0.5, 0.9, 0.99])
    func histogramQuantileIsWithinOneBin(q: Double) {
        var histogram = LogHistogram()
        for value in 1...10_000 { histogram.record(Double(value)) }
        let exact = q * 10_000
        let estimate = histogram.quantile(q)!
        #expect(abs(estimate - exact) / exact < 0.05)
    }

    @Test func histogramSubtractionUndoesAddition() {
        var a = LogHistogram()
        var b = LogHistogram()
        for value in [1.0, 5, 10, 200] { a.record(value) }
        for value in [5.0, 7, 9000] { b.record(value) }
        var sum = a
        sum.add(b)
        sum.subtract(b)
        #expect(sum == a)
        #expect(LogHistogram(sortedPairs: a.sortedPairs) == a)
    }

    @Test(arguments: [
        ("2026-11-25T06:25:24Z", 1_795_587_924.0),
        ("1970-01-01T00:00:00Z", 0.0),
        ("2000-02-29T12:00:00Z", 951_825_600.0),
    ])
    func rfc3339RoundTrips(text: String, seconds: Double) {
        #expect(RFC3339.format(Timestamp(secondsSince1970: seconds)) == text)
        #expect(RFC3339.parse(text)?.secondsSince1970 == seconds)
    }

    @Test func rfc3339ParsesOffsetsAndFractionsAndRefusesJunk() {
        #expect(RFC3339.parse("2026-11-25T08:25:24.5+02:00")?.secondsSince1970 == 1_795_587_924.5)
        #expect(RFC3339.parse("2026-11-25 06:25:24") == nil)
        #expect(RFC3339.parse("yesterday") == nil)
        #expect(RFC3339.parse("2026-13-25T06:25:24Z") == nil)
    }

    @Test(arguments: [
        (25 as Int64, 100 as Int64, 5 as Int64, 300 as Int64, true),
        (1, 3, 0, 300, false),
        (8, 100, 6, 300, false),
    ])
    func failureOutlierRule(failures: Int64, requests: Int64, peerFailures: Int64, peerRequests: Int64, expected: Bool) {
        #expect(
            OutlierRules.isFailureOutlier(
                failures: failures, requests: requests, peerFailures: peerFailures, peerRequests: peerRequests,
                priorFailureRate: 0.05, rule: Policy.default.demotion.failureOutlier) == expected)
    }

    @Test func latencyThresholdNeedsEnoughPeersAndIsRobust() {
        let rule = Policy.default.demotion.latencyOutlier
        #expect(OutlierRules.latencyThreshold(peerValues: [100, 5_000], rule: rule) == nil)
        let threshold = OutlierRules.latencyThreshold(peerValues: [400, 420, 450, 5_000], rule: rule)!
        #expect(threshold > 450 && threshold < 5_000)
    }

    @Test func policyHashIsStableAndSensitive() {
        var changed = Policy.default
        changed.weights.latency = 0.2
        #expect(Policy.default.hash == Policy().hash)
        #expect(Policy.default.hash != changed.hash)
        #expect(Policy.default.hash.count == 16)
    }
}
