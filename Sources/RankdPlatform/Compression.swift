import CZlib
import Foundation
import NIOCore

// The compression seam: zlib's streams, raw deflate fragments and CRC-32, behind one error type
// (`CompressionError`). The store deflates epoch history bodies with it, the server its ranking
// bodies; whatever implements these (zlib today) stays here.

/// zlib streams (RFC 1950: deflate with a header and an Adler-32 check) for epoch history bodies.
///
/// A history body is an epoch's explained JSON: megabytes at tens of thousands of endpoints, and
/// tens of times smaller deflated. `Deflater` takes the JSON in pieces (one model at a time), so the whole
/// uncompressed body never exists in memory; publishing held three copies of it before (the
/// encoding, its String, SQLite's bound copy), the largest transient allocation of an epoch.
public final class Deflater {
    /// zlib keeps a pointer back to the stream it was given and checks it on every call, so the
    /// stream lives at one address for its whole life.
    private let stream: UnsafeMutablePointer<z_stream>
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    public private(set) var output: [UInt8] = []

    /// - Parameter level: 1 (fastest) to 9 (smallest).
    public init(level: Int32 = 1) throws {
        stream = try ZStream.open("deflateInit") { rankd_deflate_init($0, level) }
    }

    deinit { ZStream.close(stream, end: deflateEnd) }

    /// Compresses `bytes`; what is ready so far accumulates in `output`.
    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try run($0, flush: Z_NO_FLUSH) }
    }

    public func append(_ text: String) throws {
        try append(Array(text.utf8))
    }

    /// Ends the stream and returns the whole compressed body.
    public func finish() throws -> [UInt8] {
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
                throw CompressionError(operation: "deflate", status: status)
            }
        }
    }
}

public enum Zlib {
    /// How a compressed body is framed.
    public enum Format: Sendable {
        /// RFC 1950: a zlib header and an Adler-32 check (history bodies).
        case zlib
        /// RFC 1952: one gzip member, its CRC-32 and length checked (`Content-Encoding: gzip`).
        case gzip
        /// RFC 1951 with no framing.
        case raw
    }

    /// The bytes a compressed stream holds. Throws on damage (a bad header, a failed checksum, a
    /// stream that ends early, bytes after its end) and when the result would pass `limit` bytes,
    /// so a damaged or hostile body cannot make rankd allocate without bound.
    public static func inflate(_ data: Data, format: Format = .zlib, limit: Int) throws -> [UInt8] {
        let stream = try ZStream.open("inflateInit") { stream in
            switch format {
            case .zlib: rankd_inflate_init(stream)
            case .gzip: rankd_inflate_init_gzip(stream)
            case .raw: rankd_inflate_init_raw(stream)
            }
        }
        defer { ZStream.close(stream, end: inflateEnd) }
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
                guard output.count <= limit else {
                    throw CompressionError(operation: "inflate", status: Z_MEM_ERROR, detail: "more than \(limit) bytes", exceedsLimit: true)
                }
                switch status {
                case Z_STREAM_END:
                    guard stream.pointee.avail_in == 0 else {
                        throw CompressionError(operation: "inflate", status: Z_DATA_ERROR, detail: "bytes after the end of the stream")
                    }
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: the input ended before the stream did.
                    throw CompressionError(operation: "inflate", status: status, detail: "the stream is cut short")
                default:
                    throw CompressionError(operation: "inflate", status: status)
                }
            }
        }
    }
}


/// Compresses pieces into raw deflate fragments (RFC 1951 blocks, none final, each ended by a
/// sync flush and compressed with a fresh dictionary, so fragments concatenate into one stream).
public final class FragmentDeflater {
    /// zlib keeps a pointer back to its stream, so the stream stays at one address.
    private let stream: UnsafeMutablePointer<z_stream>
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    public init(level: Int32 = 1) throws {
        stream = try ZStream.open("deflateInit2") { rankd_deflate_init_raw($0, level) }
    }

    deinit { ZStream.close(stream, end: deflateEnd) }

    /// Appends `bytes` to `buffer` as one fragment, and returns their CRC-32.
    public func fragment(_ bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) throws -> UInt32 {
        let crc = CRC32.update(0, bytes.assumingMemoryBound(to: UInt8.self))
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        stream.pointee.next_in = bytes.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.pointee.avail_in = uInt(bytes.count)
        while true {
            let (status, full) = chunk.withUnsafeMutableBytes { out -> (Int32, Bool) in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(out.count)
                let status = deflate(stream, Z_SYNC_FLUSH)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: out.prefix(out.count - Int(stream.pointee.avail_out))))
                return (status, stream.pointee.avail_out == 0)
            }
            guard status == Z_OK || status == Z_BUF_ERROR else { throw CompressionError(operation: "deflate", status: status) }
            // Done once the input is taken and the flush had room to finish.
            if stream.pointee.avail_in == 0 && !full { break }
        }
        // A fresh dictionary for the next fragment, so each stands alone.
        let reset = deflateReset(stream)
        guard reset == Z_OK else { throw CompressionError(operation: "deflateReset", status: reset) }
        return crc
    }
}

/// Inflates a raw deflate stream without a final block (fragments and stored blocks) a piece at
/// a time, so a large body is sent without ever being whole in memory.
public final class FragmentInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: ByteBuffer
    private var offset = 0
    private var produced = 0
    /// The uncompressed length the stream must give.
    public let expectedLength: Int

    public init(_ input: ByteBuffer, expectedLength: Int) throws {
        self.input = input
        self.expectedLength = expectedLength
        stream = try ZStream.open("inflateInit2") { rankd_inflate_init_raw($0) }
    }

    deinit { ZStream.close(stream, end: inflateEnd) }

    public var isFinished: Bool { produced == expectedLength }

    /// The next piece of at most `limit` bytes; nil once the whole length was given. Throws if the
    /// stream is damaged or gives more or fewer bytes than expected.
    public func next(limit: Int = 256 * 1024) throws -> ByteBuffer? {
        guard produced < expectedLength else { return nil }
        let size = min(limit, expectedLength - produced)
        var out = ByteBuffer()
        out.reserveCapacity(size)
        let status = input.withUnsafeReadableBytes { source -> Int32 in
            let rest = UnsafeRawBufferPointer(rebasing: source[offset...])
            stream.pointee.next_in = rest.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
            stream.pointee.avail_in = uInt(rest.count)
            let status = out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target -> (Int, Int32) in
                stream.pointee.next_out = target.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(size)
                let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                return (size - Int(stream.pointee.avail_out), status)
            }
            offset += rest.count - Int(stream.pointee.avail_in)
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
            return status
        }
        guard status == Z_OK || status == Z_BUF_ERROR, out.readableBytes > 0 else {
            throw CompressionError(operation: "inflate", status: status, detail: "\(produced) of \(expectedLength) bytes given")
        }
        produced += out.readableBytes
        return out
    }

    /// The whole uncompressed stream in one buffer (model bodies: tens of kilobytes).
    public static func inflated(_ input: ByteBuffer, expectedLength: Int) throws -> ByteBuffer {
        let inflater = try FragmentInflater(input, expectedLength: expectedLength)
        var whole = ByteBuffer()
        whole.reserveCapacity(expectedLength)
        while var piece = try inflater.next(limit: expectedLength) { whole.writeBuffer(&piece) }
        return whole
    }
}

extension ByteBuffer {
    fileprivate mutating func writeWithUnsafeMutableBytes<T>(
        minimumWritableBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> (Int, T)
    ) -> T {
        var result: T?
        writeWithUnsafeMutableBytes(minimumWritableBytes: minimumWritableBytes) { pointer in
            let (written, value) = body(pointer)
            result = value
            return written
        }
        return result!
    }
}

/// A zlib stream's memory: zlib keeps a pointer back to the stream it was given and checks it on
/// every call, so each stream lives at one address for its whole life.
enum ZStream {
    /// A stream set up by `initialize` (one of the shim's init functions); freed again if that fails.
    static func open(_ operation: String, _ initialize: (UnsafeMutablePointer<z_stream>) -> Int32) throws -> UnsafeMutablePointer<z_stream> {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = initialize(stream)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw CompressionError(operation: operation, status: status)
        }
        return stream
    }

    /// Ends a stream opened by `open` (`deflateEnd` or `inflateEnd`) and frees it.
    static func close(_ stream: UnsafeMutablePointer<z_stream>, end: (UnsafeMutablePointer<z_stream>) -> Int32) {
        _ = end(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }
}

/// CRC-32 (as gzip uses it), running and combined.
public enum CRC32 {
    /// `start` updated with `bytes`.
    public static func update(_ start: UInt32, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return start }
        return UInt32(truncatingIfNeeded: CZlib.crc32(uLong(start), base, uInt(bytes.count)))
    }

    /// The CRC-32 of two pieces from each one's (zlib's `crc32_combine`: no second pass).
    public static func combine(_ first: UInt32, _ second: UInt32, length secondLength: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(uLong(first), uLong(second), .init(secondLength)))
    }
}

/// What every compression failure throws: the operation, zlib's status, and what went wrong.
public struct CompressionError: Error, CustomStringConvertible {
    public var operation: String
    public var status: Int32
    public var detail: String? = nil
    /// The stream was sound but holds more than the caller's limit (a body too large, not a damaged one).
    public var exceedsLimit = false

    public init(operation: String, status: Int32, detail: String? = nil, exceedsLimit: Bool = false) {
        self.operation = operation
        self.status = status
        self.detail = detail
        self.exceedsLimit = exceedsLimit
    }

    public var description: String { "zlib \(operation) failed (status \(status))" + (detail.map { ": \($0)" } ?? "") }
}
