/// A point in time as seconds since 1970-01-01T00:00:00Z (UTC).
///
/// The core never reads a clock: every `Timestamp` it sees was handed to it, which keeps scoring
/// deterministic and replayable.
public struct Timestamp: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// Seconds since the Unix epoch; fractional part carries sub-second precision.
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The minute this instant falls in, as minutes since the Unix epoch.
    public var minute: Int64 { Int64((secondsSince1970 / 60).rounded(.down)) }

    /// The whole second this instant falls in.
    public var second: Int64 { Int64(secondsSince1970.rounded(.down)) }

    public func adding(seconds: Double) -> Timestamp {
        Timestamp(secondsSince1970: secondsSince1970 + seconds)
    }

    public func seconds(since other: Timestamp) -> Double {
        secondsSince1970 - other.secondsSince1970
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSince1970 < rhs.secondsSince1970
    }

    public init(from decoder: any Decoder) throws {
        secondsSince1970 = try decoder.singleValueContainer().decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(secondsSince1970)
    }

    public var description: String { RFC3339.format(self) }
}

/// RFC 3339 UTC formatting without Foundation's locale-dependent formatters, so output is stable.
public enum RFC3339 {
    /// Formats as `YYYY-MM-DDThh:mm:ssZ` (whole seconds, UTC).
    public static func format(_ timestamp: Timestamp) -> String {
        let total = Int64(timestamp.secondsSince1970.rounded(.down))
        var days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondsOfDay = total - days * 86_400
        // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):"
            + "\(pad(secondsOfDay % 3600 / 60, 2)):\(pad(secondsOfDay % 60, 2))Z"
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`; returns nil when the text is not RFC 3339.
    public static func parse(_ text: String) -> Timestamp? {
        let chars = Array(text.utf8)
        guard chars.count >= 20 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int64? {
            guard start + length <= chars.count else { return nil }
            var value: Int64 = 0
            for index in start..<(start + length) {
                let c = chars[index]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int64(c - 48)
            }
            return value
        }
        guard let year = number(0, 4), chars[4] == 45, let month = number(5, 2), chars[7] == 45,
            let day = number(8, 2), chars[10] == 84 || chars[10] == 116 || chars[10] == 32,
            let hour = number(11, 2), chars[13] == 58, let minute = number(14, 2), chars[16] == 58,
            let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < chars.count, chars[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                fraction += Double(chars[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < chars.count else { return nil }
        var offsetSeconds: Int64 = 0
        if chars[index] == 90 || chars[index] == 122 {
            index += 1
        } else if chars[index] == 43 || chars[index] == 45 {
            guard let offsetHour = number(index + 1, 2), chars.count > index + 3, chars[index + 3] == 58,
                let offsetMinute = number(index + 4, 2)
            else { return nil }
            offsetSeconds = (offsetHour * 3600 + offsetMinute * 60) * (chars[index] == 45 ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == chars.count else { return nil }
        // Days-from-civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * m + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Timestamp(secondsSince1970: Double(seconds) + fraction)
    }
}
