"""Orchestration cost per 1,000 images, Express vs Standard, from the template and a measured run.

Reads the settings that drive cost from ``template.yaml`` (memory and architecture of each
function, the poll interval and cap, the workflow type, the intake batch size), runs a small,
realistic set of uploads through the local runner (engine on loopback, the template's stack in
moto, the real state machine, the real handlers in-process) and counts what AWS would bill:
Lambda invocations and their durations, state transitions, Express execution time, SQS,
DynamoDB and S3 requests, API requests. Then prices them at list prices and writes
``docs/cost.md``.

    .venv/bin/python bench/cost.py [--images 12] [--quick] [--workflow-type EXPRESS|STANDARD]
                                   [--engine-qps 0] [--output docs/cost.md]
    (or: .venv/bin/python -m bench.cost ...)

Takes about 40 s for the default 12 uploads on 2 cores (--quick: ~20 s).

Modules: prices (the price table, a source per price), settings (the template's settings, read
with correction_local.template), instrument (counting through the runner's public hooks), run
(the measured run), model (the pricing model, pure functions), report (docs/cost.md).
Nothing here is typed by hand except the price table; every count comes from the run.
"""
