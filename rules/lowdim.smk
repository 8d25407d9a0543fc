# Low-dimensional experiments. A seed group (every seed of one experiment, dataset, model, z_dim and
# mid_dim) is one job per stage: train (the seeds as one stacked model) -> evaluate -> per-run figures;
# each run keeps its own folder and files. Then a table per experiment and its stats figures.
# A rule's outputs cannot vary with a wildcard, so the group rules (train_lowdim, evaluate_lowdim,
# run_figures) serve the global seed list, and the "_one_run" rules build every other run path on its own
# (a seed outside the list, or an experiment with a seed list of its own). The rule names are the same
# for every config. A group's chain is one SLURM submission (group: lowdim; ignored when run locally).
# rules/images.smk mirrors this file.


for suffix, seeds, constraints in LOWDIM_RULE_VARIANTS:

    rule:
        name:
            f"train_lowdim{suffix}"
        input:
            unpack(run_data_input),
        output:
            model=lowdim_run_files(seeds, "model.pt"),
            log_csv=lowdim_run_files(seeds, "train_log.csv"),
            provenance=lowdim_run_files(seeds, "provenance.json"),
            epoch_states=lowdim_run_files(seeds, "epoch_states.pt"),
        params:
            code=stage_code("train_lowdim"),  # the source its job runs
            settings=group_settings,
            seeds=job_seeds,
            record_epochs=lambda wc: "animation" in experiment_figures(wc.experiment),
            # Resume states live beside the outputs, not among them, so Snakemake never deletes them.
            resume=lowdim_run_files(seeds, "resume.pt"),
            device=config["lowdim_device"],
        log:
            job_log("train_lowdim", GROUP_NAME if seeds is not None else RUN_NAME),
        group:
            "lowdim"
        benchmark:
            job_benchmark("train_lowdim", GROUP_NAME if seeds is not None else RUN_NAME)
        wildcard_constraints:
            **constraints,
        threads: 1
        resources:
            # minutes; a retry after a time-out gets proportionally more (and resumes from resume.pt)
            runtime=lambda wc, attempt: config["job_runtime_min"]["train_lowdim"] * attempt,
            mem_mb=2000,
            gpu=0 if config["lowdim_device"] == "cpu" else 1,
        conda:
            "../envs/mimflow.yaml"
        script:
            "../workflow_scripts/train_lowdim.py"

    rule:
        name:
            f"evaluate_lowdim{suffix}"
        input:
            unpack(run_data_input),
            model=lowdim_run_files(seeds, "model.pt"),
        output:
            metrics=lowdim_run_files(seeds, "metrics.json"),
            provenance=lowdim_run_files(seeds, "eval_provenance.json"),
        params:
            code=stage_code("evaluate_lowdim"),  # the source its job runs
            evaluation=config["evaluation"],
        log:
            job_log("evaluate_lowdim", GROUP_NAME if seeds is not None else RUN_NAME),
        group:
            "lowdim"
        wildcard_constraints:
            **constraints,
        threads: 1
        resources:
            runtime=30,
            mem_mb=2000,
        conda:
            "../envs/mimflow.yaml"
        script:
            "../workflow_scripts/evaluate_lowdim.py"

    rule:
        name:
            f"run_figures{suffix}"
        input:
            unpack(run_data_input),
            model=lowdim_run_files(seeds, "model.pt"),
        output:
            reconstruction=run_figure_outputs(seeds, "reconstruction.png", "../report/reconstruction.rst",
                                              "{experiment}: reconstructions"),
            grid=run_figure_outputs(seeds, "grid.png", "../report/grid.rst", "{experiment}: model samples"),
        params:
            code=stage_code("run_figures"),  # the source its job runs
            plots=plot_settings("run_dpi", "run_points", "run_show_points", "run_ksg_points"),
            density_plane=config["fidelity"]["density_plane"],
            x_backdrop=x_backdrop,  # for the captions
        log:
            job_log("run_figures", GROUP_NAME if seeds is not None else RUN_NAME),
        group:
            "lowdim"
        wildcard_constraints:
            **constraints,
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
        page=report(
            SUMMARY_PAGE,
            caption="../report/summary_table.rst",
            category="Tables",
            labels={"experiment": "{experiment}", "table": "mean ± std over seeds"},
        ),
    params:
        code=stage_code("experiment_table"),  # the source its job runs
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
        code=stage_code("stats_figure"),  # the source its job runs
        dpi=config["plots"]["stats_dpi"],
    log:
        job_log("stats_figure", "{experiment}/{metric}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/stats_figure.py"
