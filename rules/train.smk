# Training: one job per (experiment, dataset, model, z_dim, mid_dim, seed).


rule train_lowdim:
    input:
        unpack(run_data_input),
    output:
        model=f"{RUN}/model.pt",
        log_csv=f"{RUN}/train_log.csv",
        provenance=f"{RUN}/provenance.json",
        epoch_states=f"{RUN}/epoch_states.pt",
    params:
        settings=run_settings,
        record_epochs=lambda wc: "animation" in experiment_figures(wc.experiment),
        # Resume state lives beside the outputs, not among them, so Snakemake never deletes it.
        resume=f"{RUN}/resume.pt",
    log:
        run_log("train_lowdim"),
    benchmark:
        "results/benchmarks/train_lowdim/{experiment}/{dataset}/{model}/z{z_dim}-h{mid_dim}/seed{seed}.tsv"
    threads: 1
    resources:
        # minutes; a retry after a time-out gets proportionally more (and resumes from resume.pt)
        runtime=lambda wc, attempt: config["job_runtime_min"]["train_lowdim"] * attempt,
        mem_mb=1000,
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/train_lowdim.py"
