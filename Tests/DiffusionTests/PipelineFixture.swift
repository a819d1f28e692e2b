import Foundation
import Testing
import ModelIO
import TensorEngine
@testable import Diffusion
import TestSupport

/// The reference txt2img runs of scripts/fixtures/pipeline.py (Tests/Fixtures/pipeline/):
/// cases.json lists the settings, <case>.safetensors the NCHW initial and final latents and
/// the decoded image in [0, 1].
struct PipelineCase: Sendable {
    static let root = TestFixtures.url("pipeline")

    let name: String
    let model: String
    let request: TextToImageRequest
    let givenLatents: Bool

    static func all() throws -> [PipelineCase] {
        let data = try Data(contentsOf: root.appendingPathComponent("cases.json"))
        let list = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        return list.map { j in
            var r = TextToImageRequest(prompt: j["prompt"] as! String)
            r.negativePrompt = j["negative_prompt"] as! String
            r.seed = UInt64((j["seed"] as! NSNumber).intValue)
            r.steps = (j["steps"] as! NSNumber).intValue
            r.sampler = SamplerKind(rawValue: j["sampler"] as! String)!
            r.karras = (j["karras"] as! NSNumber).boolValue
            r.guidance = (j["guidance"] as! NSNumber).floatValue
            r.width = (j["width"] as! NSNumber).intValue
            r.height = (j["height"] as! NSNumber).intValue
            return PipelineCase(name: j["name"] as! String, model: j["model"] as! String, request: r,
                                givenLatents: !(j["given_latents_seed"] is NSNull))
        }
    }

    static func named(_ name: String) throws -> PipelineCase {
        try #require(try all().first { $0.name == name })
    }

    var file: URL { PipelineCase.root.appendingPathComponent(name + ".safetensors") }
    func tensors() throws -> SafeTensorsFile { try SafeTensorsFile(path: file.path) }
    var modelFolder: URL { TinyModel.root.appendingPathComponent(model) }

    func pipeline() throws -> TextToImagePipeline {
        try TextToImagePipeline(checkpoint: try StableDiffusionCheckpoint.open(modelFolder.path))
    }
}
