# Figures: stats over seeds, per-run 2-D plots, animations; every figure is in the report.


rule stats_figure:
    input:
        "results/tables/{experiment}_summary.csv",
    output:
        report(
            "results/figures/{experiment}/{metric}.png",
            caption="../report/stats_figure.rst",
            category="Stats figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "metric": "{metric}"},
        ),
    params:
        dpi=config["plots"]["stats_dpi"],
    log:
        "results/logs/stats_figure/{experiment}/{metric}.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/stats_figure.py"


rule run_figures:
    input:
        model=f"{RUN}/model.pt",
    output:
        reconstruction=report(
            f"{RUN}/reconstruction.png",
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
            f"{RUN}/grid.png",
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
    log:
        run_log("run_figures"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/run_figures.py"


rule animation_gif:
    input:
        unpack(animation_gif_inputs),
    output:
        report(
            "results/figures/{experiment}/{dataset}_{model}.gif",
            caption="../report/animation.rst",
            category="Animations",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "dataset": "{dataset}", "model": "{model}"},
        ),
    params:
        plots=plot_settings("animation_dpi", "animation_fps", "run_points", "run_show_points", "run_ksg_points"),
    log:
        "results/logs/animation_gif/{experiment}/{dataset}_{model}.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/animation_gif.py"


rule animation_side_by_side:
    input:
        side_by_side_inputs,
    output:
        report(
            "results/figures/{experiment}/{panels}.gif",
            caption="../report/animation_side_by_side.rst",
            category="Animations",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "dataset": "all", "model": "{panels}"},
        ),
    params:
        fps=config["plots"]["animation_fps"],
    log:
        "results/logs/animation_side_by_side/{experiment}/{panels}.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/animation_side_by_side.py"
