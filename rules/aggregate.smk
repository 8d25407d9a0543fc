# Tidy tables over runs and seeds (pandas).


rule experiment_table:
    input:
        experiment_table_inputs,
    output:
        runs="results/tables/{experiment}.csv",
        summary="results/tables/{experiment}_summary.csv",
    log:
        "results/logs/experiment_table/{experiment}.log",
    conda:
        "../envs/mimflow.yaml"
    script:
        "../workflow_scripts/experiment_table.py"
