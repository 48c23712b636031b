import Foundation
import GRDB
import RankdCore

/// Minute tallies in `state.db` (`minute_buckets`) and their hour roll-up (`hour_buckets`): the
/// windows' past. The daemon's `WindowLedger` writes probe tallies here, the journal folds live
/// ones in, and the windows read back what leaves them (`WindowPast`).
public struct BucketStore: WindowPast, Sendable {
    let pool: DatabasePool
    public let path: String

    /// Adds tallies to their stored minutes (creating them as needed), in one transaction.
    public func add(_ buckets: [MinuteBucket]) throws {
        guard !buckets.isEmpty else { return }
        try pool.write { db in try Self.upsert(buckets, db, file: path) }
    }

    static func upsert(_ buckets: [MinuteBucket], _ db: Database, file path: String) throws {
        guard !buckets.isEmpty else { return }
        // A minute that arrives after its hour was rolled up goes into the hour too.
        let rolledUpUntil = try rolledUpUntil(db)
        var lateHours: [MinuteBucket] = []
        for bucket in buckets {
            try add(bucket, table: "minute_buckets", db, file: path)
            if let rolledUpUntil, bucket.minute < rolledUpUntil {
                lateHours.append(
                    MinuteBucket(
                        endpointID: bucket.endpointID, minute: hourStart(of: bucket.minute), source: bucket.source, tally: bucket.tally,
                        spanMinutes: 60))
            }
        }
        for hour in lateHours { try add(hour, table: "hour_buckets", db, file: path) }
    }

    /// Adds a tally to its row of `table` (minute_buckets or hour_buckets), creating it as needed.
    private static func add(_ bucket: MinuteBucket, table: String, _ db: Database, file path: String) throws {
        var tally = bucket.tally
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM \(table) WHERE endpoint_id = ? AND minute = ? AND source = ?"),
            arguments: [bucket.endpointID, bucket.minute, bucket.source.rawValue])
        {
            tally.add(try Self.tally(from: row, file: path))
        }
        try write(tally, endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source, table: table, db)
    }

    private static func write(_ tally: Tally, endpointID: String, minute: Int64, source: ObservationSource, table: String, _ db: Database)
        throws
    {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO \(table)
                (endpoint_id, minute, source, outcome_counts, requests, tool_call_requests, ttft_ms_histogram, output_tps_histogram)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            endpointID, minute, source.rawValue, try Self.outcomeJSON(tally), tally.total, tally.toolCallRequests,
            CompactJSON.write(pairs: tally.ttftMilliseconds.sortedPairs), CompactJSON.write(pairs: tally.outputTokensPerSecond.sortedPairs),
        ])
    }

    static func hourStart(of minute: Int64) -> Int64 {
        let (quotient, remainder) = minute.quotientAndRemainder(dividingBy: 60)
        return (remainder < 0 ? quotient - 1 : quotient) * 60
    }

    static func rolledUpUntil(_ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT until_minute FROM rollup WHERE id = 1")
    }

    // MARK: Hour roll-up

    /// The minute before which every minute bucket is also in `hour_buckets` (nil: none rolled up).
    public func rolledUpUntil() throws -> Int64? {
        try pool.read { try Self.rolledUpUntil($0) }
    }

    /// Adds the minute buckets before `minute` not rolled up yet to their hours in `hour_buckets`,
    /// in one transaction (an hour row of the current hour is partial, and grows at the next
    /// roll-up). The daemon calls it at every epoch with the short window's first minute, so only
    /// minutes the short window no longer needs are rolled up, an epoch's worth at a time, and a
    /// restart reads minute rows for the short window (and an epoch interval) only. Returns the
    /// hour rows written.
    @discardableResult
    public func rollUp(beforeMinute minute: Int64) throws -> Int {
        let path = self.path
        return try pool.write { db in
            // Journalled minutes first, so the hours rolled up are complete.
            _ = try LiveJournal.fold(db, file: path)
            let until = minute
            let from: Int64
            if let done = try Self.rolledUpUntil(db) {
                from = done
            } else {
                guard let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(minute) FROM minute_buckets") else {
                    try db.execute(sql: "INSERT OR REPLACE INTO rollup (id, until_minute) VALUES (1, ?)", arguments: [until])
                    return 0
                }
                from = oldest
            }
            guard from < until else { return 0 }
            var written = 0
            // An hour at a time, read by the minute index and summed in a dictionary: no sort of
            // the rows (ordering them by endpoint made SQLite sort every row of the range).
            for hour in stride(from: Self.hourStart(of: from), to: until, by: 60) {
                var hours: [BucketKey: Tally] = [:]
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute >= ? AND minute < ?",
                    arguments: [max(hour, from), min(hour + 60, until)])
                while let row = try rows.next() {
                    guard let source = ObservationSource(rawValue: row["source"]) else {
                        throw StoreError.corruptRow(file: path, detail: "unknown source \(String(describing: row["source"] as String?))")
                    }
                    hours[BucketKey(endpointID: row["endpoint_id"], minute: hour, source: source), default: Tally()].add(
                        try Self.tally(from: row, file: path))
                }
                for (key, tally) in hours.sorted(by: { ($0.key.endpointID, $0.key.source.rawValue) < ($1.key.endpointID, $1.key.source.rawValue) }) {
                    try Self.add(
                        MinuteBucket(endpointID: key.endpointID, minute: hour, source: key.source, tally: tally, spanMinutes: 60),
                        table: "hour_buckets", db, file: path)
                    written += 1
                }
            }
            try db.execute(sql: "INSERT OR REPLACE INTO rollup (id, until_minute) VALUES (1, ?)", arguments: [until])
            return written
        }
    }

    /// What a restart needs to rebuild the windows: hour rows for the rolled-up minutes of the
    /// long window (from `sinceMinute`'s hour on), and minute rows from the roll-up's end on, each
    /// with `inLongWindow` true. If the roll-up went past `exactWindowStartMinute` (the first
    /// minute a window exact to the minute holds: the short or a recent one), the minute rows
    /// begin there, and those the hour rows hold too come with `inLongWindow` false: they are for
    /// the exact windows only, the long window has them in its hour rows.
    public func loadWindowBuckets(sinceMinute: Int64, exactWindowStartMinute: Int64) throws -> [(bucket: MinuteBucket, inLongWindow: Bool)] {
        var buckets: [(MinuteBucket, Bool)] = []
        try forEachWindowBucket(sinceMinute: sinceMinute, exactWindowStartMinute: exactWindowStartMinute) { buckets.append(($0, $1)) }
        return buckets
    }

    /// The buckets `loadWindowBuckets` returns, handed to `body` one at a time as they are read,
    /// so a rebuild holds one row, not every bucket of the window: at 20,000 busy endpoints the
    /// array was hundreds of megabytes at start-up. Returns how many were read.
    /// `hourRows: false` reads minute rows only (windows whose spans are shorter than an hour
    /// and read back what leaves them: an hour row does not split into their spans).
    @discardableResult
    public func forEachWindowBucket(
        sinceMinute: Int64, exactWindowStartMinute: Int64, hourRows: Bool = true, _ body: (MinuteBucket, _ inLongWindow: Bool) throws -> Void
    ) throws -> Int {
        let path = self.path
        return try pool.read { db in
            let rolled = hourRows ? try Self.rolledUpUntil(db) : nil
            let rolledUntil = max(sinceMinute, rolled ?? sinceMinute)
            // No ORDER BY: loading adds tallies, in any order, and ordering by the primary key made
            // SQLite scan every stored minute (48 h) instead of the minute index (3.3 s of a 4 s
            // start-up at 2,000 endpoints).
            var count = try Self.forEachBucket(
                db, sql: "SELECT * FROM hour_buckets INDEXED BY hour_buckets_by_minute WHERE minute >= ? AND minute < ?",
                arguments: [Self.hourStart(of: sinceMinute), rolledUntil], spanMinutes: 60, file: path
            ) { try body($0, true) }
            // Reading the minutes of a rolled-up hour instead of its row would read up to 59 more
            // rows per endpoint than the exact windows need (a rebuild's time is its rows).
            count += try Self.forEachBucket(
                db, sql: "SELECT * FROM minute_buckets INDEXED BY minute_buckets_by_minute WHERE minute >= ?",
                arguments: [min(rolledUntil, max(sinceMinute, exactWindowStartMinute))], spanMinutes: 1, file: path
            ) { try body($0, $0.minute >= rolledUntil) }
            return count
        }
    }

    /// Rolled-up hours from `minute` on (tests and diagnostics).
    public func loadHourBuckets(sinceMinute minute: Int64) throws -> [MinuteBucket] {
        let path = self.path
        return try pool.read { db in
            try Self.buckets(
                db, sql: "SELECT * FROM hour_buckets WHERE minute >= ? ORDER BY endpoint_id, minute, source", arguments: [minute],
                spanMinutes: 60, file: path)
        }
    }

    static func buckets(_ db: Database, sql: String, arguments: StatementArguments, spanMinutes: Int64, file path: String) throws
        -> [MinuteBucket]
    {
        var result: [MinuteBucket] = []
        try forEachBucket(db, sql: sql, arguments: arguments, spanMinutes: spanMinutes, file: path) { result.append($0) }
        return result
    }

    @discardableResult
    static func forEachBucket(
        _ db: Database, sql: String, arguments: StatementArguments, spanMinutes: Int64, file path: String, _ body: (MinuteBucket) throws -> Void
    ) throws -> Int {
        var count = 0
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            guard let source = ObservationSource(rawValue: row["source"]) else {
                throw StoreError.corruptRow(file: path, detail: "unknown source \(String(describing: row["source"] as String?))")
            }
            try body(
                MinuteBucket(
                    endpointID: row["endpoint_id"], minute: row["minute"], source: source, tally: try Self.tally(from: row, file: path),
                    spanMinutes: spanMinutes))
            count += 1
        }
        return count
    }

    /// Minute buckets from `minute` on.
    public func load(sinceMinute minute: Int64) throws -> [MinuteBucket] {
        let path = self.path
        return try pool.read { db in
            try Self.buckets(
                db, sql: "SELECT * FROM minute_buckets WHERE minute >= ? ORDER BY endpoint_id, minute, source", arguments: [minute],
                spanMinutes: 1, file: path)
        }
    }

    static func outcomeJSON(_ tally: Tally) throws -> String {
        var counts: [String: Int64] = [:]
        for outcome in Outcome.allCases where tally.count(outcome) > 0 { counts[outcome.rawValue] = tally.count(outcome) }
        return try CompactJSON.write(counts: counts) ?? DatabaseFiles.json(counts)
    }

    static func tally(from row: Row, file: String) throws -> Tally {
        let countsText: String = row["outcome_counts"]
        let counts = try CompactJSON.counts(countsText) ?? DatabaseFiles.decode([String: Int64].self, countsText, file: file)
        var byIndex = [Int64](repeating: 0, count: Outcome.allCases.count)
        for (name, count) in counts {
            guard let outcome = Outcome(rawValue: name) else { throw StoreError.corruptRow(file: file, detail: "unknown outcome \(name)") }
            byIndex[outcome.index] += count
        }
        return Tally(
            outcomeCountsByIndex: byIndex, toolCallRequests: row["tool_call_requests"],
            ttftMilliseconds: LogHistogram(sortedPairs: try histogram(row["ttft_ms_histogram"], file: file)),
            outputTokensPerSecond: LogHistogram(sortedPairs: try histogram(row["output_tps_histogram"], file: file)))
    }

    static func histogram(_ text: String, file: String) throws -> [[Int64]] {
        try CompactJSON.pairs(text) ?? DatabaseFiles.decode([[Int64]].self, text, file: file)
    }

    /// Hands `body` every stored row of what leaves the windows (`WindowAggregator.Departures`),
    /// each with the window it leaves, ordered by endpoint: the minute rows of the minutes that
    /// leave the short window, and for the spans that leave the long window their hour rows
    /// (whole hours rolled up) or else their minute rows.
    ///
    /// The live journal is folded first, in the same transaction on the writer: the windows have
    /// counted every acknowledged record, so the rows read must hold them all. The caller keeps
    /// new records from being counted meanwhile (the daemon's `WindowLedger` holds its ingest
    /// gate). Returns the rows read.
    @discardableResult
    public func forEachDeparted(
        _ departures: WindowAggregator.Departures, _ body: (MinuteBucket, WindowAggregator.Departure) -> Void
    ) throws -> Int {
        guard !departures.isEmpty else { return 0 }
        let path = self.path
        return try pool.write { db in
            _ = try LiveJournal.fold(db, file: path)
            // The minute rows of every side in one query ordered by endpoint, so the windows take
            // each endpoint's departures together (a query per side would part them: an unpack
            // and repack of its totals per side, every minute). A row in several sides' ranges (a
            // jump of several minutes) is handed over once per side.
            func rows(_ table: String, _ sides: [(ClosedRange<Int64>, WindowAggregator.Departure)], span: Int64) throws -> Int {
                guard !sides.isEmpty else { return 0 }
                let ranges = sides.map { "minute BETWEEN \($0.0.lowerBound) AND \($0.0.upperBound)" }.joined(separator: " OR ")
                return try Self.forEachBucket(
                    db, sql: "SELECT * FROM \(table) WHERE \(ranges) ORDER BY endpoint_id", arguments: [], spanMinutes: span, file: path
                ) { bucket in
                    for (range, side) in sides where range.contains(bucket.minute) { body(bucket, side) }
                }
            }
            var minuteSides: [(ClosedRange<Int64>, WindowAggregator.Departure)] = []
            if let minutes = departures.shortMinutes { minuteSides.append((minutes, .shortWindow)) }
            for (index, minutes) in departures.recentMinutes.enumerated() {
                if let minutes { minuteSides.append((minutes, .recentWindow(index))) }
            }
            var count = 0
            if let minutes = departures.longMinutes {
                let rolledUntil = try Self.rolledUpUntil(db) ?? .min
                let hours = departures.spanMinutes == 60 && minutes.lowerBound % 60 == 0 && rolledUntil > minutes.upperBound
                if hours { count += try rows("hour_buckets", [(minutes, .longWindow)], span: 60) } else { minuteSides.append((minutes, .longWindow)) }
            }
            count += try rows("minute_buckets", minuteSides, span: 1)
            return count
        }
    }

    /// Deletes minute buckets before `cut` and hour rows wholly before it. Returns the minute
    /// buckets deleted. The caller keeps what the windows will still read back (`EpochPublisher`
    /// never cuts into the long window's first span).
    @discardableResult
    public func prune(before cut: Int64) throws -> Int {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM minute_buckets WHERE minute < ?", arguments: [cut])
            let deleted = db.changesCount
            try db.execute(sql: "DELETE FROM hour_buckets WHERE minute + 59 < ?", arguments: [cut])
            return deleted
        }
    }

    /// A bucket's endpoint, minute and source: what tallies are merged by.
    struct BucketKey: Hashable {
        var endpointID: String
        var minute: Int64
        var source: ObservationSource

        /// Adds `bucket`'s tally to its endpoint, minute and source in `merged`.
        static func add(_ bucket: MinuteBucket, to merged: inout [BucketKey: MinuteBucket]) {
            merged[BucketKey(endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source), default: MinuteBucket(
                endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source, tally: Tally())].tally.add(bucket.tally)
        }
    }
}
