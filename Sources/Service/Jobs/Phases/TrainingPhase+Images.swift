import Foundation
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

    static func decodeImages(_ context: JobContext, folder: String, report: PreflightReport,
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
                return TrainingImage(name: place + accepted.fileName, image: decoded.image, caption: caption(accepted))
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
        for subject in recipe.subjects where seen.insert(subject.folder).inserted {
            let report = try preflightReport(context, folder: subject.folder)
            images += try decodeImages(context, folder: subject.folder, report: report) { accepted in
                if recipe.captions.useFiles, let text = accepted.caption {
                    return subject.expand(recipe.captions.template, caption: text)
                }
                return subject.expand(subject.instancePrompt)
            }
        }
        return images
    }

    /// Prior-preservation images: `class_images` per subject from its class folder.
    static func classImages(_ context: JobContext, _ recipe: Recipe) throws -> [TrainingImage] {
        guard recipe.priorPreservation.enabled else { return [] }
        let wanted = recipe.priorPreservation.classImages
        var images: [TrainingImage] = []
        for subject in recipe.subjects {
            let folder = subject.classFolder
            let plan = try context.plan
            let have: [TrainingImage]
            if plan.imageFolders.contains(where: { $0.subfolder == folder && $0.isClassFolder }) {
                let report = try preflightReport(context, folder: folder)
                have = try decodeImages(context, folder: folder, report: report) { _ in subject.expand(subject.classPrompt) }
            } else {
                have = []
            }
            if have.count < wanted {
                throw JobFailure("""
                    prior_preservation.class_images is \(wanted), but the class folder \(folder)/ holds \(have.count) usable image(s). \
                    This version does not generate class images yet: add at least \(wanted - have.count) more photos of \
                    "\(subject.expand(subject.classPrompt))" to \(folder)/, or lower prior_preservation.class_images to \(max(1, have.count)), \
                    or set `prior_preservation: {enabled: false}`.
                    """)
            }
            images += have.prefix(wanted)
        }
        return images
    }
}
