/// A record's fields in one shared box, copied on the first change while shared.
///
/// For the hot path's records with many strings and lists (an account's entry, a
/// key's entry, a ledger row): they are copied several times per request, and a copy of the
/// fields one by one cost a retain and a release for each string, list and table
/// among them; a copy of the box is one. The record exposes the fields as its
/// own through `@dynamicMemberLookup` and `subscript(dynamicMember:)`.
public struct SharedFields<Fields: Sendable & Equatable>: Sendable, Equatable {
    /// Changed only while one record holds the only reference (see `fields`).
    @usableFromInline final class Box: @unchecked Sendable {
        @usableFromInline var fields: Fields
        @usableFromInline init(_ fields: Fields) { self.fields = fields }
    }

    @usableFromInline var box: Box

    @inlinable public init(_ fields: Fields) { box = Box(fields) }

    /// The fields: read in place, and changed in the box itself when not shared,
    /// else in a copy of it made first.
    @inlinable public var fields: Fields {
        get { box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
            yield &box.fields
        }
    }

    /// One field, read without copying the others.
    @inlinable public subscript<Value>(field: KeyPath<Fields, Value>) -> Value { box.fields[keyPath: field] }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.box === rhs.box || lhs.box.fields == rhs.box.fields }
}
