// The image side of transformers' CLIPImageProcessor: the exact pixels a CLIP model is scored
// on. Its steps, in order:
//
//   resize so the shorter side is `shortestEdge` (the longer side scaled and truncated to an
//   integer, as transformers' get_resize_output_image_size does), Pillow's bicubic filter
//   → crop the centred cropSize × cropSize square (offsets (size − crop) / 2, rounded down)
//   → bytes × 1/255 → (value − mean) / std per channel
//
// Settings come from the model folder's preprocessor_config.json when there is one, else the
// CLIP defaults (224, OpenAI's mean and std).

import Foundation
import Imaging
import TensorEngine

public struct CLIPImagePreprocessor: Sendable, Equatable {
    /// The shorter side after resizing.
    public var shortestEdge: Int
    /// The side of the square centre crop (the vision model's image size).
    public var cropSize: Int
    public var mean: [Float]
    public var std: [Float]
    public var rescaleFactor: Double

    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(shortestEdge: Int = 224, cropSize: Int = 224, mean: [Float] = openAIMean, std: [Float] = openAIStd,
                rescaleFactor: Double = 1 / 255) {
        precondition(shortestEdge > 0 && cropSize > 0 && cropSize <= shortestEdge && mean.count == 3 && std.count == 3,
                     "CLIP preprocessing: shortest edge \(shortestEdge), crop \(cropSize), \(mean.count) means, \(std.count) stds")
        self.shortestEdge = shortestEdge; self.cropSize = cropSize
        self.mean = mean; self.std = std; self.rescaleFactor = rescaleFactor
    }

    /// The size the resize step produces for a width × height image.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let (short, long) = width <= height ? (width, height) : (height, width)
        // transformers: int(size * long / short), computed in floating point and truncated.
        let newLong = Int(Double(shortestEdge) * Double(long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// The resized and centre-cropped image (cropSize × cropSize), before rescaling.
    public func cropped(_ image: RGBImage) -> RGBImage {
        let (w, h) = resizedSize(width: image.width, height: image.height)
        // Only the kept square is computed: the same bytes as resizing, then cropping.
        return BicubicResampler.resize(image, width: w, height: h, cropX: (w - cropSize) / 2, cropY: (h - cropSize) / 2,
                                       cropWidth: cropSize, cropHeight: cropSize)
    }

    /// The model's input for one image: cropSize × cropSize × 3 floats, channels-last.
    public func pixelValues(_ image: RGBImage) -> [Float] {
        let square = cropped(image)
        var out = [Float](repeating: 0, count: square.pixels.count)
        for i in 0..<out.count {
            let c = i % 3
            // transformers rescales in float64 and stores float32, then normalises in float32.
            let rescaled = Float(Double(square.pixels[i]) * rescaleFactor)
            out[i] = (rescaled - mean[c]) / std[c]
        }
        return out
    }

    /// A batch of images as one tensor [B, cropSize, cropSize, 3].
    public func pixelValues(_ images: [RGBImage]) -> Tensor {
        let values = images.flatMap { pixelValues($0) }
        return Tensor(values, shape: [images.count, cropSize, cropSize, 3])
    }
}

extension CLIPImagePreprocessor {
    /// Reads a preprocessor_config.json as transformers writes it for CLIPImageProcessor (sizes as
    /// {"shortest_edge": n} and {"height": n, "width": n}, or as plain integers in older files).
    /// Settings that would change the steps above (no resize, another filter, no crop, …) are
    /// refused by name rather than silently not applied.
    public init(contentsOf path: String) throws {
        var r = try ConfigReader(path: path)
        func side(_ key: String, names: [String]) throws -> Int? {
            guard let v = r.raw(key), !v.isNull else { return nil }
            switch v {
            case .number(let d) where d == d.rounded() && d > 0 && d < 1e6: return Int(d)
            case .object(let o):
                let sides = names.compactMap { name -> Double? in
                    if case .number(let d)? = o[name] { return d }
                    return nil
                }
                if sides.count == names.count, Set(sides).count == 1, o.count == names.count,
                   let d = sides.first, d == d.rounded(), d > 0, d < 1e6 { return Int(d) }
            default: break
            }
            throw CheckpointError.unsupportedConfig(path: path, key: key, value: v.description,
                                                    reason: "expected \(names.count == 1 ? "{\"shortest_edge\": n}" : "a square {\"height\": n, \"width\": n}") or an integer")
        }
        let shortest = try side("size", names: ["shortest_edge"]) ?? 224
        let crop = try side("crop_size", names: ["height", "width"]) ?? 224
        r.ignore(["size", "crop_size"])
        for key in ["do_resize", "do_center_crop", "do_rescale", "do_normalize", "do_convert_rgb"] {
            try r.require(key, in: [.bool(true)], reason: "dropbooth computes CLIP scores with this step on, as CLIP was trained")
        }
        try r.require("resample", in: [.number(3)], reason: "expected 3 (bicubic), CLIP's resampling filter")
        let mean = try r.doubleList("image_mean").map { $0.map(Float.init) } ?? Self.openAIMean
        let std = try r.doubleList("image_std").map { $0.map(Float.init) } ?? Self.openAIStd
        let factor = try r.optionalDouble("rescale_factor") ?? 1 / 255
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw CheckpointError.badConfigValue(path: path, key: "image_mean/image_std", expected: "three means and three positive deviations",
                                                 found: "\(mean), \(std)")
        }
        guard crop <= shortest else {
            throw CheckpointError.invalidConfig(path: path, key: "crop_size", reason: "\(crop) is larger than the resized shorter side \(shortest)")
        }
        r.ignore(["feature_extractor_type", "image_processor_type", "processor_class", "default_to_square",
                  "input_data_format", "data_format", "return_tensors", "device", "disable_grouping"])
        try r.finish()
        self.init(shortestEdge: shortest, cropSize: crop, mean: mean, std: std, rescaleFactor: factor)
    }
}
