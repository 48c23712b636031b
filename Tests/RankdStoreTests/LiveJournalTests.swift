import Foundation
import GRDB
import RankdCore
import RankdTestKit
import Testing

@testable import RankdStore

/// Live telemetry is committed to the journal (one row per group commit) and folded into the
/// minute buckets later, each record exactly once.
@Suite struct LiveJournalTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    func records(_ prefix: String, count: Int, endpoints: Int) -> [(requestID: String, observation: Observation)] {
        var result: [(requestID: String, observation: Observation)] = []
        for n in 0..<count {
            let outcome: Outcome = n % 9 == 0 ? .schemaViolation : .ok
            let observation = Observation(
                endpointID: "p\(n % endpoints):acme/m", time: start.adding(seconds: Double(n % 120)), source: .live, outcome: outcome,
                toolsOffered: true, ttftMilliseconds: Double(100 + n % 400), outputTokensPerSecond: Double(20 + n % 90))
            result.append((requestID: "\(prefix)-\(n)", observation: observation))
        }
        return result
    }

    @Test func committedRecordsAreJournalledThenFoldedOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        let first = records("a", count: 500, endpoints: 37)
        #expect(try store.journal.commit(first).allSatisfy { $0 })
        // A replay of half the batch with 100 new ones: only the new ones are journalled.
        let replay = Array(first.prefix(250)) + records("b", count: 100, endpoints: 37)
        #expect(try store.journal.commit(replay).filter { $0 }.count == 100)
        #expect(try store.count(table: "live_journal") == 2)
        #expect(try store.count(table: "minute_buckets") == 0)
        #expect(try store.journal.storedLiveRequests() == 600)

        #expect(try store.journal.fold() == 600)
        #expect(try store.count(table: "live_journal") == 0)
        #expect(try store.journal.storedLiveRequests() == 600, "folding moves records, never counts them twice")
        #expect(try store.journal.fold() == 0)

        // The buckets are what folding the observations directly gives.
        let expected = MinuteBucket.fold((first + records("b", count: 100, endpoints: 37)).map(\.observation))
        #expect(try store.buckets.load(sinceMinute: 0) == expected)
    }

    /// Folding in several passes (an endpoint's buckets in one pass only) stores what one pass
    /// stores: 600 records at 100 per pass are 6 passes.
    @Test(arguments: [100, 250, 1_000_000]) func foldInPassesStoresWhatOnePassStores(recordsPerPass: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        let all = records("p", count: 600, endpoints: 37)
        for batch in stride(from: 0, to: all.count, by: 50) { _ = try store.journal.commit(Array(all[batch..<batch + 50])) }
        #expect(try store.journal.fold(recordsPerPass: recordsPerPass) == 600)
        #expect(try store.count(table: "live_journal") == 0)
        #expect(try store.journal.storedLiveRequests() == 600)
        #expect(try store.buckets.load(sinceMinute: 0) == MinuteBucket.fold(all.map(\.observation)))
    }

    /// A blob read by partitions: each bucket in exactly one, all of them together, and damage
    /// after a skipped bucket still refused in every partition.
    @Test(arguments: [2, 3, 8]) func codecPartitionsSplitTheBucketsOnce(partitions: Int) throws {
        let buckets = MinuteBucket.fold(records("q", count: 2_000, endpoints: 41).map(\.observation))
        let bytes = BucketCodec.encode(buckets)
        var seen: [MinuteBucket] = []
        for partition in 0..<partitions {
            let part = try BucketCodec.decode(bytes, partition: partition, of: partitions)
            #expect(part.allSatisfy { BucketCodec.partition(ofID: Array($0.endpointID.utf8), partitions: partitions) == partition })
            seen += part
        }
        #expect(seen.count == buckets.count)
        #expect(Set(seen) == Set(buckets))
        for partition in 0..<partitions {
            #expect(throws: BucketCodec.Damaged.self) { try BucketCodec.decode(Array(bytes.dropLast()), partition: partition, of: partitions) }
        }
    }

    @Test func codecRoundTripsAndRefusesDamage() throws {
        let buckets = MinuteBucket.fold(records("c", count: 3_000, endpoints: 11).map(\.observation))
        let bytes = BucketCodec.encode(buckets)
        #expect(try BucketCodec.decode(bytes) == buckets)
        #expect(try BucketCodec.decode(BucketCodec.encode([])) == [])
        for cut in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: BucketCodec.Damaged.self) { try BucketCodec.decode(Array(bytes.prefix(cut))) }
        }
        var trailing = bytes
        trailing.append(0)
        #expect(throws: BucketCodec.Damaged.self) { try BucketCodec.decode(trailing) }
    }

    /// A damaged journal row is reported with the file and the row, and the journal is left as it was.
    @Test func damagedJournalRowIsAClearErrorAndNothingIsLost() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(path: dir.file("state.db"))
        _ = try store.journal.commit(records("d", count: 10, endpoints: 2))
        try DatabaseQueue(path: dir.file("state.db")).write { db in
            try db.execute(sql: "INSERT INTO live_journal (requests, buckets) VALUES (1, x'09')")
        }
        #expect {
            try store.journal.fold()
        } throws: { error in
            "\(error)".contains("state.db") && "\(error)".contains("live_journal seq 2")
        }
        #expect(try store.count(table: "live_journal") == 2)
        #expect(try store.journal.storedLiveRequests() == 11)
    }
}
