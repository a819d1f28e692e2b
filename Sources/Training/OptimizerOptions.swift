// The optimiser side of a training run, as the diffusers scripts' flags name it.

import TensorEngine

public struct OptimizerOptions: Sendable, Codable, Equatable {
    /// The base learning rate (--learning_rate), already scaled if the recipe asks for scaling.
    public var learningRate: Float
    public var schedule: LearningRateSchedule = .constant
    public var warmupSteps: Int = 0
    /// Optimiser steps in the whole run (the schedule's length).
    public var totalSteps: Int
    public var adam: AdamW.Hyperparameters = .init()
    /// clip_grad_norm_ before each update; nil: no clipping.
    public var maxGradNorm: Float?
    /// Micro-batches per optimiser step; each micro-batch's loss is divided by it (as
    /// accelerate does), so the update sees the mean gradient.
    public var gradientAccumulationSteps: Int = 1

    public init(learningRate: Float, schedule: LearningRateSchedule = .constant, warmupSteps: Int = 0, totalSteps: Int,
                adam: AdamW.Hyperparameters = .init(), maxGradNorm: Float? = nil, gradientAccumulationSteps: Int = 1) {
        precondition(gradientAccumulationSteps >= 1, "gradient accumulation needs at least one micro-batch per step")
        self.learningRate = learningRate; self.schedule = schedule; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.adam = adam; self.maxGradNorm = maxGradNorm; self.gradientAccumulationSteps = gradientAccumulationSteps
    }
}
