# Image experiments, one job per run and stage: train -> evaluate -> per-run figures; then the image table.
# Two-level conv/pixel HVAE, standard or VampPrior prior, VAE / SMIM / AMIM (GPU jobs unless images.device is cpu). Mirrors rules/lowdim.smk;
# a run's chain is one SLURM submission (group: image; ignored when run locally).


rule train_image:
    input:
        data=DATASET_FILE,
    output:
        model=f"{IMAGE_RUN_DIR}/model.pt",
        log_csv=f"{IMAGE_RUN_DIR}/train_log.csv",
        provenance=f"{IMAGE_RUN_DIR}/provenance.json",
    params:
        code=stage_code("train_image"),  # the source its job runs
        settings=image_settings,
        # Written every epoch beside the outputs (never deleted by Snakemake): a killed job resumes.
        resume=f"{IMAGE_RUN_DIR}/resume.pt",
        device=config["images"]["device"],
        jobs_per_gpu=config["images"]["jobs_per_gpu"],
        clustering_every=config["images"]["clustering_every"],
    log:
        job_log("train_image", IMAGE_RUN_NAME),
    group:
        "image"
    benchmark:
        job_benchmark("train_image", IMAGE_RUN_NAME)
    threads: config["images"]["threads"]
    resources:
        gpu=IMAGE_GPUS,
        runtime=4320,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/train_image.py"


rule evaluate_image:
    input:
        data=DATASET_FILE,
        model=f"{IMAGE_RUN_DIR}/model.pt",
    output:
        metrics=f"{IMAGE_RUN_DIR}/metrics.json",
        nll=f"{IMAGE_RUN_DIR}/test_nll.npy",
        provenance=f"{IMAGE_RUN_DIR}/eval_provenance.json",
    params:
        code=stage_code("evaluate_image"),  # the source its job runs
        evaluation=config["images"]["evaluation"],
        device=config["images"]["device"],
        jobs_per_gpu=config["images"]["jobs_per_gpu"],
    log:
        job_log("evaluate_image", IMAGE_RUN_NAME),
    group:
        "image"
    threads: config["images"]["threads"]
    resources:
        gpu=IMAGE_GPUS,
        runtime=720,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/evaluate_image.py"


rule image_figures:
    input:
        data=DATASET_FILE,
        model=f"{IMAGE_RUN_DIR}/model.pt",
    output:
        generations=report(
            f"{IMAGE_RUN_DIR}/generations.png",
            caption="../report/generations.rst",
            category="Image runs",
            subcategory="{dataset}: samples",
            labels=IMAGE_LABELS,
        ),
        real_recon=report(
            f"{IMAGE_RUN_DIR}/real_recon.png",
            caption="../report/real_recon.rst",
            category="Image runs",
            subcategory="{dataset}: reconstructions",
            labels=IMAGE_LABELS,
        ),
        real=report(
            f"{IMAGE_RUN_DIR}/real.png",
            caption="../report/real.rst",
            category="Image runs",
            subcategory="{dataset}: test images",
            labels=IMAGE_LABELS,
        ),
        reconstructions=report(
            f"{IMAGE_RUN_DIR}/reconstructions.png",
            caption="../report/reconstructions.rst",
            category="Image runs",
            subcategory="{dataset}: reconstructions",
            labels=IMAGE_LABELS,
        ),
        z_embed=report(
            f"{IMAGE_RUN_DIR}/z_embed.png",
            caption="../report/z_embed.rst",
            category="Image runs",
            subcategory="{dataset}: latent t-SNE",
            labels=IMAGE_LABELS,
        ),
    params:
        code=stage_code("image_figures"),  # the source its job runs
        figure_images=config["images"]["evaluation"]["figure_images"],
        device=config["images"]["device"],
        jobs_per_gpu=config["images"]["jobs_per_gpu"],
    log:
        job_log("image_figures", IMAGE_RUN_NAME),
    group:
        "image"
    threads: config["images"]["threads"]
    resources:
        gpu=IMAGE_GPUS,
        runtime=120,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/image_figures.py"


rule nll_histogram:
    input:
        nll=f"{IMAGE_RUN_DIR}/test_nll.npy",
        metrics=f"{IMAGE_RUN_DIR}/metrics.json",
    output:
        report(
            f"{IMAGE_RUN_DIR}/histogram_test.png",
            caption="../report/histogram_test.rst",
            category="Image runs",
            subcategory="{dataset}: test NLL histogram",
            labels=IMAGE_LABELS,
        ),
    params:
        code=stage_code("nll_histogram"),  # the source its job runs
    log:
        job_log("nll_histogram", IMAGE_RUN_NAME),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/nll_histogram.py"


rule pseudoinput_figure:
    input:
        model=f"{IMAGE_RUN_DIR}/model.pt",
    output:
        report(
            f"{IMAGE_RUN_DIR}/pseudoinputs.png",
            caption="../report/pseudoinputs.rst",
            category="Image runs",
            subcategory="{dataset}: pseudo-inputs",
            labels=IMAGE_LABELS,
        ),
    params:
        code=stage_code("pseudoinput_figure"),  # the source its job runs
    log:
        job_log("pseudoinput_figure", IMAGE_RUN_NAME),
    group:
        "image"
    wildcard_constraints:
        prior="vampprior",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/pseudoinput_figure.py"


rule image_showcase:
    # The seed README's picture of one dataset: the showcase models in rows (images.showcase), each with its
    # samples, reconstructions and latent t-SNE.
    input:
        unpack(showcase_inputs),
    output:
        report(SHOWCASE_FIGURE, caption="../report/image_showcase.rst", category="Image runs",
               subcategory="{dataset}: showcase", labels={"dataset": "{dataset}", "figure": "showcase"}),
    params:
        code=stage_code("image_showcase"),  # the source its job runs
        rows=config["images"]["showcase"]["rows"],
        prior=config["images"]["showcase"]["prior"],
        seed=config["images"]["showcase"]["seed"],
    log:
        job_log("image_showcase", "{dataset}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/image_showcase.py"


rule clustering_trajectory:
    # One run's clustering along training (images.clustering_every > 0): validation KNN, NMI, active units.
    input:
        logs=[f"{IMAGE_RUN_DIR}/train_log.csv"],
        provenance=[f"{IMAGE_RUN_DIR}/provenance.json"],
    output:
        report(f"{IMAGE_RUN_DIR}/clustering.png", caption="../report/clustering_trajectory.rst",
               category="Image runs", subcategory="{dataset}: clustering along training", labels=IMAGE_LABELS),
    params:
        code=stage_code("clustering_trajectories"),  # the source its job runs
        title="clustering along training: {dataset}, {arch}-{objective}, {prior} prior, seed {seed}",
    log:
        job_log("clustering_trajectory", IMAGE_RUN_NAME),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/clustering_trajectories.py"


rule clustering_trajectories:
    # MIM and VAE (every objective and seed of the grid) of one dataset, decoder and prior on the same axes.
    input:
        unpack(clustering_group_inputs),
    output:
        report(CLUSTERING_FIGURE, caption="../report/clustering_trajectories.rst", category="Image runs",
               subcategory="{dataset}: clustering along training",
               labels={"dataset": "{dataset}", "model": "{arch}", "prior": "{prior}", "figure": "clustering"}),
    params:
        code=stage_code("clustering_trajectories"),  # the source its job runs
        title="clustering along training: {dataset}, {arch}, {prior} prior",
    log:
        job_log("clustering_trajectories", "{dataset}_{arch}_{prior}"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/clustering_trajectories.py"


rule image_table:
    input:
        unpack(image_table_inputs),
    output:
        runs=report(TABLE.format(experiment="images"), caption="../report/image_table.rst", category="Tables",
                    labels={"experiment": "images", "table": "every run (CSV)"}),
        summary=SUMMARY_TABLE.format(experiment="images"),
        page=report(SUMMARY_PAGE.format(experiment="images"), caption="../report/image_table.rst",
                    category="Tables", labels={"experiment": "images", "table": "mean ± std over seeds"}),
    params:
        code=stage_code("image_table"),  # the source its job runs
    log:
        job_log("image_table", "images"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/image_table.py"
