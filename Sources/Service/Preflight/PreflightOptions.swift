/// What the preflight phase checks a job folder against. The job runner fills this from the
/// validated recipe (resolution, crop) and the service config (limits).
public struct PreflightOptions: Sendable, Equatable {
    /// Side of the square training image, in pixels (recipe `train.resolution`).
    public var resolution: Int = 512
    /// Recipe `train.center_crop`. On: the centre square is kept. Off: training takes a random
    /// square per step; the contact sheet still shows the centre one (it cannot show them all).
    public var centerCrop: Bool = true
    /// Recipe `train.buckets`: photos train at their own shape, so no square crop loses them.
    public var buckets: Bool = false
    /// Folder to scan, relative to the job folder: nil (or "") for the job root, "class" for
    /// the prior-preservation images. Never a path that leaves the job folder.
    public var subfolder: String? = nil
    /// Sub-folders of this folder that are read on their own (a subject's class folder, e.g.
    /// `class` inside `rex/`): passed over silently instead of rejected as a stray folder.
    public var separateSubfolders: Set<String> = []
    /// Images beyond this count (in name order) are rejected with a reason.
    public var maxImages: Int = 1000
    /// Files larger than this are rejected before they are read.
    public var maxImageBytes: Int = 64 << 20
    /// Width × height from the header; larger images are rejected before decoding (bombs).
    public var maxImagePixels: Int = 50_000_000
    /// The job fails when fewer usable images remain.
    public var minImages: Int = 1
    /// A folder with more directory entries than this is refused as a whole, unread: listing
    /// and sorting an unbounded folder is itself a way to exhaust the service.
    public var maxDirectoryEntries: Int = 10_000
    /// Caption files (`photo.jpg.txt` or `photo.txt`) larger than this are ignored, with a note.
    public var maxCaptionBytes: Int = 4096
    /// Contact sheet: side of one tile in pixels, and whether to make one at all.
    public var contactSheetTileSize: Int = 160
    public var makeContactSheet: Bool = true
    /// What the run-time and memory estimate assumes about the training that follows.
    public var plan: TrainingPlan = TrainingPlan()

    public init() {}

    public init(resolution: Int, centerCrop: Bool = true, subfolder: String? = nil,
                maxImages: Int = 1000, maxImageBytes: Int = 64 << 20, maxImagePixels: Int = 50_000_000,
                minImages: Int = 1, plan: TrainingPlan = TrainingPlan()) {
        self.resolution = resolution; self.centerCrop = centerCrop; self.subfolder = subfolder
        self.maxImages = maxImages; self.maxImageBytes = maxImageBytes
        self.maxImagePixels = maxImagePixels; self.minImages = minImages; self.plan = plan
    }
}

/// The training a job will run, as far as the run-time and memory estimate needs it.
/// Defaults describe an SD 1.x LoRA run of a typical recipe.
public struct TrainingPlan: Sendable, Equatable {
    public enum Method: String, Sendable, Equatable { case lora, dreambooth, textualInversion }
    public var method: Method = .lora
    public var steps: Int = 1000
    public var batchSize: Int = 1
    /// Prior preservation doubles the images per step (instance + class).
    public var priorPreservation: Bool = false
    public var trainTextEncoder: Bool = false
    public var gradientCheckpointing: Bool = true
    /// Sample images drawn during and after training, and denoising steps for each.
    public var sampleImages: Int = 4
    public var sampleSteps: Int = 25
    /// Parameters of the base model's parts (SD 1.x defaults; the preflight phase reads the
    /// base model's own from its checkpoint).
    public var unetParameters: Int = 859_520_964
    public var textEncoderParameters: Int = 123_060_480
    public var vaeParameters: Int = 83_653_863
    /// Channel widths of the UNet's and the VAE's levels, from the full-resolution one down,
    /// and how many times smaller the latent is than the image (SD 1.x defaults; read from the
    /// base model's configs like the parameter counts).
    public var unetBlockChannels: [Int] = RunEstimate.referenceUNetChannels
    public var vaeBlockChannels: [Int] = RunEstimate.referenceVAEChannels
    public var vaeDownscale: Int = 8
    /// Sustained float32 throughput the machine reaches on this workload, in GFLOP/s. Zero:
    /// assume `threads` cores × 100 GFLOP/s, what the engine sustains on SD 1.5 at 512 px per
    /// core of the 2-core AVX-512 EPYC it is benchmarked on (`bench unet`, 2026-12-07: LoRA step
    /// 2.4 TFLOP in 9.8 s, guided sampling step 1.6 TFLOP in 8.2 s, VAE decode 1.25 TFLOP in
    /// 6.1 s: 97–122 per core; with OpenBLAS's AVX2 kernels 107 per core in the LoRA step).
    public var gflopsPerSecond: Double = 0
    /// Threads training will use; zero means every core.
    public var threads: Int = 0
    public init() {}
}
