/// The keys of each recipe section, and hints for keys people bring from other tools.
enum RecipeSchema {
    static let top = ["version", "method", "base_model", "dry_run", "subject", "subjects", "captions",
                      "prior_preservation", "train", "lora", "samples", "outputs"]
    static let subject = ["token", "class", "initializer", "vectors", "instance_prompt", "class_prompt",
                          "folder", "class_folder"]
    static let captions = ["use_files", "template"]
    static let priorPreservation = ["enabled", "weight", "class_images"]
    static let train = ["steps", "resolution", "batch_size", "gradient_accumulation", "learning_rate", "lr_schedule",
                        "warmup_steps", "seed", "train_text_encoder", "checkpoint_every", "center_crop", "random_flip",
                        "max_grad_norm", "noise_offset", "min_snr_gamma", "gradient_checkpointing", "full_fine_tune", "buckets"]
    static let lora = ["rank", "alpha", "targets", "dropout"]
    static let samples = ["prompts", "negative_prompt", "seeds", "steps", "sampler", "karras", "guidance", "every",
                          "size", "compare_base", "rng"]
    static let outputs = ["formats"]

    static let sections: [(name: String, keys: [String])] = [
        ("", top), ("subject", subject), ("captions", captions), ("prior_preservation", priorPreservation),
        ("train", train), ("lora", lora), ("samples", samples), ("outputs", outputs),
    ]

    /// Names from the diffusers training scripts and kohya's sd-scripts, and options that are
    /// deliberately not offered, with what to write instead.
    static let foreignKeys: [String: String] = [
        "pretrained_model_name_or_path": "use `base_model` with a name from the service's model registry",
        "model": "did you mean `base_model`?",
        "max_train_steps": "in a dropbooth recipe this is `train.steps`",
        "num_train_epochs": "dropbooth counts `train.steps`, not epochs",
        "train_batch_size": "in a dropbooth recipe this is `train.batch_size`",
        "gradient_accumulation_steps": "in a dropbooth recipe this is `train.gradient_accumulation`",
        "lr": "in a dropbooth recipe this is `train.learning_rate`",
        "lr_scheduler": "in a dropbooth recipe this is `train.lr_schedule`",
        "lr_warmup_steps": "in a dropbooth recipe this is `train.warmup_steps`",
        "checkpointing_steps": "in a dropbooth recipe this is `train.checkpoint_every`",
        "with_prior_preservation": "in a dropbooth recipe this is `prior_preservation.enabled`",
        "prior_loss_weight": "in a dropbooth recipe this is `prior_preservation.weight`",
        "num_class_images": "in a dropbooth recipe this is `prior_preservation.class_images`",
        "placeholder_token": "in a dropbooth recipe this is `subject.token`",
        "initializer_token": "in a dropbooth recipe this is `subject.initializer`",
        "num_vectors": "in a dropbooth recipe this is `subject.vectors`",
        "class_data_dir": "in a dropbooth recipe this is `subject.class_folder`",
        "instance_data_dir": "images come from the job folder; `subject.folder` names a subfolder",
        "enable_bucket": "in a dropbooth recipe this is `train.buckets`",
        "network_dim": "in a dropbooth recipe this is `lora.rank`",
        "network_alpha": "in a dropbooth recipe this is `lora.alpha`",
        "num_inference_steps": "in a dropbooth recipe this is `samples.steps`",
        "guidance_scale": "in a dropbooth recipe this is `samples.guidance`",
        "validation_prompt": "in a dropbooth recipe this is `samples.prompts`",
        "output_dir": "results always go to the outbox; remove this key",
        "mixed_precision": "mixed precision is not offered: dropbooth trains in float32 on the CPU; remove this key",
        "use_8bit_adam": "8-bit Adam is a GPU memory saving and is not offered; remove this key",
        "enable_xformers_memory_efficient_attention": "xformers is a GPU library; remove this key",
    ]

    /// Hints for unknown keys in `section`: foreign names, and known keys of other sections
    /// ("`steps` belongs under `train:`").
    static func hints(for section: String) -> [String: String] {
        var hints = foreignKeys
        for (name, keys) in sections where name != section {
            for key in keys where hints[key] == nil {
                hints[key] = name.isEmpty ? "`\(key)` belongs at the top level of the recipe" : "`\(key)` belongs under `\(name):`"
            }
        }
        // A key valid in this section (e.g. `steps` in samples) must not get a hint.
        for (name, keys) in sections where name == section { for key in keys { hints[key] = nil } }
        return hints
    }
}
