import CZlib
import Foundation
import NIOCore

/// The API's ranking bodies are held deflated, and framed as gzip by rankd itself.
///
/// At 20,000 endpoints the `GET /v1/rankings` JSON is about 18 MB, and while an epoch was being
/// published the new body and the served one were both in memory. Deflated one model at a time
/// (level 1) the same JSON is about 1 MB. A client that accepts gzip gets these bytes as they are
/// held; any other client gets them inflated as they are sent.
///
/// Each model's entries are a raw deflate *fragment* (RFC 1951 blocks, none of them final, ended
/// by a sync flush so the fragment ends on a byte boundary, and compressed with a fresh dictionary
/// so it refers to nothing outside itself). Fragments and stored blocks (the small pieces of JSON
/// around them, copied as they are) concatenate into a valid deflate stream, which one final empty
/// block ends. The same entries fragment therefore serves both the whole table and the model's
/// own body, and a gzip answer is built from held buffers without compressing anything per request.
enum DeflatedBody {
    /// A gzip member header (RFC 1952): deflate, no flags, no time, unknown OS.
    static let gzipHeader = ByteBuffer(bytes: [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

    /// A final, empty stored block: ends a deflate stream.
    static let finalBlock: [UInt8] = [0x01, 0x00, 0x00, 0xff, 0xff]

    /// `bytes` as stored (uncompressed) deflate blocks, none final, 65,535 bytes at most each.
    static func writeStored(_ bytes: some Collection<UInt8>, to buffer: inout ByteBuffer) {
        var rest = bytes[...]
        repeat {
            let piece = rest.prefix(65_535)
            rest = rest.dropFirst(piece.count)
            let length = UInt16(piece.count)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(length, endianness: .little)
            buffer.writeInteger(~length, endianness: .little)
            buffer.writeBytes(piece)
        } while !rest.isEmpty
    }

    /// What ends a gzip member after its deflate data: the final block, CRC-32 and length.
    static func writeEnd(crc: UInt32, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeBytes(finalBlock)
        buffer.writeInteger(crc, endianness: .little)
        buffer.writeInteger(UInt32(truncatingIfNeeded: length), endianness: .little)
    }

    /// A running CRC-32 and length of the uncompressed bytes of a gzip member.
    struct Checksum {
        private(set) var crc: UInt32 = 0
        private(set) var length = 0

        mutating func update(_ bytes: some Collection<UInt8>) {
            let value = bytes.withContiguousStorageIfAvailable { Self.crc32(crc, $0) } ?? Array(bytes).withUnsafeBufferPointer { Self.crc32(crc, $0) }
            crc = value
            length += bytes.count
        }

        /// Appends bytes whose own CRC-32 is known (zlib's `crc32_combine`: no second pass).
        mutating func append(crc other: UInt32, length otherLength: Int) {
            crc = UInt32(truncatingIfNeeded: crc32_combine(uLong(crc), uLong(other), .init(otherLength)))
            length += otherLength
        }

        static func crc32(_ start: UInt32, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return start }
            return UInt32(truncatingIfNeeded: CZlib.crc32(uLong(start), base, uInt(bytes.count)))
        }
    }

    /// Whether an `Accept-Encoding` value admits gzip (RFC 9110 12.5.3: `gzip`, `x-gzip` or `*`,
    /// with a q-value above zero; an explicit `gzip;q=0` refuses it even with `*`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Bool?
        var any = false
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let name = parts.first?.trimmingCharacters(in: .whitespaces).lowercased() else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2, pair[0].lowercased() == "q", let q = Double(pair[1]) { quality = q }
            }
            switch name {
            case "gzip", "x-gzip": gzip = quality > 0
            case "*": any = quality > 0
            default: break
            }
        }
        return gzip ?? any
    }
}

/// Compresses pieces into raw deflate fragments (see `DeflatedBody`), level 1: a 20,000-endpoint
/// table (18 MB of JSON) in about 50 ms, 17 times smaller.
final class FragmentDeflater {
    /// zlib keeps a pointer back to its stream, so the stream stays at one address.
    private let stream: UnsafeMutablePointer<z_stream>
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(level: Int32 = 1) throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = rankd_deflate_init_raw(stream, level)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw DeflateError(operation: "deflateInit2", status: status)
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Appends `bytes` to `buffer` as one fragment, and returns their CRC-32.
    func fragment(_ bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) throws -> UInt32 {
        let crc = DeflatedBody.Checksum.crc32(0, bytes.assumingMemoryBound(to: UInt8.self))
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
            guard status == Z_OK || status == Z_BUF_ERROR else { throw DeflateError(operation: "deflate", status: status) }
            // Done once the input is taken and the flush had room to finish.
            if stream.pointee.avail_in == 0 && !full { break }
        }
        // A fresh dictionary for the next fragment, so each stands alone.
        let reset = deflateReset(stream)
        guard reset == Z_OK else { throw DeflateError(operation: "deflateReset", status: reset) }
        return crc
    }
}

/// Inflates a raw deflate stream without a final block (fragments and stored blocks) a piece at
/// a time, so a large body is sent without ever being whole in memory.
final class FragmentInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: ByteBuffer
    private var offset = 0
    private var produced = 0
    /// The uncompressed length the stream must give.
    let expectedLength: Int

    init(_ input: ByteBuffer, expectedLength: Int) throws {
        self.input = input
        self.expectedLength = expectedLength
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = rankd_inflate_init_raw(stream)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw DeflateError(operation: "inflateInit2", status: status)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    var isFinished: Bool { produced == expectedLength }

    /// The next piece of at most `limit` bytes; nil once the whole length was given. Throws if the
    /// stream is damaged or gives more or fewer bytes than expected.
    func next(limit: Int = 256 * 1024) throws -> ByteBuffer? {
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
            throw DeflateError(operation: "inflate", status: status, detail: "\(produced) of \(expectedLength) bytes given")
        }
        produced += out.readableBytes
        return out
    }

    /// The whole uncompressed stream in one buffer (model bodies: tens of kilobytes).
    static func inflated(_ input: ByteBuffer, expectedLength: Int) throws -> ByteBuffer {
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

struct DeflateError: Error, CustomStringConvertible {
    var operation: String
    var status: Int32
    var detail: String? = nil

    var description: String { "zlib \(operation) failed (status \(status))" + (detail.map { ": \($0)" } ?? "") }
}
