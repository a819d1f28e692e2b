// swift-tools-version: 6.1
//
// dropbooth: the layers of DESIGN.md, each a target that depends only on the ones above it.
//
//   1. TensorEngine  float32 tensors on OpenBLAS, autodiff, kernels, optimisers
//   2. ModelIO       safetensors (memory-mapped), checkpoint and adapter formats
//      Imaging       image decode/encode, EXIF orientation, resize/crop, text rendering, grids
//      YAML          a small document layer over the system's libyaml, with line/column marks
//   3. Diffusion     CLIP tokenizer/text encoder, UNet, VAE, schedulers and samplers
//   4. Training      LoRA, DreamBooth, textual inversion: data, steps, checkpoints, exports
//   5. Service       recipes, config, watching, queue, runs, outbox, systemd
//   6. dropbooth     the command-line tool (serve, run, check, status, bench, ...)
//
// The C libraries come from Debian packages (scripts/setup.sh installs them) through
// system-library targets: the distribution ships their security fixes.
import Foundation
import PackageDescription

// TensorEngine is compiled for x86-64-v3 (AVX2, FMA, F16C: x86 server CPUs since about 2015)
// unless DROPBOOTH_PORTABLE=1. Measured with `dropbooth bench engine --filter 2x --threads 1
// --cpu-time` (2-core EPYC, load ~9, the two builds back to back, 2026-11-22), ms portable →
// x86-64-v3: SiLU 2x64²x320 6.6 → 5.5, GELU 2x64²x1280 75 → 50, GEGLU 80 → 44, group norm +
// SiLU 13.6 → 6.5, softmax 2x8x4096x77 30 → 16, GEGLU backward 127 → 80 (PyTorch, same run:
// 4.8, 15, 85, 7.6, 11, 255). GEMMs are OpenBLAS's, which picks its kernels at run time either
// way. A binary built so refuses to start, with a message, on an older CPU (Sources/CCPUFeatures)
// instead of dying of SIGILL.
let portableEngine = ProcessInfo.processInfo.environment["DROPBOOTH_PORTABLE"] == "1"
#if arch(x86_64)
let engineTargetCPU: [String] = portableEngine ? [] : ["-target-cpu", "haswell", "-D", "ENGINE_FMA"]
let engineCPUCheck: [CSetting] = portableEngine ? [] : [.define("DROPBOOTH_ENGINE_NEEDS_AVX2")]
#else
let engineTargetCPU: [String] = []
let engineCPUCheck: [CSetting] = []
#endif

let package = Package(
    name: "dropbooth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dropbooth", targets: ["dropbooth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1"),
        .systemLibrary(name: "CInotifyTools"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16"),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2"),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd"),

        // 1. Tensor engine
        // Refuses, with a message, to run the engine on a CPU it was not compiled for.
        .target(name: "CCPUFeatures", cSettings: engineCPUCheck),
        .target(
            name: "TensorEngine",
            dependencies: ["COpenBLAS", "CCPUFeatures"],
            // Optimised in debug builds too: the tests (debug) spend nearly all their time in
            // these kernels, which unoptimised Swift (SIMD types, generic dispatch) runs tens of
            // times slower. Debugging the kernels themselves needs this line removed.
            swiftSettings: [
                .unsafeFlags(["-Ounchecked"] + engineTargetCPU, .when(configuration: .release)),
                .unsafeFlags(["-O"] + engineTargetCPU, .when(configuration: .debug)),
            ]
        ),
        // 2. Model IO, images, YAML
        .target(name: "ModelIO", dependencies: ["TensorEngine"]),
        // libjpeg reports errors by longjmp, which must not cross Swift frames: every libjpeg
        // call sits in this C shim under its own setjmp and returns a status code instead.
        .target(name: "CJPEGShim", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "Imaging", dependencies: ["CJPEGShim", "CPNG", "CFreeType"]),
        .target(name: "YAML", dependencies: ["CYAML"]),
        // The procedural image world the default model is pretrained on (scenes, captions, a measure).
        .target(name: "World", dependencies: ["Imaging"]),
        // 3. Stable Diffusion models: tokenizer, text encoder, UNet, VAE, schedulers
        // Imaging: CLIP's image preprocessing (the CLIP scores of evaluation).
        .target(name: "Diffusion", dependencies: ["TensorEngine", "ModelIO", "Imaging"]),
        // Scores of a run's samples: subject and prompt fidelity, KID, in a model's feature space
        // (the world's own measure, or CLIP's encoders from Diffusion).
        .target(name: "Evaluation", dependencies: ["Imaging", "World", "Diffusion"]),
        // 4. Training: LoRA, DreamBooth, textual inversion
        .target(name: "Training", dependencies: ["Diffusion", "TensorEngine", "ModelIO", "Imaging"]),
        // 5. Service
        .target(
            name: "Service",
            dependencies: [
                "TensorEngine", "ModelIO", "Imaging", "YAML", "Diffusion", "Training", "Evaluation", "CInotifyTools", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // 6. CLI
        .executableTarget(
            name: "dropbooth",
            dependencies: [
                "Service", "TensorEngine", "ModelIO", "Imaging", "Diffusion", "Training", "World", "Evaluation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Fixture reading and closeness checks shared by the test targets.
        .target(name: "TestSupport", dependencies: ["ModelIO", "TensorEngine"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine", "ModelIO", "TestSupport"]),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "TensorEngine", "TestSupport"]),
        // Fixtures/ holds image files the tests read by path (made by scripts/make_samples.py).
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], exclude: ["Fixtures"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TensorEngine", "ModelIO", "Imaging", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Diffusion", "TensorEngine", "ModelIO", "TestSupport"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        // Trains the default model (or DROPBOOTH_LEARNING_MODEL) on the star and measures its samples.
        .testTarget(name: "LearningTests", dependencies: ["Training", "Diffusion", "World", "Imaging"]),
        .testTarget(name: "WorldTests", dependencies: ["World", "Imaging"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "World", "Imaging", "Diffusion", "ModelIO"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "Imaging", "YAML", "Diffusion", "Training", "TensorEngine", "ModelIO", "Evaluation"]),
        // Starts the real `dropbooth` binary on temporary folders.
        .testTarget(name: "IntegrationTests", dependencies: ["dropbooth", "Imaging", "ModelIO"]),
    ]
)
