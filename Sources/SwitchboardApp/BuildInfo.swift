/// What this binary was built from. `scripts/package` writes the commit here
/// for the build it packs and puts this file back afterwards; a development
/// build says `unknown`.
public enum BuildInfo {
    /// The git commit (12 hex digits, `-dirty` with uncommitted changes).
    public static let commit = "unknown"
}
