import CZlib
import Foundation

/// zlib streams (RFC 1950: deflate with a header and an Adler-32 check) for epoch history bodies.
///
/// A history body is an epoch's explained JSON: about 17 MB at 20,000 endpoints, and 25 to 90
/// times smaller deflated. `Deflater` takes the JSON in pieces (one model at a time), so the whole
/// uncompressed body never exists in memory; publishing held three copies of it before (the
/// encoding, its String, SQLite's bound copy), the largest transient allocation of an epoch.
final class Deflater {
    /// zlib keeps a pointer back to the stream it was given and checks it on every call, so the
    /// stream lives at one address for its whole life.
    private let stream: UnsafeMutablePointer<z_stream>
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private(set) var output: [UInt8] = []

    /// - Parameter level: 1 (fastest) to 9 (smallest). Level 1 deflates a 17 MB body in about
    ///   40 ms on this project's machine, about 25 times smaller.
    init(level: Int32 = 1) throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = rankd_deflate_init(stream, level)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ZlibError(operation: "deflateInit", status: status)
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `bytes`; what is ready so far accumulates in `output`.
    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try run($0, flush: Z_NO_FLUSH) }
    }

    func append(_ text: String) throws {
        try append(Array(text.utf8))
    }

    /// Ends the stream and returns the whole compressed body.
    func finish() throws -> [UInt8] {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        return output
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32) throws {
        stream.pointee.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            let (status, filled) = chunk.withUnsafeMutableBytes { out -> (Int32, Bool) in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(out.count)
                let status = deflate(stream, flush)
                let produced = out.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: out.prefix(produced))
                return (status, stream.pointee.avail_out == 0)
            }
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK, Z_BUF_ERROR:
                // Without Z_FINISH, done once the input is taken and the output had room to spare.
                if flush != Z_FINISH && stream.pointee.avail_in == 0 && !filled { return }
            default:
                throw ZlibError(operation: "deflate", status: status)
            }
        }
    }
}

enum Zlib {
    /// The bytes a zlib stream holds. Throws on damage (a bad header, a failed checksum, a stream
    /// that ends early) and when the result would pass `limit` bytes, so a damaged or hostile row
    /// cannot make rankd allocate without bound.
    static func inflate(_ data: Data, limit: Int) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initialized = rankd_inflate_init(stream)
        guard initialized == Z_OK else { throw ZlibError(operation: "inflateInit", status: initialized) }
        defer { inflateEnd(stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, data.count * 8))
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        return try data.withUnsafeBytes { input -> [UInt8] in
            stream.pointee.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
            stream.pointee.avail_in = uInt(input.count)
            while true {
                let status = chunk.withUnsafeMutableBytes { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(out.count)
                    let status = CZlib.inflate(stream, Z_NO_FLUSH)
                    output.append(contentsOf: out.prefix(out.count - Int(stream.pointee.avail_out)))
                    return status
                }
                guard output.count <= limit else { throw ZlibError(operation: "inflate", status: Z_MEM_ERROR, detail: "more than \(limit) bytes") }
                switch status {
                case Z_STREAM_END:
                    guard stream.pointee.avail_in == 0 else {
                        throw ZlibError(operation: "inflate", status: Z_DATA_ERROR, detail: "bytes after the end of the stream")
                    }
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: the input ended before the stream did.
                    throw ZlibError(operation: "inflate", status: status, detail: "the stream is cut short")
                default:
                    throw ZlibError(operation: "inflate", status: status)
                }
            }
        }
    }
}

struct ZlibError: Error, CustomStringConvertible {
    var operation: String
    var status: Int32
    var detail: String? = nil

    var description: String {
        "zlib \(operation) failed (status \(status))" + (detail.map { ": \($0)" } ?? "")
    }
}
