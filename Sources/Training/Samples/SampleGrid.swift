// Sample grids: every prompt drawn with every seed, the prompt and seed written under each
// image. One model: prompts down, seeds across. Several models (the base and the trained one):
// one column per model with its name on top, one row per prompt and seed, so the same prompt
// and seed sit side by side. `dropbooth sample` and the training phase both draw with this.

import Diffusion
import Imaging

public struct SampleGrid {
    /// One model's images, in prompt-major order (prompt 0 with every seed, then prompt 1, …).
    public struct Column {
        public var header: String
        public var images: [RGBImage]
        public init(header: String, images: [RGBImage]) { self.header = header; self.images = images }
    }

    public var prompts: [String]
    public var seeds: [UInt64]
    public var width: Int
    public var height: Int

    public init(prompts: [String], seeds: [UInt64], width: Int, height: Int) {
        self.prompts = prompts; self.seeds = seeds; self.width = width; self.height = height
    }

    /// Prompt × seed, prompt-major: the order the images of a column are drawn in.
    public var cells: [(prompt: String, seed: UInt64)] {
        prompts.flatMap { p in seeds.map { (p, $0) } }
    }

    /// Draws one column: `request` gives the settings, `prompt` turns a grid prompt into the
    /// text the model reads (e.g. a textual-inversion token widened to its vectors).
    /// `onImage(index, image)` sees each image as it is done (to save it, report progress).
    public func draw(with pipeline: TextToImagePipeline, request: TextToImageRequest, prompt: (String) -> String = { $0 },
                     onImage: (Int, RGBImage) throws -> Void = { _, _ in }) throws -> [RGBImage] {
        try cells.enumerated().map { i, cell in
            var r = request
            r.prompt = prompt(cell.prompt)
            r.negativePrompt = prompt(request.negativePrompt)
            r.seed = cell.seed
            r.width = width; r.height = height
            let result = try pipeline.generate(r)
            let image = RGBImage(width: result.width, height: result.height, pixels: result.pixels)
            try onImage(i, image)
            return image
        }
    }

    /// The captioned sheet. Small images are shown enlarged so their captions have room (the
    /// grid keeps the aspect ratio).
    public func render(_ columns: [Column]) throws -> RGBImage {
        precondition(!columns.isEmpty && columns.allSatisfy { $0.images.count == cells.count },
                     "every column needs one image per prompt and seed (\(cells.count))")
        let tileWidth = max(width, 160), tileHeight = max(1, tileWidth * height / width)
        let captions = cells.map { "\($0.prompt)\nseed \($0.seed)" }
        var grid: ImageGrid
        var tiles: [ImageGrid.Tile?] = []
        if columns.count == 1 {
            grid = ImageGrid(tileWidth: tileWidth, tileHeight: tileHeight, columns: seeds.count)
            tiles = zip(columns[0].images, captions).map { ImageGrid.Tile(image: $0, caption: $1) }
        } else {
            grid = ImageGrid(tileWidth: tileWidth, tileHeight: tileHeight, columns: columns.count)
            grid.columnHeaders = columns.map(\.header)
            for (i, caption) in captions.enumerated() {
                for column in columns { tiles.append(ImageGrid.Tile(image: column.images[i], caption: caption)) }
            }
        }
        grid.captionLines = 3
        return try grid.render(tiles)
    }
}
