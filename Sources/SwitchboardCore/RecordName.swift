/// The one rule for the names of keys, accounts, users and groups. A name
/// travels: into URL paths (`/admin/keys/{name}`), log lines, metrics labels,
/// CSV cells and the ledger. So it is 1 to 128 characters, with no control
/// character (NUL included: SQLite's C side would cut the name there), no `/`
/// (it would split the path) and no space at either end.
public enum RecordName {
    /// The longest name, in characters.
    public static let maxLength = 128

    /// Why `name` cannot be a name, or nil when it can.
    public static func problem(_ name: String) -> String? {
        guard !name.isEmpty else { return "a name is required" }
        guard name.count <= maxLength else { return "a name is at most \(maxLength) characters" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "a name cannot hold control characters"
        }
        if name.contains("/") { return "a name cannot hold /" }
        if name.first?.isWhitespace == true || name.last?.isWhitespace == true { return "a name cannot start or end with a space" }
        return nil
    }
}
