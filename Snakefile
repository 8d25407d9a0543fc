# mimflow: every experiment of "MIM: Mutual Information Machine" (Livne, Swersky, Fleet, 2019) as a DAG.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/lowdim.smk"
include: "rules/animation.smk"
include: "rules/images.smk"
include: "rules/scorecard.smk"


# Cheap bookkeeping and downloads run on the submitting host (compute nodes may have no internet).
localrules:
    all,
    download,
    experiment_table,
    image_table,
    stats_figure,
    animation_gif,
    animation_side_by_side,


rule all:
    input:
        all_targets(),
    default_target: True


check_report_targets()
