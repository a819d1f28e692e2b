import Foundation
import Imaging
import ModelIO
import Testing

/// `dropbooth sample` as a user runs it, against diffusers' StableDiffusionPipeline on the tiny
/// models (the cases of Tests/Fixtures/pipeline, made by scripts/fixtures/pipeline.py with
/// `generator=torch.Generator().manual_seed(seed)`): the PNG the command writes for a seed is
/// diffusers' image for that seed, to one level of 255 (float rounding; the bytes are
/// round(255·x) of floats that agree to 2e-4).
@Suite(.serialized) struct SampleCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    struct Case: Sendable, CustomStringConvertible {
        var name, model, sampler, prompt, negativePrompt: String
        var seed, steps, width, height: Int
        var guidance: Double
        var karras: Bool
        var description: String { name }
    }

    /// Three of the cases: a multistep sampler, ancestral noise at an odd size, SD 2 with
    /// v-prediction. Every case runs in-process in PipelineTests; here the point is the command
    /// line → request → PNG path, and each run of the debug binary costs seconds of CI time.
    static let chosen: Set<String> = ["sd1-pndm", "sd1-euler_ancestral-40x24", "sd2-dpmpp_2m-vpred"]

    static let cases: [Case] = {
        let url = fixtures.appendingPathComponent("pipeline/cases.json")
        guard let data = try? Data(contentsOf: url),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return list.compactMap { c in
            guard let name = c["name"] as? String, chosen.contains(name) else { return nil }
            return Case(name: name, model: c["model"] as! String, sampler: c["sampler"] as! String,
                        prompt: c["prompt"] as! String, negativePrompt: c["negative_prompt"] as? String ?? "",
                        seed: c["seed"] as! Int, steps: c["steps"] as! Int, width: c["width"] as! Int,
                        height: c["height"] as! Int, guidance: (c["guidance"] as! NSNumber).doubleValue,
                        karras: c["karras"] as? Bool ?? false)
        }
    }()

    @Test func theChosenCasesAreInTheFixtures() {
        #expect(Set(Self.cases.map(\.name)) == Self.chosen)
    }

    @Test("the PNG for a seed is diffusers' image for that seed", arguments: cases)
    func pngMatchesDiffusers(_ c: Case) throws {
        let out = NSTemporaryDirectory() + "dropbooth-sample-\(c.name)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var arguments = ["sample", "--model", Self.fixtures.appendingPathComponent("models/\(c.model)").path,
                         "--prompt", c.prompt, "--seeds", String(c.seed), "--steps", String(c.steps),
                         "--sampler", c.sampler, "--guidance", String(c.guidance),
                         "--width", String(c.width), "--height", String(c.height), "--out", out]
        if c.karras { arguments.append("--karras") }
        if !c.negativePrompt.isEmpty { arguments += ["--negative-prompt", c.negativePrompt] }
        let result = try ServiceHarness.run(arguments)
        try #require(result.status == 0, "dropbooth sample failed: \(result.stderr)")

        let pngs = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }
        try #require(pngs.count == 1, "expected one PNG, found \(pngs)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out + "/" + pngs[0])))
        let image = try ImageDecoder.decode(bytes).image
        #expect(image.width == c.width && image.height == c.height)

        let reference = try SafeTensorsFile(path: Self.fixtures.appendingPathComponent("pipeline/\(c.name).safetensors").path)
        let expected = try reference.floats("image").map { Int(($0 * 255).rounded()) }
        try #require(expected.count == image.pixels.count)
        let worst = zip(image.pixels, expected).map { abs(Int($0) - $1) }.max() ?? 0
        #expect(worst <= 1, "\(c.name): a pixel differs from diffusers' by \(worst) levels of 255")
    }
}
