# Low-dimensional experiments, one job per run and stage: train -> evaluate -> per-run figures;
# then a table per experiment and its stats figures. rules/images.smk mirrors this file.


rule train_lowdim:
    input:
        unpack(run_data_input),
    output:
        model=f"{RUN_DIR}/model.pt",
        log_csv=f"{RUN_DIR}/train_log.csv",
        provenance=f"{RUN_DIR}/provenance.json",
        epoch_states=f"{RUN_DIR}/epoch_states.pt",
    params:
        settings=run_settings,
        record_epochs=lambda wc: "animation" in experiment_figures(wc.experiment),
        # Resume state lives beside the outputs, not among them, so Snakemake never deletes it.
        resume=f"{RUN_DIR}/resume.pt",
    log:
        job_log("train_lowdim", RUN_NAME),
    benchmark:
        job_benchmark("train_lowdim", RUN_NAME)
    threads: 1
    resources:
        # minutes; a retry after a time-out gets proportionally more (and resumes from resume.pt)
        runtime=lambda wc, attempt: config["job_runtime_min"]["train_lowdim"] * attempt,
        mem_mb=1000,
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/train_lowdim.py"


rule evaluate_lowdim:
    input:
        unpack(run_data_input),
        model=f"{RUN_DIR}/model.pt",
    output:
        metrics=f"{RUN_DIR}/metrics.json",
        provenance=f"{RUN_DIR}/eval_provenance.json",
    params:
        evaluation=config["evaluation"],
    log:
        job_log("evaluate_lowdim", RUN_NAME),
    threads: 1
    resources:
        runtime=15,
        mem_mb=2000,
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/evaluate_lowdim.py"


rule run_figures:
    input:
        model=f"{RUN_DIR}/model.pt",
    output:
        reconstruction=report(
            f"{RUN_DIR}/reconstruction.png",
            caption="../report/reconstruction.rst",
            category="Per-run plots",
            subcategory="{experiment}: reconstructions",
            labels={
                "experiment": "{experiment}",
                "dataset": "{dataset}",
                "model": "{model}",
                "dim": "z{z_dim}-h{mid_dim}",
                "seed": "{seed}",
            },
        ),
        grid=report(
            f"{RUN_DIR}/grid.png",
            caption="../report/grid.rst",
            category="Per-run plots",
            subcategory="{experiment}: model samples",
            labels={
                "experiment": "{experiment}",
                "dataset": "{dataset}",
                "model": "{model}",
                "dim": "z{z_dim}-h{mid_dim}",
                "seed": "{seed}",
            },
        ),
    params:
        plots=plot_settings("run_dpi", "run_points", "run_show_points", "run_ksg_points"),
        density_plane=config["fidelity"]["density_plane"],
    log:
        job_log("run_figures", RUN_NAME),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/run_figures.py"


rule experiment_table:
    input:
        unpack(experiment_table_inputs),
    output:
        runs=TABLE,
        summary=SUMMARY_TABLE,
    log:
        job_log("experiment_table", "{experiment}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/experiment_table.py"


rule stats_figure:
    input:
        summary=SUMMARY_TABLE,
        published=PUBLISHED_POINTS,  # the points read off the original's figures
    output:
        report(
            STATS_FIGURE,
            caption="../report/stats_figure.rst",
            category="Stats figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "metric": "{metric}"},
        ),
    params:
        dpi=config["plots"]["stats_dpi"],
    log:
        job_log("stats_figure", "{experiment}/{metric}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/stats_figure.py"
