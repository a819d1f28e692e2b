// Checkpoint and resume: everything a run needs to continue as if it had never stopped.
//
// One safetensors file, written to a temporary name and renamed (a kill mid-write leaves the
// previous checkpoint intact): the trainable tensors ("param.<name>", PyTorch layout), AdamW's
// moments ("adam.m.<name>", "adam.v.<name>"), and in the header's metadata a JSON document
// "training_state" with the optimiser step, the batch sampler's state (generator, epoch order,
// position) and the parameter names in order.

import Foundation
import ModelIO
import TensorEngine

public struct TrainingCheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "training checkpoint \(path): \(problem)" }
}

public enum TrainingCheckpoint {
    static let formatVersion = 1

    struct State: Codable {
        var format: Int
        var step: Int
        var sampler: BatchSampler.State
        var parameters: [String]
    }

    public static func write(_ trainer: DiffusionTrainer, sampler: BatchSampler.State, to path: String) throws {
        precondition(trainer.pendingMicroBatches == 0, "checkpoint between optimiser steps, not in the middle of an accumulation")
        let state = State(format: formatVersion, step: trainer.step, sampler: sampler, parameters: trainer.parameters.map(\.qualifiedName))
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        var writer = SafeTensorsWriter(metadata: ["training_state": json])
        for (i, p) in trainer.parameters.enumerated() {
            writer.add("param.\(p.qualifiedName)", shape: p.pytorchShape, values: p.pytorchValues())
            writer.add("adam.m.\(p.qualifiedName)", shape: p.tensor.shape, values: trainer.optimizer.firstMoments[i].scalars)
            writer.add("adam.v.\(p.qualifiedName)", shape: p.tensor.shape, values: trainer.optimizer.secondMoments[i].scalars)
        }
        try writer.write(to: path)
    }

    /// Loads parameters and optimiser state into `trainer` (built the same way as the one that
    /// wrote the file) and returns the sampler state to continue from.
    public static func restore(_ trainer: DiffusionTrainer, from path: String) throws -> BatchSampler.State {
        let file = try SafeTensorsFile(path: path)
        guard let json = file.metadata["training_state"] else {
            throw TrainingCheckpointError(path: path, problem: "no \"training_state\" in the header metadata; not a dropbooth training checkpoint")
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: Data(json.utf8)) } catch {
            throw TrainingCheckpointError(path: path, problem: "\"training_state\" is not valid: \(error)")
        }
        guard state.format == formatVersion else {
            throw TrainingCheckpointError(path: path, problem: "format \(state.format), expected \(formatVersion)")
        }
        let names = trainer.parameters.map(\.qualifiedName)
        guard state.parameters == names else {
            let missing = Set(names).symmetricDifference(state.parameters).sorted().first ?? "(order differs)"
            throw TrainingCheckpointError(path: path, problem: "trains different tensors than this run, e.g. \(missing)")
        }
        var m: [[Float]] = [], v: [[Float]] = []
        for p in trainer.parameters {
            let n = p.qualifiedName
            for key in ["param.\(n)", "adam.m.\(n)", "adam.v.\(n)"] {
                guard (try? file.entry(key))?.elementCount == p.tensor.count else {
                    throw TrainingCheckpointError(path: path, problem: "tensor \(key) is missing or has the wrong size (expected \(p.tensor.count) values)")
                }
            }
            p.load(pytorchValues: try file.floats("param.\(n)"))
            m.append(try file.floats("adam.m.\(n)"))
            v.append(try file.floats("adam.v.\(n)"))
        }
        trainer.optimizer.restore(step: state.step, firstMoments: m, secondMoments: v)
        return state.sampler
    }
}
