// Learning-rate schedules as diffusers' get_scheduler builds them (a LambdaLR multiplier on
// the base rate, evaluated at the number of optimiser steps taken so far).

import Foundation

public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable {
    case constant
    case constantWithWarmup = "constant_with_warmup"
    case linear
    case cosine

    /// The multiplier of the base learning rate at `step` (0-based: the first update uses 0).
    /// cosine is diffusers' get_cosine_schedule_with_warmup with num_cycles = 0.5.
    public func multiplier(step: Int, warmupSteps: Int, totalSteps: Int) -> Double {
        let s = Double(step), w = Double(warmupSteps), t = Double(totalSteps)
        if self != .constant, step < warmupSteps { return s / max(1, w) }
        switch self {
        case .constant, .constantWithWarmup:
            return 1
        case .linear:
            return max(0, (t - s) / max(1, t - w))
        case .cosine:
            let progress = (s - w) / max(1, t - w)
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }

    public func learningRate(base: Float, step: Int, warmupSteps: Int, totalSteps: Int) -> Float {
        Float(Double(base) * multiplier(step: step, warmupSteps: warmupSteps, totalSteps: totalSteps))
    }
}
