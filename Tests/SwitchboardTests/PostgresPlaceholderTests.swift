import Testing

@testable import Storage

/// The store's statements are written with `?`; PostgreSQL is sent `$1`, `$2`…
/// and a `?` inside a literal, a quoted name or a `$$` body is left alone.
@Suite struct PostgresPlaceholderTests {
    @Test func placeholdersAreNumberedOutsideQuotesAndDollarBodies() {
        #expect(PostgresDatabase.numberedPlaceholders("SELECT ? + ?, '?', \"a?b\" WHERE x = ?") == "SELECT $1 + $2, '?', \"a?b\" WHERE x = $3")
        #expect(PostgresDatabase.numberedPlaceholders("DO $$ BEGIN PERFORM '?'; END $$; SELECT ?") == "DO $$ BEGIN PERFORM '?'; END $$; SELECT $1")
        // Text around them, multi-byte or not, comes through as it was.
        #expect(PostgresDatabase.numberedPlaceholders("SELECT 'é?ü', ? -- naïve ✓") == "SELECT 'é?ü', $1 -- naïve ✓")
        let many = Array(repeating: "?", count: 12).joined(separator: ",")
        #expect(PostgresDatabase.numberedPlaceholders(many) == (1...12).map { "$\($0)" }.joined(separator: ","))
    }
}
