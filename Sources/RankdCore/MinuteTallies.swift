/// An endpoint's minute (or span) tallies, sorted by minute: the few still changing as they are,
/// the rest packed (`PackedTallies`).
///
/// An endpoint holds about 16 minutes and 25 spans. Only the current minute takes every record;
/// the window advance packs the others (`pack(before:)`), and a late record for a packed minute
/// unpacks it until the next advance. Kept as two sorted arrays: a dictionary kept a table of up
/// to twice as many 104-byte slots, and unpacked tallies were most of a busy endpoint's memory.
struct MinuteTallies: Sendable {
    /// Tallies not packed, by minute ascending.
    private var hot: [(minute: Int64, tallies: SourceTallies)] = []
    /// Packed tallies, by minute ascending. No minute is in both arrays.
    private var cold: [(minute: Int64, tallies: PackedTallies)] = []

    var count: Int { hot.count + cold.count }

    /// Minutes held, ascending.
    var keys: [Int64] { (hot.map(\.minute) + cold.map(\.minute)).sorted() }

    /// Tallies held unpacked and packed (for tests of the packing).
    var unpackedCount: Int { hot.count }

    subscript(minute: Int64) -> SourceTallies? {
        if let index = Self.index(of: minute, in: hot) { return hot[index].tallies }
        if let index = Self.index(of: minute, in: cold) { return cold[index].tallies.unpacked() }
        return nil
    }

    /// Where `minute` is or would be inserted (first entry not before it).
    private static func position<T>(of minute: Int64, in entries: [(minute: Int64, tallies: T)]) -> Int {
        // Entries arrive mostly in order: try the end first.
        if let last = entries.last, last.minute < minute { return entries.count }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].minute < minute { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private static func index<T>(of minute: Int64, in entries: [(minute: Int64, tallies: T)]) -> Int? {
        let index = position(of: minute, in: entries)
        return index < entries.count && entries[index].minute == minute ? index : nil
    }

    /// The unpacked slot of `minute`: unpacked from `cold` if it is there, inserted empty if missing.
    private mutating func slot(_ minute: Int64) -> Int {
        let index = Self.position(of: minute, in: hot)
        if index < hot.count && hot[index].minute == minute { return index }
        var tallies = SourceTallies()
        if let packed = Self.index(of: minute, in: cold) { tallies = cold.remove(at: packed).tallies.unpacked() }
        hot.insert((minute, tallies), at: index)
        return index
    }

    mutating func add(_ tally: Tally, source: ObservationSource, at minute: Int64) {
        hot[slot(minute)].tallies.add(tally, source: source)
    }

    mutating func add(_ tallies: SourceTallies, at minute: Int64) {
        hot[slot(minute)].tallies.add(tallies)
    }

    @discardableResult
    mutating func removeValue(forKey minute: Int64) -> SourceTallies? {
        if let index = Self.index(of: minute, in: hot) { return hot.remove(at: index).tallies }
        if let index = Self.index(of: minute, in: cold) { return cold.remove(at: index).tallies.unpacked() }
        return nil
    }

    /// Frees the arrays' buffers if they hold nothing (removing entries keeps the capacity).
    mutating func releaseIfEmpty() {
        if hot.isEmpty && hot.capacity > 0 { hot = [] }
        if cold.isEmpty && cold.capacity > 0 { cold = [] }
    }

    /// Packs the tallies of every minute before `minute` (every minute, by default).
    mutating func pack(before minute: Int64 = .max) {
        guard let first = hot.first, first.minute < minute else { return }
        let end = Self.position(of: minute, in: hot)
        for (minute, tallies) in hot[..<end] {
            cold.insert((minute, PackedTallies(tallies)), at: Self.position(of: minute, in: cold))
        }
        hot.removeSubrange(..<end)
    }
}
