# Reproduction scorecard: every point of the original's published stats figures against our seed means
# (mimflow.core.scorecard; reference/published/README.md says where the published values come from).


localrules:
    fidelity_scorecard,


rule fidelity_scorecard:
    input:
        published=PUBLISHED_POINTS,
        summaries=[SUMMARY_TABLE.format(experiment=name) for name in SCORECARD_EXPERIMENTS],
        variant_summaries=[SUMMARY_TABLE.format(experiment=name) for name in SCORECARD_VARIANTS],
    output:
        table=SCORECARD_TABLE,
        summary=SCORECARD_SUMMARY,
        variants=SCORECARD_VARIANT_TABLE,
        figure=report(
            SCORECARD_FIGURE,
            caption="../report/scorecard_figure.rst",
            category="Reproduction vs paper",
            labels={"item": "scorecard figure"},
        ),
        html=report(
            SCORECARD_HTML,
            caption="../report/fidelity_scorecard.rst",
            category="Reproduction vs paper",
            labels={"item": "scorecard page"},
        ),
    params:
        code=stage_code("fidelity_scorecard"),  # the source its job runs
        experiments=SCORECARD_EXPERIMENTS,
        variants=SCORECARD_VARIANTS,
        planned=scorecard_planned(),
    log:
        job_log("fidelity_scorecard", "fidelity_scorecard"),
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/fidelity_scorecard.py"
