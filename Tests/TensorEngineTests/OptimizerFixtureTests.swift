import Testing
import TensorEngine
import TestSupport

@Suite struct OptimizerFixtureTests {
    /// Three steps of clip_grad_norm_(max_norm 1) + AdamW(weight_decay 0.01) with changing lr.
    /// rtol 1e-5 on parameters (a handful of float ops each), 1e-5 on norms.
    @Test func adamWWithClippingMatchesPyTorch() throws {
        let f = try opFixture("adamw")
        let lrs = try f.meta("lrs").split(separator: ",").map { Float($0)! }
        let p = [try f.tensor("p0_initial", requiresGrad: true), try f.tensor("p1_initial", requiresGrad: true)]
        let opt = AdamW(parameters: p, hyperparameters: .init(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: try f.metaFloat("weight_decay")))
        let expectedNorms = try f.floats("norms")
        for (step, lr) in lrs.enumerated() {
            for i in 0..<2 { p[i].grad = try f.tensor("grad_step\(step)_p\(i)") }
            let norm = clipGradientNorm(p, maxNorm: try f.metaFloat("max_norm"))
            expectClose([norm], [expectedNorms[step]], rtol: 1e-5, atol: 1e-6, "norm at step \(step)")
            opt.update(lr: lr)
        }
        expectClose(p[0].scalars, try f.floats("p0_final"), rtol: 1e-5, atol: 1e-6, "p0 after 3 steps")
        expectClose(p[1].scalars, try f.floats("p1_final"), rtol: 1e-5, atol: 1e-6, "p1 after 3 steps")
        #expect(opt.step == 3)
    }

    @Test(arguments: LearningRateSchedule.allCases)
    func scheduleMatchesDiffusers(schedule: LearningRateSchedule) throws {
        let f = try opFixture("lr_schedules")
        let expected = try f.floats(schedule.rawValue)
        let (warmup, total) = (try f.metaInt("warmup_steps"), try f.metaInt("total_steps"))
        let values = (0..<expected.count).map { Float(schedule.multiplier(step: $0, warmupSteps: warmup, totalSteps: total)) }
        expectClose(values, expected, rtol: 1e-6, atol: 1e-7, "\(schedule.rawValue) multipliers")
    }

    /// Resuming from saved moments and step continues exactly where an uninterrupted run goes.
    @Test func adamWResumesFromSavedState() {
        func run(steps: Int, from opt: AdamW? = nil) -> AdamW {
            let o = opt ?? AdamW(parameters: [Tensor([1, -2, 3], shape: [3])])
            for s in 0..<steps {
                o.parameters[0].grad = Tensor([0.1 * Float(s + 1), -0.2, 0.05], shape: [3])
                o.update(lr: 0.01)
            }
            return o
        }
        let straight = run(steps: 4)
        let first = run(steps: 2)
        let resumed = AdamW(parameters: [first.parameters[0].copy()])
        resumed.restore(step: first.step, firstMoments: first.firstMoments.map(\.scalars), secondMoments: first.secondMoments.map(\.scalars))
        // Continue with the same gradients steps 3 and 4 would have had.
        for s in 2..<4 {
            resumed.parameters[0].grad = Tensor([0.1 * Float(s + 1), -0.2, 0.05], shape: [3])
            resumed.update(lr: 0.01)
        }
        #expect(resumed.parameters[0].scalars == straight.parameters[0].scalars)
    }
}
