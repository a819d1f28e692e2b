import ArgumentParser
import Foundation
import Imaging
import World

/// `dropbooth pretrain world`: renders scenes of the procedural world as PNG files with their
/// captions in <name>.txt (the layout an inbox job reads): pretraining scenes to look at, or
/// photos of a held-out subject for a demo job.
struct PretrainWorldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "world",
                                                    abstract: "Render world scenes (or photos of one subject) as PNG files with captions.")

    @Option(name: .long, help: "Folder for the images (created).")
    var out: String

    @Option(name: .long, help: "How many images.")
    var count = 16

    @Option(name: .long, help: "Image side in pixels.")
    var size = 32

    @Option(name: .long, help: "Seed of the scenes.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Render photos of one subject instead of pretraining scenes: a shape (\(Shape.allCases.map(\.rawValue).joined(separator: ", "))).")
    var subject: String?

    @Option(name: .long, help: "The subject's colour (\(Colour.allCases.map(\.rawValue).joined(separator: ", "))).")
    var colour = "yellow"

    func run() throws {
        let renderer = SceneRenderer(size: size)
        let sampler = SceneSampler.pretraining(seed: seed)
        var shape: Shape?
        if let subject {
            guard let s = Shape(rawValue: subject) else { throw ValidationError("--subject \(subject): expected one of \(Shape.allCases.map(\.rawValue).joined(separator: ", "))") }
            shape = s
        }
        guard let c = Colour(rawValue: colour) else { throw ValidationError("--colour \(colour): expected one of \(Colour.allCases.map(\.rawValue).joined(separator: ", "))") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for i in 0..<count {
            let scene = shape.map { SceneSampler.subject($0, colour: c, seed: seed, index: i) } ?? sampler.scene(i)
            let base = (out as NSString).appendingPathComponent(String(format: "%04d", i))
            try Data(ImageEncoder.png(renderer.render(scene))).write(to: URL(fileURLWithPath: base + ".png"))
            try Data((scene.caption + "\n").utf8).write(to: URL(fileURLWithPath: base + ".txt"))
        }
        print("wrote \(count) images to \(out)")
    }
}
