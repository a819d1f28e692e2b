/// What every training image goes through, in this order, and what preflight shows on the
/// contact sheet (the same code, so the sheet is what the model sees):
///
///   1. decode, EXIF orientation applied, transparency composited on white (ImageDecoder);
///   2. resize so that the shorter side equals `resolution` (Lanczos-3, antialiased);
///   3. crop a `resolution` × `resolution` square: the centre one when `centerCrop` is on,
///      otherwise one at a random position chosen per step (`CropPlacement.fraction`);
///   4. flip left-right with probability ½ when the recipe enables random flips;
///   5. to float [-1, 1], NHWC (`RGBImage.floatNHWC`), for the VAE encoder.
public struct TrainingTransform: Sendable, Equatable {
    public var resolution: Int
    public var centerCrop: Bool

    public init(resolution: Int, centerCrop: Bool = true) {
        precondition(resolution > 0, "resolution \(resolution)")
        self.resolution = resolution; self.centerCrop = centerCrop
    }

    /// Where the square is cut from the resized image.
    public enum CropPlacement: Sendable, Equatable {
        case center
        /// Position as fractions 0...1 of the free space (0 = left/top edge, 1 = right/bottom);
        /// training draws them at random when `centerCrop` is off.
        case fraction(x: Double, y: Double)
    }

    /// Steps 2–4. `placement` is ignored when `centerCrop` is on.
    /// Resize and crop happen in one pass that computes only the kept square (identical to
    /// resizing the whole image and then cropping; see `Resampler.resize(_:width:height:cropX:…)`).
    public func apply(_ image: RGBImage, placement: CropPlacement = .center, flip: Bool = false) -> RGBImage {
        let (w, h) = image.sizeWithShorterSide(resolution)
        let freeX = w - resolution, freeY = h - resolution
        var x = freeX / 2, y = freeY / 2
        if !centerCrop, case .fraction(let fx, let fy) = placement {
            x = Int((Double(freeX) * min(1, max(0, fx))).rounded())
            y = Int((Double(freeY) * min(1, max(0, fy))).rounded())
        }
        let square = (w == image.width && h == image.height)
            ? image.cropped(x: x, y: y, width: resolution, height: resolution)
            : Resampler.resize(image, width: w, height: h, cropX: x, cropY: y, cropWidth: resolution, cropHeight: resolution)
        return flip ? square.flippedHorizontally() : square
    }

    /// For aspect-ratio buckets (train.buckets): resize so the image covers `width` × `height`
    /// with its aspect ratio kept, and cut that size from the centre, in one pass. No random
    /// placement: the trim is a thin strip, there is nothing to move (see the recipe check
    /// that refuses buckets with center_crop off).
    public func apply(_ image: RGBImage, width: Int, height: Int, flip: Bool = false) -> RGBImage {
        precondition(width > 0 && height > 0, "bucket size \(width)x\(height)")
        let scale = max(Double(width) / Double(image.width), Double(height) / Double(image.height))
        let w = max(width, Int((Double(image.width) * scale).rounded()))
        let h = max(height, Int((Double(image.height) * scale).rounded()))
        let (x, y) = ((w - width) / 2, (h - height) / 2)
        let out = (w == image.width && h == image.height)
            ? image.cropped(x: x, y: y, width: width, height: height)
            : Resampler.resize(image, width: w, height: h, cropX: x, cropY: y, cropWidth: width, cropHeight: height)
        return flip ? out.flippedHorizontally() : out
    }

    /// The share of the (resized) image the square keeps, 0...1: low for panoramas.
    public func keptFraction(width: Int, height: Int) -> Double {
        Double(min(width, height)) / Double(max(width, height))
    }
}
