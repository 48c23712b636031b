/// Fast readers for the two JSON shapes `state.db` stores per minute bucket, written by rankd
/// itself: `[[bin, count], ...]` (histograms) and `{"outcome": count, ...}` (outcome counts).
/// Start-up reads millions of them; a general JSON decoder made that take tens of seconds. Any
/// text outside the exact shape returns nil, and the caller falls back to `JSONDecoder`, so
/// these only ever speed up what the full decoder would accept.
enum CompactJSON {
    /// `[[Int64, Int64], ...]` with optional spaces; nil when the text is anything else.
    static func pairs(_ text: String) -> [[Int64]]? {
        var text = text
        return text.withUTF8 { bytes -> [[Int64]]? in
            var reader = Reader(bytes: bytes)
            var result: [[Int64]] = []
            guard reader.take(UInt8(ascii: "[")) else { return nil }
            if reader.take(UInt8(ascii: "]")) { return reader.atEnd ? result : nil }
            repeat {
                guard reader.take(UInt8(ascii: "[")), let first = reader.integer(), reader.take(UInt8(ascii: ",")),
                    let second = reader.integer(), reader.take(UInt8(ascii: "]"))
                else { return nil }
                result.append([first, second])
            } while reader.take(UInt8(ascii: ","))
            return reader.take(UInt8(ascii: "]")) && reader.atEnd ? result : nil
        }
    }

    /// `{"name": Int64, ...}` with names of letters, digits and `_`; nil when the text is anything else.
    static func counts(_ text: String) -> [String: Int64]? {
        var text = text
        return text.withUTF8 { bytes -> [String: Int64]? in
            var reader = Reader(bytes: bytes)
            var result: [String: Int64] = [:]
            guard reader.take(UInt8(ascii: "{")) else { return nil }
            if reader.take(UInt8(ascii: "}")) { return reader.atEnd ? result : nil }
            repeat {
                guard let name = reader.name(), reader.take(UInt8(ascii: ":")), let value = reader.integer() else { return nil }
                result[name] = value
            } while reader.take(UInt8(ascii: ","))
            return reader.take(UInt8(ascii: "}")) && reader.atEnd ? result : nil
        }
    }

    /// `[[a,b],[c,d]]`: the bytes `JSONEncoder` writes for the same pairs, written directly.
    static func write(pairs: [[Int64]]) -> String {
        var text = "["
        text.reserveCapacity(pairs.count * 12 + 2)
        for (index, pair) in pairs.enumerated() {
            if index > 0 { text += "," }
            text += "["
            for (k, value) in pair.enumerated() {
                if k > 0 { text += "," }
                text += String(value)
            }
            text += "]"
        }
        return text + "]"
    }

    /// `{"a":1,"b":2}` with sorted keys: what `JSONEncoder` with `.sortedKeys` writes for names
    /// that need no escaping (outcome names). Other names go through `JSONEncoder`.
    static func write(counts: [String: Int64]) -> String? {
        var text = "{"
        for (index, key) in counts.keys.sorted().enumerated() {
            guard key.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
                return nil
            }
            if index > 0 { text += "," }
            text += "\"\(key)\":\(counts[key]!)"
        }
        return text + "}"
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool {
            mutating get {
                skipSpaces()
                return index == bytes.count
            }
        }

        mutating func skipSpaces() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\n") { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            skipSpaces()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// An optionally negative decimal integer of at most 18 digits (no overflow possible).
        mutating func integer() -> Int64? {
            skipSpaces()
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            var value: Int64 = 0
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 18 {
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                index += 1
                digits += 1
            }
            guard digits > 0, index == bytes.count || !(bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")) else { return nil }
            return negative ? -value : value
        }

        /// A quoted name of ASCII letters, digits and `_` (no escapes).
        mutating func name() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                let b = bytes[index]
                guard (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95 else { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            index += 1
            return name
        }
    }
}
