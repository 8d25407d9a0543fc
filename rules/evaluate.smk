# Evaluation: one job per trained run; a metric change never retrains.


rule evaluate_lowdim:
    input:
        unpack(run_data_input),
        model=f"{RUN}/model.pt",
    output:
        metrics=f"{RUN}/metrics.json",
        provenance=f"{RUN}/eval_provenance.json",
    params:
        evaluation=config["evaluation"],
    log:
        run_log("evaluate_lowdim"),
    threads: 1
    resources:
        runtime=15,
        mem_mb=2000,
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/evaluate_lowdim.py"
