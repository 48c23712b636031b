import GRDB
import RankdCore

extension StateStore: WindowPast {
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
            _ = try Self.foldJournal(db, file: path)
            func rows(_ table: String, _ minutes: ClosedRange<Int64>, span: Int64, _ side: WindowAggregator.Departure) throws -> Int {
                try Self.forEachBucket(
                    db, sql: "SELECT * FROM \(table) WHERE minute BETWEEN ? AND ? ORDER BY endpoint_id",
                    arguments: [minutes.lowerBound, minutes.upperBound], spanMinutes: span, file: path
                ) { body($0, side) }
            }
            var count = 0
            if let minutes = departures.shortMinutes { count += try rows("minute_buckets", minutes, span: 1, .shortWindow) }
            if let minutes = departures.longMinutes {
                let rolledUntil = try Self.rolledUpUntil(db) ?? .min
                let hours = departures.spanMinutes == 60 && minutes.lowerBound % 60 == 0 && rolledUntil > minutes.upperBound
                count += try hours ? rows("hour_buckets", minutes, span: 60, .longWindow) : rows("minute_buckets", minutes, span: 1, .longWindow)
            }
            return count
        }
    }
}
