# Image experiments: two-level conv/pixel HVAE, standard or VampPrior prior, VAE / SMIM / AMIM (GPU jobs).


rule train_image:
    input:
        data="resources/datasets/{dataset}.pt",
    output:
        model=f"{IMAGE_RUN}/model.pt",
        log_csv=f"{IMAGE_RUN}/train_log.csv",
        provenance=f"{IMAGE_RUN}/provenance.json",
    params:
        settings=image_settings,
        # Written every epoch beside the outputs (never deleted by Snakemake): a killed job resumes.
        resume=f"{IMAGE_RUN}/resume.pt",
    log:
        f"results/logs/train_image/{IMAGE_RUN_NAME}.log",
    benchmark:
        f"results/benchmarks/train_image/{IMAGE_RUN_NAME}.tsv"
    threads: config["images"]["threads"]
    resources:
        gpu=1,
        runtime=4320,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/train_image.py"


rule evaluate_image:
    input:
        data="resources/datasets/{dataset}.pt",
        model=f"{IMAGE_RUN}/model.pt",
    output:
        metrics=f"{IMAGE_RUN}/metrics.json",
        nll=f"{IMAGE_RUN}/test_nll.npy",
        provenance=f"{IMAGE_RUN}/eval_provenance.json",
    params:
        evaluation=config["images"]["evaluation"],
    log:
        f"results/logs/evaluate_image/{IMAGE_RUN_NAME}.log",
    threads: config["images"]["threads"]
    resources:
        gpu=1,
        runtime=720,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/evaluate_image.py"


rule image_figures:
    input:
        data="resources/datasets/{dataset}.pt",
        model=f"{IMAGE_RUN}/model.pt",
    output:
        generations=report(
            f"{IMAGE_RUN}/generations.png",
            caption="../report/generations.rst",
            category="Image runs",
            subcategory="{dataset}: samples",
            labels=IMAGE_LABELS,
        ),
        real_recon=report(
            f"{IMAGE_RUN}/real_recon.png",
            caption="../report/real_recon.rst",
            category="Image runs",
            subcategory="{dataset}: reconstructions",
            labels=IMAGE_LABELS,
        ),
        z_embed=report(
            f"{IMAGE_RUN}/z_embed.png",
            caption="../report/z_embed.rst",
            category="Image runs",
            subcategory="{dataset}: latent t-SNE",
            labels=IMAGE_LABELS,
        ),
    params:
        figure_images=config["images"]["evaluation"]["figure_images"],
    log:
        f"results/logs/image_figures/{IMAGE_RUN_NAME}.log",
    threads: config["images"]["threads"]
    resources:
        gpu=1,
        runtime=120,
        mem_mb=config["images"]["mem_mb"],
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/image_figures.py"


rule pseudoinput_figure:
    input:
        model=f"{IMAGE_RUN}/model.pt",
    output:
        report(
            f"{IMAGE_RUN}/pseudoinputs.png",
            caption="../report/pseudoinputs.rst",
            category="Image runs",
            subcategory="{dataset}: pseudo-inputs",
            labels=IMAGE_LABELS,
        ),
    log:
        f"results/logs/pseudoinput_figure/{IMAGE_RUN_NAME}.log",
    wildcard_constraints:
        prior="vampprior",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/pseudoinput_figure.py"


rule image_table:
    input:
        image_metrics,
    output:
        runs="results/tables/images.csv",
        summary="results/tables/images_summary.csv",
    log:
        "results/logs/image_table/images.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/image_table.py"
