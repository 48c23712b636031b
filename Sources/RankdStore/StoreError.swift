/// Errors from opening or reading rankd's SQLite files, each with the fix.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case newerSchema(file: String, found: Int, supported: Int)
    case notRankdDatabase(file: String)
    case corruptRow(file: String, detail: String)
    case missingFile(file: String, hint: String)
    case olderSchema(file: String, found: Int, needed: Int, hint: String)

    public var description: String {
        switch self {
        case let .newerSchema(file, found, supported):
            "\(file) has schema version \(found), newer than this rankd supports (\(supported)); upgrade rankd or point --data-dir elsewhere"
        case let .notRankdDatabase(file):
            "\(file) is a SQLite file but not one of rankd's; move it away or point --data-dir elsewhere"
        case let .corruptRow(file, detail):
            "\(file): a stored row could not be read (\(detail)); restore from backup or delete the file to start fresh"
        case let .missingFile(file, hint):
            "\(file) does not exist; \(hint)"
        case let .olderSchema(file, found, needed, hint):
            "\(file) has schema version \(found), older than this needs (\(needed)); \(hint)"
        }
    }
}
