extension BinaryInteger where Self: FixedWidthInteger {
    /// `value` rounded toward zero and clamped to the type's range; NaN is 0. For numbers from
    /// outside (request bodies, provider answers, span attributes): `Int(_:)` traps on values out
    /// of range, and a trap is a crash of the daemon (found by fuzz/FuzzOTLP and fuzz/FuzzStream).
    @inlinable
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= Double(Self.max) {
            self = Self.max
        } else if value <= Double(Self.min) {
            self = Self.min
        } else {
            self = Self(value)
        }
    }
}
