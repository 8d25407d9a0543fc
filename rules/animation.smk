# Animations: GIFs of training, one per (dataset, model), and the side-by-side panels.


rule animation_gif:
    input:
        unpack(animation_gif_inputs),
    output:
        report(
            ANIMATION_GIF,
            caption="../report/animation.rst",
            category="Animations",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "dataset": "{dataset}", "model": "{model}"},
        ),
    params:
        code=stage_code("animation_gif"),  # the source its job runs
        plots=plot_settings("animation_dpi", "animation_fps", "run_points", "run_show_points", "run_ksg_points"),
        density_plane=config["fidelity"]["density_plane"],
    log:
        job_log("animation_gif", "{experiment}/{dataset}_{model}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/animation_gif.py"


rule animation_side_by_side:
    input:
        side_by_side_inputs,
    output:
        report(
            SIDE_BY_SIDE_GIF,
            caption="../report/animation_side_by_side.rst",
            category="Animations",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "dataset": "all", "model": "{panels}"},
        ),
    params:
        code=stage_code("animation_side_by_side"),  # the source its job runs
        fps=config["plots"]["animation_fps"],
    log:
        job_log("animation_side_by_side", "{experiment}/{panels}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/animation_side_by_side.py"
