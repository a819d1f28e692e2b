/// The service's configuration: one YAML file (default /etc/dropbooth/config.yaml, `--config`
/// to point elsewhere). This struct is the contract between the config loader and the rest of
/// the service; `ServiceConfig.load` (in ServiceConfig+YAML.swift) fills it from the file.
public struct ServiceConfig: Sendable, Equatable {
    /// Jobs arrive here, one folder each. Read-only for the service.
    public var inbox: String
    /// Results are published here, `outbox/<job>/<run>/`.
    public var outbox: String
    /// Queue, run state, checkpoints, caches (class images, latents). Survives restarts.
    public var stateDirectory: String
    /// Base models by name → path of a diffusers folder or a single-file .safetensors.
    /// Recipes name a model; they never give a path.
    public var models: [String: String]
    public var limits: Limits
    /// Threads for training and sampling (OpenBLAS and the engine's own kernels).
    public var threads: Int
    /// A job folder is ready when nothing in it changed for this long (slow copies over a share).
    public var settleSeconds: Double
    /// Full rescans of the inbox back the inotify watcher (NFS/SMB deliver no remote events).
    public var rescanSeconds: Double
    /// If set, jobs run only inside this daily window; outside it a running job checkpoints and pauses.
    public var quietHours: QuietHours?

    public struct Limits: Sendable, Equatable {
        public var maxSteps: Int = 20_000
        public var maxResolution: Int = 1024
        public var minImages: Int = 1
        public var maxImages: Int = 1000
        /// Width × height of one image, checked from the header before decoding (decompression bombs).
        public var maxImagePixels: Int = 50_000_000
        public var maxImageBytes: Int = 64 << 20
        public var maxRecipeBytes: Int = 256 << 10
        /// Images per optimiser step (memory grows with it).
        public var maxBatchSize: Int = 8
        /// Prior-preservation class images per subject (each missing one is generated on the CPU).
        public var maxClassImages: Int = 1000
        /// Subjects in one recipe.
        public var maxSubjects: Int = 8
        /// Images in one sample grid (prompts × seeds).
        public var maxSampleImages: Int = 64
        /// Denoising steps per sample image.
        public var maxSampleSteps: Int = 150
        public init() {}
    }

    /// A daily window in local time, minutes after midnight; may wrap past midnight (22:00–07:00).
    public struct QuietHours: Sendable, Equatable {
        public var startMinute: Int
        public var endMinute: Int
        public init(startMinute: Int, endMinute: Int) { self.startMinute = startMinute; self.endMinute = endMinute }
        public func contains(minuteOfDay m: Int) -> Bool {
            startMinute <= endMinute ? (m >= startMinute && m < endMinute) : (m >= startMinute || m < endMinute)
        }
    }

    public init(inbox: String, outbox: String, stateDirectory: String, models: [String: String] = [:],
                limits: Limits = Limits(), threads: Int = 0, settleSeconds: Double = 30,
                rescanSeconds: Double = 60, quietHours: QuietHours? = nil) {
        self.inbox = inbox; self.outbox = outbox; self.stateDirectory = stateDirectory
        self.models = models; self.limits = limits; self.threads = threads
        self.settleSeconds = settleSeconds; self.rescanSeconds = rescanSeconds; self.quietHours = quietHours
    }
}
