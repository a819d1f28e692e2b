#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import YAML

@Suite struct YAMLFileTests {
    func temporaryFolder() -> String {
        var template = Array("/tmp/yamltests.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil)
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ text: String, to path: String) {
        let f = fopen(path, "w")!
        fputs(text, f)
        fclose(f)
    }

    @Test func readsARegularFile() throws {
        let dir = temporaryFolder()
        write("a: 1\n", to: dir + "/r.yaml")
        #expect(try YAMLFile.load(path: dir + "/r.yaml")["a"]?.int() == 1)
    }

    @Test func refusesSymlinksUnlessAllowed() throws {
        let dir = temporaryFolder()
        write("a: 1\n", to: dir + "/target.yaml")
        symlink(dir + "/target.yaml", dir + "/link.yaml")
        let error = #expect(throws: YAMLError.self) { try YAMLFile.load(path: dir + "/link.yaml") }
        #expect(error?.kind == .unreadable)
        #expect(error?.message.contains("symbolic link") == true)
        #expect(try YAMLFile.load(path: dir + "/link.yaml", followSymlinks: true)["a"]?.int() == 1)
    }

    @Test func refusesOversizeFilesBeforeReading() {
        let dir = temporaryFolder()
        write("a: " + String(repeating: "x", count: 5000) + "\n", to: dir + "/big.yaml")
        let error = #expect(throws: YAMLError.self) { try YAMLFile.load(path: dir + "/big.yaml", limits: YAMLLimits(maxBytes: 4096)) }
        #expect(error?.kind == .tooLarge)
    }

    @Test func refusesFoldersAndMissingFiles() {
        let dir = temporaryFolder()
        #expect(throws: YAMLError.self) { try YAMLFile.load(path: dir) }
        #expect(throws: YAMLError.self) { try YAMLFile.load(path: dir + "/missing.yaml") }
    }
}
