# Raw data (checksummed downloads) -> dataset tensors (image datasets, PCA Fashion-MNIST).


rule download:
    output:
        "resources/raw/{source}/{filename}",
    params:
        # Only the checksums: a changed mirror list or timeout never refetches a verified file.
        checksums=lambda wc: {k: v for k, v in remote_entry(config, wc.source, wc.filename).items() if k != "urls"},
    log:
        "results/logs/download/{source}/{filename}.log",
    resources:
        downloads=1,
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/download.py"


rule build_mnist_like:
    input:
        lambda wc: raw_files(config, IMAGE_DATASETS[wc.image_dataset]),
    output:
        "resources/datasets/{image_dataset}.pt",
    params:
        n_validation=config["data"]["mnist_validation"],
        binarize_seed=config["data"]["binarize_seed"],
    log:
        "results/logs/build_dataset/{image_dataset}.log",
    wildcard_constraints:
        image_dataset="dynamic_mnist|dynamic_fashion_mnist",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_image_dataset.py"


rule build_omniglot:
    input:
        raw_files(config, "omniglot"),
    output:
        "resources/datasets/omniglot.pt",
    params:
        n_validation=config["data"]["omniglot_validation"],
        binarize_seed=config["data"]["binarize_seed"],
        shuffle_seed=config["data"]["omniglot_shuffle_seed"],
    log:
        "results/logs/build_dataset/omniglot.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_image_dataset.py"


rule build_pca_dataset:
    input:
        raw_files(config, "fashion_mnist"),
    output:
        "resources/datasets/pca-fashion-mnist{k}-{fit}.pt",
    log:
        "results/logs/build_dataset/pca-fashion-mnist{k}-{fit}.log",
    wildcard_constraints:
        k=r"[1-9]\d*",
        fit="per_split|train",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_pca_dataset.py"
