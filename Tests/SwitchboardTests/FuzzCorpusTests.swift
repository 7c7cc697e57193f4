import Foundation
import SwitchboardFuzzing
import Testing

/// Every seed and every input a fuzzer ever crashed on (Fuzz/Corpus/<target>/)
/// runs through its target again: none may trap.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    @Test(arguments: FuzzTarget.allCases)
    func everyCorpusInputRunsWithoutTrapping(_ target: FuzzTarget) throws {
        let directory = Self.corpus.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!files.isEmpty, "seeds for \(target.rawValue)")
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            target.run(Array(data))
        }
    }
}
