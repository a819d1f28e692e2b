import Foundation
import Diffusion
import Imaging
import Training

/// The images preflight accepted, decoded again the same way (the contact sheet's transform is
/// applied by the training run), with the caption each one trains with.
extension TrainingPhase {
    /// The report preflight published for a folder ("." or "" is the job folder).
    static func preflightReport(_ context: JobContext, folder: String) throws -> PreflightReport {
        let sub = folder == "." || folder.isEmpty ? nil : folder
        let stem = sub.map { "preflight-" + PreflightPhase.fileSafe($0) } ?? "preflight"
        let path = "\(context.workDirectory)/\(stem).json"
        do {
            return try JSONDecoder().decode(PreflightReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw JobFailure("Internal error: the preflight report \(stem).json could not be read (\(error)); delete the run's state to start it again.")
        }
    }

    static func decodeImages(_ context: JobContext, folder: String, report: PreflightReport, subject: Int,
                             caption: (PreflightReport.AcceptedImage) -> String) throws -> [TrainingImage] {
        let sub = folder == "." || folder.isEmpty ? nil : folder
        let untrusted: UntrustedFolder
        do { untrusted = try UntrustedFolder(job: URL(fileURLWithPath: context.jobDirectory), subfolder: sub) } catch {
            throw JobFailure(error.message)
        }
        let limits = context.config.limits
        let place = sub.map { "\($0)/" } ?? ""
        return try report.accepted.map { accepted in
            let bytes: [UInt8]
            switch untrusted.read(accepted.fileName, maxBytes: limits.maxImageBytes) {
            case .success(let b): bytes = b
            case .failure(let why): throw JobFailure("\(place)\(accepted.fileName) changed since preflight and can no longer be read: \(why.description)")
            }
            do {
                let decoded = try ImageDecoder.decode(bytes, limits: ImageLimits(maxBytes: limits.maxImageBytes, maxPixels: limits.maxImagePixels))
                return TrainingImage(name: place + accepted.fileName, image: decoded.image, caption: caption(accepted), subject: subject)
            } catch {
                throw JobFailure("\(place)\(accepted.fileName) changed since preflight and can no longer be decoded: \(error)")
            }
        }
    }

    /// Every subject's images with their captions: the caption file through `captions.template`
    /// when the recipe uses caption files and one exists, else the subject's instance prompt.
    static func instanceImages(_ context: JobContext, _ recipe: Recipe) throws -> [TrainingImage] {
        var images: [TrainingImage] = []
        var seen = Set<String>()
        for (index, subject) in recipe.subjects.enumerated() where seen.insert(subject.folder).inserted {
            let report = try preflightReport(context, folder: subject.folder)
            images += try decodeImages(context, folder: subject.folder, report: report, subject: index) { accepted in
                if recipe.captions.useFiles, let text = accepted.caption {
                    return subject.expand(recipe.captions.template, caption: text)
                }
                return subject.expand(subject.instancePrompt)
            }
        }
        return images
    }

    /// Prior-preservation images: `class_images` per subject (tagged with it, so that training
    /// pairs each subject's photos with its own class), first from its class folder, the
    /// rest drawn with the base model and kept in `<state>/class-images/` (keyed by base model,
    /// class prompt and resolution), where the next job for the same class finds them.
    static func classImages(_ context: JobContext, _ recipe: Recipe, basePath: String) throws -> [TrainingImage] {
        guard recipe.priorPreservation.enabled else { return [] }
        let wanted = recipe.priorPreservation.classImages
        var images: [TrainingImage] = []
        var pipeline: TextToImagePipeline?
        for (index, subject) in recipe.subjects.enumerated() {
            let folder = subject.classFolder
            let plan = try context.plan
            let have: [TrainingImage]
            if plan.imageFolders.contains(where: { $0.subfolder == folder && $0.isClassFolder }) {
                let report = try preflightReport(context, folder: folder)
                have = try decodeImages(context, folder: folder, report: report, subject: index) { _ in subject.expand(subject.classPrompt) }
            } else {
                have = []
            }
            images += have.prefix(wanted)
            guard have.count < wanted else { continue }
            let prompt = subject.expand(subject.classPrompt)
            let missing = wanted - have.count
            context.logger.info("class images: \(have.count) in \(folder)/, drawing or reusing \(missing) for \"\(prompt)\"")
            do {
                if pipeline == nil {
                    pipeline = try TextToImagePipeline(checkpoint: StableDiffusionCheckpoint.open(basePath))
                }
                let request = ClassImageRequest(modelIdentity: ClassImageCache.modelIdentity(checkpointPath: basePath),
                                                prompt: prompt, resolution: recipe.train.resolution)
                let cache = ClassImageCache(directory: context.config.stateDirectory + "/class-images")
                let paths = try cache.images(for: request, count: missing, pipeline: pipeline!,
                                             progress: { done, total in context.progress(step: done, total: total) },
                                             shouldStop: { (try? context.checkStop()) == nil })
                for (i, path) in paths.enumerated() {
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                    images.append(TrainingImage(name: "class image \(i)", image: try ImageDecoder.decode(bytes).image, caption: prompt, subject: index))
                }
            } catch is ClassImageGenerationStopped {
                throw JobStopped()
            } catch let failure as JobFailure {
                throw failure
            } catch {
                throw JobFailure("prior preservation: \(folder)/ holds \(have.count) of the \(wanted) class images (prior_preservation.class_images) and drawing the rest failed: \(error)")
            }
        }
        return images
    }
}
