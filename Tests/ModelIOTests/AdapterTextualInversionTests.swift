import Foundation
import Testing
import ModelIO

@Suite struct AdapterTextualInversionTests {
    @Test func readsDiffusersEmbeddings() throws {
        let three = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers.safetensors"))
        #expect(three.token == "<dropbooth-cat>")
        #expect(three.count == 3 && three.dimension == 32)
        let one = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers_1d.safetensors"))
        #expect(one.token == "<dropbooth-one>")
        #expect(one.count == 1 && one.dimension == 32)
        // The fixture's single vector is the first of the three.
        #expect(Array(one.vector(0)) == Array(three.vector(0)))
        #expect(try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers.safetensors"), token: "<mine>").token == "<mine>")
    }

    @Test func readsA1111EmbeddingNamedByItsMetadata() throws {
        let a1111 = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_a1111.safetensors"))
        let diffusers = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers.safetensors"))
        #expect(a1111.token == "dropbooth-cat")
        #expect(a1111.vectors == diffusers.vectors)
        #expect(a1111.metadata["step"] == "500")
    }

    @Test func writersMatchTheStructureDiffusersLoads() throws {
        let embedding = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers.safetensors"))
        let path = AdapterFixture.temporaryPath("learned_embeds.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try embedding.writeDiffusers(to: path)
        let theirs = try SafeTensorsFile(path: AdapterFixture.path("ti_diffusers.safetensors"))
        #expect(AdapterFixture.structure(try SafeTensorsFile(path: path)) == AdapterFixture.structure(theirs))
        #expect(try TextualInversionEmbedding.read(path: path) == embedding)

        var named = embedding
        named.token = "dropbooth-cat"
        try named.writeA1111(to: path)
        let a1111 = try SafeTensorsFile(path: path)
        #expect(AdapterFixture.structure(a1111) == AdapterFixture.structure(try SafeTensorsFile(path: AdapterFixture.path("ti_a1111.safetensors"))))
        #expect(a1111.metadata["name"] == "dropbooth-cat")
        #expect(try TextualInversionEmbedding.read(path: path).vectors == embedding.vectors)
    }

    @Test func readsTheFlattenedA1111Layout() throws {
        var writer = SafeTensorsWriter()
        writer.add("string_to_param.*", shape: [2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8], dtype: .f16)
        writer.add("string_to_token.*", shape: [1], values: [265])
        let path = AdapterFixture.temporaryPath("my-style.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        let embedding = try TextualInversionEmbedding.read(path: path)
        #expect(embedding.token.hasSuffix("my-style"))
        #expect(embedding.count == 2 && embedding.dimension == 4)
        #expect(embedding.vectors == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func refusesSDXLAndForeignFiles() throws {
        do {
            _ = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_sdxl.safetensors"))
            Issue.record("read an SDXL embedding")
        } catch let error as AdapterError {
            #expect(error.description.contains("SDXL embeddings are not supported yet"))
        }
        // A LoRA is not an embedding: the error names a key and what an embedding holds.
        do {
            _ = try TextualInversionEmbedding.read(path: AdapterFixture.path("lora_kohya.safetensors"))
            Issue.record("read a LoRA as an embedding")
        } catch let error as AdapterError {
            #expect(error.description.contains("unrecognised tensor 'lora_"))
            #expect(error.description.contains("emb_params"))
        }
        var writer = SafeTensorsWriter()
        writer.add("emb_params", shape: [1, 4], values: [1, 2, 3, 4])
        writer.add("extra", shape: [1], values: [0])
        let path = AdapterFixture.temporaryPath("extra.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        #expect(throws: AdapterError.unrecognisedKey(path: path, key: "extra", expected: "only 'emb_params' in an A1111 embedding")) {
            try TextualInversionEmbedding.read(path: path)
        }
    }

    /// With DROPBOOTH_ADAPTER_EXPORT=<dir>, writes dropbooth's embedding files there for
    /// scripts/check_outputs_in_diffusers.py.
    @Test func exportsFilesForTheDiffusersCheck() throws {
        let embedding = try TextualInversionEmbedding.read(path: AdapterFixture.path("ti_diffusers.safetensors"))
        let directory = try AdapterFixture.exportDirectory()
        let paths = [directory + "/dropbooth_ti_diffusers.safetensors", directory + "/dropbooth-cat.safetensors"]
        try embedding.writeDiffusers(to: paths[0])
        var named = embedding
        named.token = "dropbooth-cat"
        try named.writeA1111(to: paths[1])
        for path in paths { #expect(try TextualInversionEmbedding.read(path: path).vectors == embedding.vectors) }
        if ProcessInfo.processInfo.environment["DROPBOOTH_ADAPTER_EXPORT"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
